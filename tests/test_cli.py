"""The command line, end to end through `planner.cli.main`: the estimate JSON contract, determinism,
bad input (exit 2, one `error:` line per problem, no traceback), catalogue listings and `validate`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from planner.cli import main

CALIBRATION_CSV = Path(__file__).resolve().parent.parent / "catalog" / "measured" / "calibration.csv"

ESTIMATE_70B_A100 = [
    "estimate", "--model", "llama-3-70b", "--gpu", "a100", "--precision", "fp16", "--batch", "1",
    "--input-tokens", "8191", "--output-tokens", "1", "--format", "json",
]
"""Seed 003's worked example: Llama-3-70B, FP16, 8k context (8191 in + 1 out), batch 1, on A100 80GB."""

MEMORY_KEYS = {"weights", "kv_cache", "activations", "overhead", "total", "capacity"}
CONTRACT_KEYS = {
    "fits", "max_batch", "memory_per_gpu_gib", "ttft_ms", "tpot_ms",
    "decode_tokens_per_s_per_request", "output_tokens_per_s", "bottleneck",
}


def _estimate(run_cli, tp: int) -> dict:
    code, out, err = run_cli([*ESTIMATE_70B_A100, "--tp", str(tp)])
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------------------------------------
# estimate
# ---------------------------------------------------------------------------------------------


def test_estimate_json_contract_tp2(run_cli):
    """`estimate ... --tp 2 --format json` exits 0 with every key of the JSON contract; Llama-3-70B
    FP16 fits on two A100 80GB; total memory is the sum of its four parts (each rounded to 4
    digits, so to 1e-3); weights per GPU = 70.55e9 params (catalogue llama-3-70b) x 2 bytes (fp16)
    / 2 GPUs (TP 2) / 2**30 = 65.7048 GiB."""
    rec = _estimate(run_cli, 2)
    assert CONTRACT_KEYS <= set(rec)
    mem = rec["memory_per_gpu_gib"]
    assert MEMORY_KEYS <= set(mem)
    assert rec["fits"] is True
    assert rec["max_batch"] >= 1
    parts = mem["weights"] + mem["kv_cache"] + mem["activations"] + mem["overhead"]
    assert mem["total"] == pytest.approx(parts, abs=1e-3)
    assert mem["total"] <= mem["capacity"]
    assert mem["weights"] == pytest.approx(70.55e9 * 2 / 2 / 2**30, abs=1e-3)
    for key in ("ttft_ms", "tpot_ms", "decode_tokens_per_s_per_request", "output_tokens_per_s"):
        assert isinstance(rec[key], (int, float)) and rec[key] > 0, key
    assert isinstance(rec["bottleneck"], str) and rec["bottleneck"]


def test_estimate_tp1_does_not_fit(run_cli):
    """At --tp 1 the FP16 weights alone (70.55e9 x 2 / 2**30 = 131.4 GiB) exceed one A100 80GB:
    fits is false, the bottleneck is `memory capacity`, and the command still exits 0 (an
    estimate that does not fit is an answer, not an error)."""
    rec = _estimate(run_cli, 1)
    assert rec["fits"] is False
    assert rec["bottleneck"] == "memory capacity"
    assert rec["max_batch"] == 0
    assert rec["memory_per_gpu_gib"]["weights"] == pytest.approx(70.55e9 * 2 / 2**30, abs=1e-3)
    assert rec["memory_per_gpu_gib"]["total"] > rec["memory_per_gpu_gib"]["capacity"]


@pytest.mark.parametrize(
    "argv",
    [
        [*ESTIMATE_70B_A100, "--tp", "2"],
        ["estimate", "--model", "llama-3-70b", "--gpu", "a100", "--tp", "2",
         "--input-tokens", "1000", "--output-tokens", "200"],  # table output
        ["catalog", "gpus", "--format", "json"],
        ["catalog", "models", "--format", "csv"],
    ],
    ids=["estimate-json", "estimate-table", "catalog-gpus-json", "catalog-models-csv"],
)
def test_output_is_deterministic(run_cli, argv):
    """The same command run twice prints byte-identical stdout (stable order, fixed float
    formats; see planner/report/format.py)."""
    first = run_cli(argv)
    second = run_cli(argv)
    assert first[0] == 0, first[2]
    assert first[1]  # something was printed
    assert first == second


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, `error:` lines, no traceback
# ---------------------------------------------------------------------------------------------

_BASE = ["estimate", "--input-tokens", "100", "--output-tokens", "10"]


def _assert_input_error(result) -> str:
    code, out, err = result
    assert code == 2, (code, out, err)
    assert err.startswith("error:"), err
    assert "Traceback" not in err and "Traceback" not in out
    assert "internal error" not in err
    return err


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--model", "lama-3-70b", "--gpu", "a100"], ["unknown model", "Did you mean", "llama-3-70b"]),
        (["--model", "llama-3-70b", "--gpu", "h1000"], ["unknown gpu", "h100-sxm-80gb"]),
        (["--model", "llama-3-70b", "--gpu", "a100", "--precision", "fp7"], ["unknown precision"]),
        (["--model", "llama-3-70b", "--gpu", "a100", "--precision", "fp8"], ["fp8", "A100"]),
        (["--model", "llama-3-70b", "--gpu", "a100", "--batch", "zero"], ["--batch", "zero"]),
        (["--model", "llama-3-70b", "--gpu", "a100", "--batch", "0"], ["--batch"]),
        (["--model", "llama-3-70b", "--gpu", "a100", "--tp", "3"], ["tp=3", "64"]),
        (["--model", "llama-3-70b", "--gpu", "a100", "--engine", "vlm"], ["--engine", "unknown engine", "vllm"]),
    ],
    ids=["unknown-model", "unknown-gpu", "unknown-precision", "fp8-on-a100", "batch-zero-word",
         "batch-0", "tp3-64-heads", "unknown-engine"],
)
def test_estimate_bad_input(run_cli, args, expected):
    """Each defect exits 2 with a message naming it: a did-you-mean for unknown names; FP8 on an
    A100 (Ampere has no FP8 tensor path); a non-numeric or zero batch; TP 3 does not divide
    Llama-3-70B's 64 attention heads (64 % 3 = 1)."""
    err = _assert_input_error(run_cli([*_BASE, *args]))
    for text in expected:
        assert text in err


def test_all_unknown_names_reported_at_once(run_cli):
    """An unknown model and an unknown GPU in one call give two `error:` lines, not one."""
    err = _assert_input_error(run_cli([*_BASE, "--model", "lama-3-70b", "--gpu", "h1000"]))
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 2
    assert "model" in lines[0] and "gpu" in lines[1]


def test_estimate_malformed_config_json(run_cli, tmp_path):
    """--model pointing at a config.json whose line 3 lacks a comma: exit 2, and the message has
    the file path and the line (`<path>:3:`)."""
    path = tmp_path / "config.json"
    path.write_text('{\n  "hidden_size": 4096,\n  "num_hidden_layers": 32 "num_attention_heads": 32,\n'
                    '  "vocab_size": 32000\n}\n', encoding="utf-8")
    err = _assert_input_error(run_cli([*_BASE, "--model", path, "--gpu", "h100"]))
    assert f"{path}:3:" in err


def test_estimate_missing_config_path(run_cli, tmp_path):
    """--model pointing at a config.json that does not exist: exit 2 naming the path."""
    path = tmp_path / "nowhere" / "config.json"
    err = _assert_input_error(run_cli([*_BASE, "--model", path, "--gpu", "h100"]))
    assert str(path) in err
    assert "no such file" in err


def test_estimate_good_config_json(run_cli, tmp_path):
    """A well-formed Llama-3-8B-like config.json is accepted by --model (exit 0, fits on an H100:
    8.03e9 x 2 bytes = 15 GiB of weights against 80 GB)."""
    cfg = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
           "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
           "max_position_embeddings": 8192, "tie_word_embeddings": False}
    path = tmp_path / "llama3" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(cfg), encoding="utf-8")
    code, out, err = run_cli([*_BASE, "--model", path, "--gpu", "h100", "--format", "json"])
    assert code == 0, err
    rec = json.loads(out)
    assert rec["fits"] is True
    assert rec["memory_per_gpu_gib"]["weights"] == pytest.approx(8.03e9 * 2 / 2**30, rel=0.005)


# ---------------------------------------------------------------------------------------------
# catalog listings
# ---------------------------------------------------------------------------------------------


def test_catalog_gpus_csv(run_cli):
    """`catalog gpus --format csv` parses as CSV: at least 25 rows, each with a source and an
    as_of date."""
    code, out, err = run_cli(["catalog", "gpus", "--format", "csv"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) >= 25
    for r in rows:
        assert r["source"].strip(), r["id"]
        assert r["as_of"].strip(), r["id"]


def test_catalog_gpus_market_china(run_cli):
    """`catalog gpus --market china` lists only china-market rows, H20 among them."""
    code, out, err = run_cli(["catalog", "gpus", "--market", "china", "--format", "json"])
    assert code == 0, err
    rows = json.loads(out)
    assert rows
    assert {r["market"] for r in rows} == {"china"}
    assert "h20-96gb" in {r["id"] for r in rows}
    assert "h100-sxm-80gb" not in {r["id"] for r in rows}


def test_catalog_models_moe(run_cli):
    """`catalog models --moe` lists only mixture-of-experts models (n_experts > 1), Mixtral-8x7B and
    DeepSeek-V3 among them."""
    code, out, err = run_cli(["catalog", "models", "--moe", "--format", "json"])
    assert code == 0, err
    rows = json.loads(out)
    assert all(r["n_experts"] > 1 for r in rows), [r["id"] for r in rows]
    ids = {r["id"] for r in rows}
    assert {"mixtral-8x7b", "deepseek-v3"} <= ids
    assert "llama-3-70b" not in ids


def test_catalog_precisions_int4_bits(run_cli):
    """`catalog precisions` lists int4 at 4 + 20/128 = 4.15625 bits per weight (AWQ/GPTQ group of
    128 with an FP16 scale and a 4-bit zero: 20 bits per group; catalog/precisions.csv)."""
    code, out, err = run_cli(["catalog", "precisions", "--format", "json"])
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["int4"]["bits_per_weight"] == pytest.approx(4 + 20 / 128, abs=1e-3)
    assert rows["fp16"]["bits_per_weight"] == pytest.approx(16)


# ---------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------

GROUP_MIN_N = {"batch-1 decode": 30, "max throughput": 100, "TTFT / prefill": 25}
ACCURACY_BAR = 0.20
"""The project's accuracy bar: median absolute percentage error <= 20 % in each metric group."""


@pytest.fixture(scope="module")
def calibration_report() -> dict:
    """`validate catalog/measured/calibration.csv --format json` through `main`, run once for this
    module (capsys is per test, so stdout and stderr are redirected by hand)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(CALIBRATION_CSV), "--format", "json"])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_validate_calibration_exit_and_keys(run_cli):
    """`validate` on the shipped calibration file exits 0 through `main` and prints the report keys."""
    code, out, err = run_cli(["validate", CALIBRATION_CSV, "--format", "json"])
    assert code == 0, err
    rep = json.loads(out)
    assert {"metrics", "groups", "overall", "naive_roofline", "skipped"} <= set(rep)
    assert set(GROUP_MIN_N) == set(rep["groups"])


def test_validate_errors_are_fractions(calibration_report):
    """Errors are fractions, not percentages: each row's `ape` is |predicted - measured| / measured
    (to rounding), and every summary's median and p90 are non-negative numbers."""
    rep = calibration_report
    assert rep["rows"]
    for r in rep["rows"]:
        expected = abs(r["predicted"] - r["measured"]) / abs(r["measured"])
        assert r["ape"] == pytest.approx(expected, abs=1e-3), r["row"]
    summaries = [rep["overall"], *rep["groups"].values(), *rep["metrics"].values(),
                 rep["naive_roofline"]["overall"], *rep["naive_roofline"]["groups"].values()]
    for s in summaries:
        assert s["median_ape"] >= 0 and s["p90_ape"] >= s["median_ape"]
    # The model's medians are well under 1 (a percentage would read e.g. 12.5, not 0.125).
    assert all(s["median_ape"] < 1 for s in rep["groups"].values())


@pytest.mark.parametrize("group", sorted(GROUP_MIN_N))
def test_validate_group_meets_accuracy_bar(calibration_report, group):
    """Each metric group has median APE <= 0.20 (the project's accuracy bar) over at least 30
    (batch-1 decode), 100 (max throughput) or 25 (TTFT / prefill) predicted rows."""
    s = calibration_report["groups"][group]
    assert s["n"] >= GROUP_MIN_N[group]
    assert s["median_ape"] <= ACCURACY_BAR


@pytest.mark.parametrize("group", sorted(GROUP_MIN_N))
def test_validate_beats_naive_roofline(calibration_report, group):
    """In each group the model's median APE is below the naive roofline's (datasheet bandwidth /
    weight bytes for decode, 50 % MFU for prefill and throughput) on the same rows."""
    model = calibration_report["groups"][group]
    naive = calibration_report["naive_roofline"]["groups"][group]
    assert naive["n"] == model["n"]
    assert model["median_ape"] < naive["median_ape"]


def test_validate_skipped_rows_have_reasons(calibration_report):
    """Every skipped row has a non-empty reason; each Apple row of the calibration file (Apple GPUs
    are not in the catalogue) is skipped with a reason naming its GPU."""
    skipped = calibration_report["skipped"]
    assert skipped
    assert all(s["reason"].strip() for s in skipped)
    with open(CALIBRATION_CSV, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        apple = {}
        for r in reader:
            if r["gpu"].startswith("Apple"):
                apple[reader.line_num] = r["gpu"]
    assert apple
    by_line = {s["line"]: s for s in skipped}
    for line, gpu in apple.items():
        assert line in by_line, f"Apple row at line {line} not skipped"
        assert gpu in by_line[line]["reason"]


def test_validate_missing_column(run_cli, tmp_path):
    """A CSV without the `metric` column exits 2 with `missing column`, naming the column."""
    with open(CALIBRATION_CSV, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = [c for c in reader.fieldnames if c != "metric"]
        first = next(reader)
    path = tmp_path / "no_metric.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerow(first)
    err = _assert_input_error(run_cli(["validate", path, "--format", "json"]))
    assert "missing column" in err
    assert "metric" in err


def test_validate_nonexistent_file(run_cli, tmp_path):
    """`validate` on a file that does not exist exits 2 naming it."""
    path = tmp_path / "absent.csv"
    err = _assert_input_error(run_cli(["validate", path]))
    assert str(path) in err


def test_validate_small_handmade_csv(run_cli, tmp_path):
    """The calibration header with two of its rows, the first (Llama-3.1-8B on A100 SXM4 80GB,
    predictable) and the first Apple row (not in the catalogue): overall n is 1 and one row is
    skipped, the Apple one."""
    with open(CALIBRATION_CSV, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    apple = next(r for r in rows if r["gpu"].startswith("Apple"))
    path = tmp_path / "small.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerow(rows[0])
        w.writerow(apple)
    code, out, err = run_cli(["validate", path, "--format", "json"])
    assert code == 0, err
    rep = json.loads(out)
    assert rep["overall"]["n"] == 1
    assert len(rep["skipped"]) == 1
    assert rep["skipped"][0]["line"] == 3
    assert apple["gpu"] in rep["skipped"][0]["reason"]


# ---------------------------------------------------------------------------------------------
# Malformed user files: input errors (exit 2), never internal errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Infinity", "NaN", "1e400"])
def test_config_non_finite_number_is_input_error(run_cli, tmp_path, value):
    """Python's json accepts Infinity, NaN and 1e400 (= inf); as a layer count they are bad input
    (exit 2 naming the key), not an internal error."""
    path = tmp_path / "config.json"
    path.write_text(f'{{\n  "hidden_size": 4096,\n  "num_hidden_layers": {value},\n  "num_attention_heads": 32,\n'
                    '  "vocab_size": 32000\n}\n', encoding="utf-8")
    err = _assert_input_error(run_cli([*_BASE, "--model", path, "--gpu", "h100"]))
    assert "num_hidden_layers" in err


def test_config_not_utf8_is_input_error(run_cli, tmp_path):
    """A config.json that is not UTF-8 is bad input (exit 2 naming the file)."""
    path = tmp_path / "config.json"
    path.write_bytes(b"\xff\xfe{}")
    err = _assert_input_error(run_cli([*_BASE, "--model", path, "--gpu", "h100"]))
    assert str(path) in err


def test_validate_not_utf8_is_input_error(run_cli, tmp_path):
    """A calibration CSV that is not UTF-8 is bad input (exit 2 naming the file)."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\xff\xfe" + CALIBRATION_CSV.read_bytes())
    err = _assert_input_error(run_cli(["validate", path]))
    assert str(path) in err


def test_validate_zero_measured_value_not_internal_error(run_cli, tmp_path):
    """A row whose measured value is 0 cannot have a percentage error; it should be skipped with a
    reason (or rejected as bad input), not crash with ZeroDivisionError."""
    with open(CALIBRATION_CSV, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        first = next(reader)
    path = tmp_path / "zero.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerow({**first, "value": "0"})
    code, _out, err = run_cli(["validate", path, "--format", "json"])
    assert code in (0, 2), err
    assert "internal error" not in err


def test_progress_lines_go_to_stderr_and_leave_the_report_alone(run_cli):
    """--progress: one stderr line for the candidates and two per solve (start, result), here for
    the three plans of problems/hybrid-daily-profile.yaml; stdout is byte-identical to --no-progress.
    Without the flag, stderr is not a terminal under capture, so no progress is printed."""
    args = ["solve", "problems/hybrid-daily-profile.yaml", "--format", "json", "--no-timings"]
    code, out, err = run_cli([*args, "--progress"])
    assert code == 0
    lines = err.splitlines()
    assert all(line.startswith("planner: ") for line in lines)
    assert [line.split(":")[1].strip() for line in lines if "solving" not in line][2:] == ["rent", "buy", "hybrid"]
    assert sum("solving" in line for line in lines) == 3
    assert any(line.startswith("planner: candidates:") and "kept" in line for line in lines)
    quiet = run_cli([*args, "--no-progress"])
    default = run_cli(args)
    assert quiet == (0, out, "") and default == (0, out, "")


def test_candidates_progress_on_stderr(run_cli):
    """`planner candidates --progress`: a start line and a result line on stderr; stdout unchanged."""
    args = ["candidates", "problems/seed001-qwen7b-50-users.yaml", "--format", "json"]
    code, out, err = run_cli([*args, "--progress"])
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == "planner: candidates: 1 workload ..."
    assert lines[1].startswith("planner: candidates: ") and " kept of " in lines[1] and len(lines) == 2
    assert run_cli([*args, "--no-progress"]) == (0, out, "")


def test_calibrate_progress_on_stderr(run_cli):
    """`planner calibrate --progress` on the shipped measurements: a start and an end line on stderr,
    the same JSON on stdout as without progress."""
    args = ["calibrate", "catalog/measured/calibration.csv", "--today", "2026-11-21", "--format", "json"]
    code, out, err = run_cli([*args, "--progress"])
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == "planner: calibrate: reading and refitting 1 file(s) ..."
    assert lines[1].startswith("planner: calibrate: ") and "refitted in" in lines[1] and len(lines) == 2
    assert run_cli([*args, "--no-progress"]) == (0, out, "")
