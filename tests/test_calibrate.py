"""`planner calibrate`: result readers, the refit, the overlay and `--calibration`, bad inputs.

The example result files in tests/data/ are built by hand in the documented formats (see
tests/data/README.md); their numbers are illustrative, not measurements.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date
from pathlib import Path

import pytest

from planner import api
from planner.perf import fit
from planner.perf.bench_results import read_runs
from planner.perf.calibration import predict
from planner.perf.estimate import Deployment, check_deployment
from planner.perf.measurements import Case
from planner.perf.recalibrate import DEPLOYMENT_KEYS

DATA = Path(__file__).resolve().parent / "data"
VLLM_QPS = DATA / "vllm_h100_qps4.json"
VLLM_CONC = DATA / "vllm_h100_c32.json"
GUIDELLM = DATA / "guidellm_a100.json"
H100_OPTS = ["--gpu", "h100", "--precision", "bf16", "--tp", "1"]


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


def test_vllm_open_loop_result_is_one_qps_run():
    """vllm_h100_qps4.json: request_rate 4.0, max_concurrency null -> mode qps at 4 requests/s.
    Mean lengths: 409,600 input tokens / 400 completed = 1,024; 51,200 / 400 = 128. Kept: mean TTFT
    51.8 ms and mean TPOT 10.9 ms; not the output throughput (at a fixed rate it is 4 x 128 tokens/s
    whatever the deployment). The file names no GPU: `meta` is empty."""
    (run,) = read_runs(VLLM_QPS, DEPLOYMENT_KEYS)
    assert (run.mode, run.qps, run.concurrency) == ("qps", 4.0, None)
    assert (run.input_tokens, run.output_tokens) == (1024, 128)
    assert run.metrics == {"ttft_ms": 51.8, "tpot_ms": 10.9}
    assert run.model_id == "meta-llama/Llama-3.1-8B-Instruct"
    assert run.meta == {}


def test_vllm_closed_loop_result_carries_its_metadata():
    """vllm_h100_c32.json: request_rate "inf" with max_concurrency 32 -> concurrency 32; all three
    metrics kept (output_throughput 1,560.3 tokens/s); `--metadata gpu=... precision=... tp=1
    engine=...` keys sit at the top level as strings."""
    (run,) = read_runs(VLLM_CONC, DEPLOYMENT_KEYS)
    assert (run.mode, run.qps, run.concurrency) == ("concurrency", None, 32)
    assert run.metrics == {"ttft_ms": 57.4, "tpot_ms": 20.1, "output_throughput_tokens_per_s_total": 1560.3}
    assert run.meta == {"gpu": "H100-SXM-80GB", "precision": "bf16", "tp": "1", "engine": "vllm-0.11.0"}


def test_guidellm_report_gives_one_run_per_benchmark():
    """guidellm_a100.json: strategies synchronous, concurrent (16 streams), constant (2.0/s) and
    throughput -> single, concurrency 16, qps 2.0, max. Lengths are the means of
    prompt_token_count and output_token_count (512 and 256); TPOT is inter_token_latency_ms (first
    token excluded, as vLLM's TPOT). The max-throughput run keeps only output tokens/s (3,105)."""
    runs = read_runs(GUIDELLM, DEPLOYMENT_KEYS)
    assert [(r.mode, r.qps, r.concurrency) for r in runs] == [
        ("single", None, None), ("concurrency", None, 16), ("qps", 2.0, None), ("max", None, None)]
    assert {(r.input_tokens, r.output_tokens) for r in runs} == {(512, 256)}
    assert runs[0].metrics == {"ttft_ms": 44.6, "tpot_ms": 14.1, "output_throughput_tokens_per_s_total": 69.8}
    assert runs[2].metrics == {"ttft_ms": 62.0, "tpot_ms": 18.2}
    assert runs[3].metrics == {"output_throughput_tokens_per_s_total": 3105.0}
    assert {r.model_id for r in runs} == {"Qwen/Qwen2.5-7B-Instruct"}
    assert [r.where for r in runs] == [f"benchmarks[{i}]" for i in range(4)]


def test_guidellm_v03_report_keeps_its_strategy_under_args(tmp_path):
    """GuideLLM v0.3 reports put the strategy at benchmarks[].args.strategy (v0.4 and later:
    config.strategy) and the model at worker.backend_model: the same run is read from either."""
    report = json.loads(GUIDELLM.read_text())
    bench = report["benchmarks"][1]
    old = {"type_": "generative_benchmark", "args": {"strategy": bench["config"]["strategy"]},
           "worker": {"backend_model": "Qwen/Qwen2.5-7B-Instruct"}, "metrics": bench["metrics"]}
    path = tmp_path / "v03.json"
    path.write_text(json.dumps({"benchmarks": [old]}))
    (run,) = read_runs(path, DEPLOYMENT_KEYS)
    (new,) = [r for r in read_runs(GUIDELLM, DEPLOYMENT_KEYS) if r.where == "benchmarks[1]"]
    assert (run.mode, run.concurrency, run.metrics, run.model_id) == (new.mode, new.concurrency, new.metrics,
                                                                      new.model_id)


def test_vllm_append_result_file_is_one_run_per_line(tmp_path):
    """`--append-result` writes one JSON object per line: two lines, two runs, each at its line."""
    one = json.loads(VLLM_QPS.read_text())
    two = {**one, "request_rate": 8.0}
    path = tmp_path / "appended.json"
    path.write_text(json.dumps(one) + "\n" + json.dumps(two) + "\n")
    runs = read_runs(path, DEPLOYMENT_KEYS)
    assert [(r.line, r.qps) for r in runs] == [(1, 4.0), (2, 8.0)]


# ---------------------------------------------------------------------------------------------
# The refit
# ---------------------------------------------------------------------------------------------


def _synthetic_cases(cat, true_eff):
    """Single-stream rows on H100 (hopper), measured = the model's prediction with `true_eff`:
    TPOT of four model sizes (memory-bound decode: weights / (bandwidth x bw_eff) + overhead, so
    sizes separate bw_eff from the overhead) and TTFT of 4,096-token prompts (compute-bound:
    prefill_mfu)."""
    cases = []
    gpu = cat.gpu("h100")
    for model in ("llama-3.2-1b", "llama-3.1-8b", "qwen2.5-14b", "qwen2.5-32b"):
        d = Deployment(cat.model(model), gpu, cat.precision("bf16"), cat.precision("bf16"))
        check_deployment(d)
        for metric, inp, out in (("tpot_ms", 128, 256), ("ttft_ms", 4096, 1)):
            c = Case(1, f"{model} {metric}", d, metric, 1.0, "single", 1, None, inp, out, 1)
            cases.append(dataclasses.replace(c, measured=predict(c, true_eff)))
    return cases


def test_refit_recovers_known_factors(cat):
    """Rows generated with bw_eff 0.55, prefill_mfu 0.50 and 1.60 ms per step (hopper ships 0.6906,
    0.6885 and 1.015) are refitted from the shipped factors: the fit moves each factor towards the
    one that made the rows and lands within 2 % of it (the grid's last step is about 0.4 %), and
    the error on the rows falls from over 10 % to under 1 %."""
    shipped = cat.efficiency_for(cat.gpu("h100"))
    true = dataclasses.replace(shipped, bw_eff=0.55, prefill_mfu=0.50, step_overhead_ms=1.6)
    cases = _synthetic_cases(cat, true)
    (family, (before, after, n)), = fit.refit(cases, cat.efficiency_for).items()
    assert (family, n, before) == ("hopper", 8, shipped)
    assert after.bw_eff == pytest.approx(0.55, rel=0.02)
    assert after.prefill_mfu == pytest.approx(0.50, rel=0.02)
    assert after.step_overhead_ms == pytest.approx(1.6, rel=0.02)
    assert fit.loss(cases, before) > 0.10 > 0.01 > fit.loss(cases, after)


def test_calibrate_prints_error_before_and_after(run_cli, tmp_path):
    """On the three example files: the error table lists every metric and overall, and the refit
    lowers the overall median error (the rows are not those of the shipped calibration set)."""
    out = tmp_path / "factors.csv"
    code, stdout, stderr = run_cli(["calibrate", VLLM_QPS, VLLM_CONC, GUIDELLM, *H100_OPTS, "--out", out,
                                    "--today", "2026-12-01", "--format", "json"])
    assert code == 0, stderr
    rec = json.loads(stdout)
    assert set(rec["families"]) == {"ampere", "hopper"}
    assert {r["row"].split(" (")[0] for r in rec["rows"]} >= {str(VLLM_QPS), str(VLLM_CONC)}
    before, after = rec["error"]["before"], rec["error"]["after"]
    assert set(before["metrics"]) == {"ttft_ms", "tpot_ms", "output_throughput_tokens_per_s_total"}
    assert after["overall"]["median_ape"] < before["overall"]["median_ape"]
    assert rec["written"] == str(out)
    code, table, _ = run_cli(["calibrate", VLLM_QPS, *H100_OPTS])
    assert code == 0 and "median before" in table and "overall" in table and "no overlay written" in table


def test_calibrate_on_the_shipped_measurements_keeps_the_shipped_factors(run_cli, tmp_path):
    """`planner calibrate catalog/measured/calibration.csv` runs the shipped fit from the shipped
    factors: every family that has its own row in catalog/efficiency.csv (Ada, Ampere, Hopper: 20
    rows or more) is already at the fit's optimum and does not move; families with fewer rows
    (CDNA2, 2 rows) are refitted from the default and flagged."""
    csv = Path(__file__).resolve().parents[1] / "catalog" / "measured" / "calibration.csv"
    code, out, err = run_cli(["calibrate", csv, "--format", "json"])
    assert code == 0, err
    rec = json.loads(out)
    own = {f: v for f, v in rec["families"].items() if v["rows"] >= fit.MIN_ROWS_PER_FAMILY}
    assert set(own) == {"ada", "ampere", "hopper"}
    for family, v in own.items():
        assert v["after"] == v["before"], family
    assert [w.split(":")[0] for w in rec["warnings"]] == [f for f, v in rec["families"].items() if v["rows"] < 20]


# ---------------------------------------------------------------------------------------------
# The overlay and --calibration
# ---------------------------------------------------------------------------------------------


def test_overlay_round_trip(cat, tmp_path):
    """The overlay written by calibrate reads back as the refitted factors (4 decimals), for the
    refitted families only; the others keep the shipped factors; its source names the files."""
    result = api.calibrate([VLLM_QPS, VLLM_CONC], gpu="h100", precision="bf16", tp=1, today=date(2026, 12, 1))
    path = tmp_path / "factors.csv"
    result.write(path)
    applied = cat.with_calibration(path)
    (before, after, n), = result.calibration.families.values()
    got = applied.efficiency["hopper"]
    for k in fit.FACTORS:
        assert getattr(got, k) == pytest.approx(getattr(after, k), abs=5e-5)
    assert got.as_of == "2026-12-01"
    assert got.source == f"planner calibrate on {VLLM_CONC}; {VLLM_QPS}"
    assert applied.efficiency["ampere"] == cat.efficiency["ampere"]
    assert n == 5  # qps run: TTFT, TPOT; concurrency run: TTFT, TPOT, throughput


OVERLAY_HEADER = "family,bw_eff,decode_mfu,prefill_mfu,comm_eff,step_overhead_ms,source,as_of,notes\n"


def test_calibration_changes_estimate_as_derived(run_cli, tmp_path):
    """Llama-3.1-8B bf16 on one H100 SXM (3,350 GB/s), batch 1, 1,024 in / 128 out. A decode step
    reads the weights (8.03e9 parameters x 2 bytes = 16.06e9 bytes) and the KV cache at the mean
    context 1,024 + 64 tokens (2 x 32 layers x 8 KV heads x 128 x 2 bytes = 131,072 bytes a token:
    0.143e9 bytes): 16.20e9 bytes / (3.35e12 B/s x bw_eff). An overlay giving hopper bw_eff 0.3453
    and 2.0 ms per step makes TPOT = 16.20e9 / (3.35e12 x 0.3453) s + 2.0 ms = 14.01 + 2.0 =
    16.0 ms (the shipped 0.6218 and 0.51 ms give 7.78 + 0.51 = 8.29 ms; vLLM, the default engine,
    has multipliers 1)."""
    args = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--precision", "bf16", "--input-tokens", "1024",
            "--output-tokens", "128", "--batch", "1", "--format", "json"]
    code, out, _ = run_cli(args)
    assert code == 0
    shipped = json.loads(out)
    bytes_per_step = 8.03e9 * 2 + (1024 + 64) * 2 * 32 * 8 * 128 * 2
    assert shipped["tpot_ms"] == pytest.approx(bytes_per_step / (3.35e12 * 0.6218) * 1e3 + 0.51, rel=0.01)
    overlay = tmp_path / "o.csv"
    overlay.write_text(OVERLAY_HEADER + "hopper,0.3453,0.3133,0.6885,0.5688,2.0,test overlay,2026-12-01,\n")
    code, out, _ = run_cli([*args, "--calibration", overlay])
    assert code == 0
    got = json.loads(out)
    assert got["tpot_ms"] == pytest.approx(bytes_per_step / (3.35e12 * 0.3453) * 1e3 + 2.0, rel=0.01)
    assert got["decode_step_ms"]["overhead"] == 2.0
    assert got["efficiency"]["source"] == "test overlay"


def test_calibration_applies_to_solve_and_validate(run_cli, tmp_path):
    """A hopper overlay with a third of the bandwidth efficiency changes validate's error on the
    shipped measurements and is accepted by solve (the plan may change; it still solves)."""
    overlay = tmp_path / "o.csv"
    overlay.write_text(OVERLAY_HEADER + "hopper,0.3,0.3133,0.6885,0.5688,1.015,test overlay,2026-12-01,\n")
    csv = Path(__file__).resolve().parents[1] / "catalog" / "measured" / "calibration.csv"
    _, base, _ = run_cli(["validate", csv, "--format", "json"])
    code, slow, _ = run_cli(["validate", csv, "--format", "json", "--calibration", overlay])
    assert code == 0
    assert json.loads(slow)["overall"]["median_ape"] > json.loads(base)["overall"]["median_ape"]
    problem = Path(__file__).resolve().parents[1] / "problems" / "seed001-qwen7b-50-users.yaml"
    code, _, err = run_cli(["solve", problem, "--no-timings", "--format", "json", "--calibration", overlay])
    assert code == 0, err


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, located, everything at once
# ---------------------------------------------------------------------------------------------


def test_missing_deployment_keys_are_located(run_cli):
    """A vLLM result with no GPU, precision or TP given anywhere: one line per missing key, at the
    file, naming the three ways to give it."""
    code, _, err = run_cli(["calibrate", VLLM_QPS])
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [
        f"error: {VLLM_QPS}:1: {key}: {key} not stated; expected --{key} on the command line, vllm bench serve "
        f"--metadata {key}=..., or `{key}:` in vllm_h100_qps4.deployment.yaml" for key in ("gpu", "precision", "tp")]


def test_bad_sidecar_and_metadata_are_located(run_cli, tmp_path):
    """A sidecar's unknown key and unknown GPU are reported at their line and column; a metadata
    TP that is not an integer names its key; all in one run."""
    result = tmp_path / "run.json"
    result.write_text(json.dumps({**json.loads(VLLM_QPS.read_text()), "tp": "two"}))
    (tmp_path / "run.deployment.yaml").write_text("gpu: h1000\nprecison: bf16\n")
    code, _, err = run_cli(["calibrate", result, "--precision", "bf16"])
    assert code == 2
    assert f"error: {tmp_path / 'run.deployment.yaml'}:2:1: precison: unknown key; expected one of" in err
    assert f"{tmp_path / 'run.deployment.yaml'}:1:6: gpu: unknown gpu 'h1000'." in err
    assert f"{result}:1: tp: must be an integer in [1, 1,000,000] (got 'two')" in err


@pytest.mark.parametrize("text, message", [
    ('{"model_id": "x",', ":1:18: not JSON: Expecting property name enclosed in double quotes"),
    ('{"hello": 1}', ":1: neither a vllm bench serve result nor a GuideLLM report"),
])
def test_unreadable_result_files(run_cli, tmp_path, text, message):
    path = tmp_path / "r.json"
    path.write_text(text)
    code, _, err = run_cli(["calibrate", path, *H100_OPTS])
    assert code == 2
    assert f"error: {path}{message}" in err


def test_result_with_a_missing_number(run_cli, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**json.loads(VLLM_QPS.read_text()), "completed": 0}))
    code, _, err = run_cli(["calibrate", path, *H100_OPTS])
    assert code == 2
    assert f"error: {path}:1: completed: not a positive number (got 0); expected a number" in err


def test_bad_overlay_is_located(run_cli, tmp_path):
    """Every defect of an overlay at once, at its line: a fraction over 1, an unknown family."""
    overlay = tmp_path / "o.csv"
    overlay.write_text(OVERLAY_HEADER + "hopper,1.5,0.3,0.6,0.5,1.0,x,2026-12-01,\nvolta-ish,0.5,0.3,0.6,0.5,1.0,x,"
                                        "2026-12-01,\n")
    code, _, err = run_cli(["estimate", "--model", "llama-3.1-8b", "--gpu", "h100", "--input-tokens", "10",
                            "--output-tokens", "10", "--calibration", overlay])
    assert code == 2
    assert f"error: {overlay}:2: bw_eff: must be a fraction in (0, 1] (got 1.5)" in err
    assert f"error: {overlay}:3: family:" in err


def test_no_such_result_file(run_cli, tmp_path):
    code, _, err = run_cli(["calibrate", tmp_path / "nope.json", *H100_OPTS])
    assert code == 2 and f"error: {tmp_path / 'nope.json'}: no such file" in err


def test_concurrency_ttft_grows_by_littles_law(cat):
    """Closed loop of N users above the batch that fits: each extra N users add N x output /
    (output tokens/s) to TTFT (their cycle is N / request rate, and only the wait grows).
    Llama-3.1-8B fp16 on an RTX 4090 (24 GB) fits far fewer than 2,000 sequences of 4,096 + 512."""
    d = Deployment(cat.model("llama-3.1-8b"), cat.gpu("rtx-4090"), cat.precision("fp16"), cat.precision("fp16"),
                   max_num_seqs=256)
    eff = cat.efficiency_for(d.gpu)

    def case(metric, n):
        return Case(1, "x", d, metric, 1.0, "concurrency", n, None, 4096, 512, 1)

    rate = predict(case("output_throughput_tokens_per_s_total", 2000), eff)
    assert rate == predict(case("output_throughput_tokens_per_s_total", 4000), eff)  # KV-bound: same batch
    grow = predict(case("ttft_ms", 4000), eff) - predict(case("ttft_ms", 2000), eff)
    assert grow == pytest.approx(2000 * 512 / rate * 1e3, rel=1e-9)
    assert math.isfinite(grow)
