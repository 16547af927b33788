"""Engines as data: the engine table, the step composition per engine, the workload field and its
located errors, and the factors an estimate says it used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner import perf
from planner.catalog.engines import engine_for_text
from planner.catalog.store import load_catalog
from planner.perf.estimate import Deployment, evaluate

REPO = Path(__file__).resolve().parent.parent
CAT = load_catalog()
FP16 = CAT.precision("fp16")


@pytest.mark.parametrize("text, engine", [
    ("TensorRT-LLM v0.17 (C++ TRT engine, trtllm-bench)", "trtllm"),
    ("TensorRT-LLM v0.14.0 + Triton tensorrtllm_backend", "triton-trtllm"),
    ("NVIDIA NIM 1.8.0 (TensorRT-LLM based)", "trtllm"),
    ("AutoAWQ 0.1.6 (HF transformers + fused modules)", "hf"),
    ("llama.cpp (llama-bench, CUDA)", "llama.cpp"),
    ("LMDeploy v0.1.0a1 (TurboMind)", "lmdeploy"),
    ("vLLM (CI build 9513; version not stated on page)", "vllm"),
])
def test_free_text_engines_map_to_ids(text, engine):
    """The calibration rows' `engine` strings map to one id each (first matching row of engines.csv)."""
    assert engine_for_text(CAT.engines, text).id == engine


def test_unknown_engine_text_is_none_and_default_is_vllm():
    assert engine_for_text(CAT.engines, "my own server") is None
    assert CAT.engine(None).id == "vllm" and CAT.engine("TRT-LLM").id == "trtllm"


def test_with_engine_multiplies_the_family_factors():
    """hopper overhead 0.55 ms x 1.9838 = 1.0911 ms, prefill MFU 0.5970 x 2.8576 = 1.706 -> capped at
    1, decode MFU unchanged (llama.cpp multipliers, catalog/engine_factors.csv)."""
    eff = CAT.efficiency["hopper"]
    got = perf.with_engine(eff, CAT.engine_factors_for(CAT.engine("llama.cpp")))
    assert got.step_overhead_ms == pytest.approx(0.55 * 1.9838)
    assert got.prefill_mfu == 1.0 and got.decode_mfu == eff.decode_mfu and got.bw_eff == eff.bw_eff
    assert perf.with_engine(eff, CAT.engine_factors_for(None)) is eff


def test_a_batching_engine_adds_only_the_prompt_compute():
    """Same factors, same deployment: with vLLM (prompts ride the decode steps) a prompt adds its
    compute + all-reduce; with hf (a pass of its own) the whole prefill. Throughput at batch b =
    b / (step + b / out x added), so the batching engine is faster, and at batch 1 TPOT is the step
    alone for both (no other sequence's prompt)."""
    m, g = CAT.model("llama-3.1-8b"), CAT.gpu("h100")
    eff = CAT.efficiency["hopper"]
    vllm = Deployment(m, g, FP16, FP16, engine=CAT.engine("vllm"))
    hf = Deployment(m, g, FP16, FP16, engine=CAT.engine("hf"))
    pre = perf.prefill_time(m, g, FP16, 1, 1000, eff)
    assert perf.prefill_added_s(pre, vllm.batches_prefill) == pytest.approx(pre.compute_s + pre.comm_s)
    assert perf.prefill_added_s(pre, hf.batches_prefill) == pre.total_s
    a, b = evaluate(vllm, eff, 1000, 200, batch=64), evaluate(hf, eff, 1000, 200, batch=64)
    step = a.decode_step.total_s
    assert a.output_tokens_per_s == pytest.approx(64 / (step + 64 / 200 * (pre.compute_s + pre.comm_s)))
    assert b.output_tokens_per_s == pytest.approx(64 / (step + 64 / 200 * pre.total_s))
    assert a.output_tokens_per_s > b.output_tokens_per_s
    one = evaluate(vllm, eff, 1000, 200, batch=1)
    assert one.tpot_s == pytest.approx(one.decode_step.total_s)


def test_loaded_ttft_counts_the_chunks():
    """A 5,000-token prompt, budget 2,048, 48 decoding: ceil(5000 / 2000) = 3 chunks; TTFT = added
    + 3.5 x step = 0.1 + 3.5 x 0.02 = 0.17 s."""
    chunks = perf.prefill_chunks(5000, 2048, 48)
    assert chunks == 3
    assert perf.loaded_ttft_s(0.1, 0.02, chunks) == pytest.approx(0.17)


def test_estimate_json_says_which_factors(run_cli):
    """`planner estimate --engine llama.cpp` on an RTX 4090 (Ada, fitted) reports the family basis and
    the engine's fitted multipliers, and its step overhead is Ada's 0.95 ms x 1.9838."""
    code, out, err = run_cli(["estimate", "--model", "llama-3.1-8b", "--gpu", "rtx-4090", "--precision", "int4",
                              "--input-tokens", "512", "--output-tokens", "128", "--batch", "1",
                              "--engine", "llama.cpp", "--format", "json"])
    assert code == 0, err
    eff = json.loads(out)["efficiency"]
    assert (eff["family"], eff["basis"], eff["engine"], eff["engine_basis"]) == ("ada", "fitted", "llama.cpp", "fitted")
    assert eff["step_overhead_ms"] == pytest.approx(0.95 * 1.9838, abs=1e-4)  # 1.8846, rounded in JSON


def test_unknown_engine_in_a_workload_file_is_located(run_cli, tmp_path):
    """planning.engine and workloads[].engine are checked against catalog/engines.csv, each error at
    its line and column with a did-you-mean."""
    f = tmp_path / "e.yaml"
    f.write_text("name: e\nplanning: {engine: vlm}\nworkloads:\n  - name: chat\n    model: qwen-7b\n"
                 "    engine: tensorrt\n    traffic: {peak_qps: 5, input_tokens: 512, output_tokens: 256}\n"
                 "    slo: {ttft_ms: 800, tpot_ms: 50}\n", encoding="utf-8")
    code, _out, err = run_cli(["solve", str(f)])
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0] == (f"error: {f}:2:20: planning.engine: unknown engine 'vlm'. Did you mean: vllm? "
                        "Hint: `planner catalog engines` lists them all.")
    assert lines[1].startswith(f"error: {f}:6:13: workloads[0].engine: unknown engine 'tensorrt'. Did you mean: trtllm")


def test_a_workload_engine_reaches_its_plan(run_cli, tmp_path):
    """seed001 with `planning.engine: hf` (prompts as passes of their own, fitted multipliers) solves,
    and every deployment's efficiency_factors names the engine and its basis."""
    text = (REPO / "problems/seed001-qwen7b-50-users.yaml").read_text(encoding="utf-8")
    assert "planning:" not in text
    f = tmp_path / "s.yaml"
    f.write_text(text + "\nplanning: {engine: hf}\n", encoding="utf-8")
    code, out, err = run_cli(["solve", str(f), "--format", "json", "--no-timings", "--today", "2026-11-21"])
    assert code == 0, err
    for p in json.loads(out)["plans"]:
        for d in p["deployments"]:
            assert d["efficiency_factors"]["engine"] == "hf"
            assert d["efficiency_factors"]["engine_basis"] == "fitted"
