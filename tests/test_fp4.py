"""FP4 weights (nvfp4, mxfp4): bits per weight, the compute format chosen per GPU (native FP4 tensor
cores on Blackwell and CDNA4, a weight-only FP16 fallback elsewhere), the 2025-26 GPU rows and
aliases, and the FP4 measurements of catalog/measured/blackwell_fp4.csv.

Sources: OCP Microscaling Formats (MX) v1.0 (MXFP4 = 32 E2M1 values + one E8M0 scale); NVIDIA's
NVFP4 blog (16 E2M1 values + one E4M3 scale, + one FP32 scale per tensor); vLLM's Marlin FP4
fallback (vllm-project/vllm@de5f26d5 .../utils/marlin_utils_fp4.py); per-row sources in
catalog/precisions.csv and catalog/gpus.csv.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

import planner.perf as perf
from planner.perf import measurements as M
from planner.perf import roofline

REPO = Path(__file__).resolve().parent.parent
FP4_CSV = REPO / "catalog" / "measured" / "blackwell_fp4.csv"


def test_bits_per_weight_nvfp4_and_mxfp4(cat):
    """NVFP4: 4-bit E2M1 values + one 8-bit E4M3 scale per 16 values = 4 + 8/16 = 4.5 bits (the one
    FP32 scale per tensor is negligible); MXFP4: one 8-bit E8M0 scale per 32 = 4 + 8/32 = 4.25."""
    nv, mx = cat.precision("nvfp4"), cat.precision("mxfp4")
    assert nv.bits_per_weight == pytest.approx(4.5)
    assert mx.bits_per_weight == pytest.approx(4.25)
    assert cat.precision("fp4").id == "nvfp4"  # engines' plain "FP4" is NVFP4 (TensorRT-LLM, ModelOpt)
    assert not nv.kv_capable and not mx.kv_capable  # the KV cache stays fp8/fp16


def test_llama_3_1_8b_weights_at_nvfp4_and_mxfp4(cat):
    """Llama-3.1-8B: 8.03e9 parameters, vocab 128,256 x hidden 4,096, untied. Embeddings and
    lm_head stay 16-bit: 2 x 128,256 x 4,096 = 1,050,673,152 parameters x 2 B = 2,101,346,304 B.
    The other 8.03e9 - 1,050,673,152 = 6,979,326,848 parameters:
      nvfp4: x 4.5 / 8  = 3,925,871,352 B -> 6,027,217,656 B (6.03 GB; 16.06 GB at BF16);
      mxfp4: x 4.25 / 8 = 3,707,767,388 B -> 5,809,113,692 B."""
    m = cat.model("llama-3.1-8b")
    assert perf.weight_bytes(m, cat.precision("nvfp4")) == pytest.approx(6_027_217_656, abs=1)
    assert perf.weight_bytes(m, cat.precision("mxfp4")) == pytest.approx(5_809_113_692, abs=1)


@pytest.mark.parametrize("precision, gpu, compute, tflops", [
    ("nvfp4", "b200", "nvfp4", 9000.0),          # HGX B200: 18 PF FP4 with sparsity / 2
    ("nvfp4", "gb200", "nvfp4", 10000.0),        # NVL72 1,440 PF sparse / 72 / 2
    ("nvfp4", "b300", "nvfp4", 13125.0),         # HGX B300: 105 PF dense / 8
    ("nvfp4", "rtx 5090", "nvfp4", 1676.0),      # sm_120 has NVFP4 MMA; '3352 AI TOPS' sparse / 2
    ("mxfp4", "rtx pro 6000", "mxfp4", 2000.0),
    ("mxfp4", "mi355x", "mxfp4", 10066.3),       # CDNA4: MXFP4 = 2 x FP8 5,033.2
    ("nvfp4", "mi355x", "fp16", 2516.6),         # NVFP4 is not an OCP format: weight-only on CDNA4
    ("nvfp4", "h100", "fp16", 989.5),            # Hopper: Marlin weight-only, FP16 tensor cores
    ("mxfp4", "a100", "fp16", 312.0),
    ("fp8", "h100", "fp8", 1979.0),              # precisions without a fallback are unchanged
])
def test_compute_format_chosen(cat, precision, gpu, compute, tflops):
    """A precision computes in its own format where the GPU has that tensor path, else in its
    `fallback_compute` (fp16 for the FP4 formats); the peak used is that format's dense figure."""
    p, g = cat.precision(precision), cat.gpu(gpu)
    assert p.compute_on(g) == compute
    assert g.tflops(p.compute_on(g)) == pytest.approx(tflops)


def test_prefill_compute_bound_follows_the_chosen_peak(cat):
    """Prefill compute time is FLOPs / (peak x MFU), so at the same model, length and factors:
    nvfp4 on a B200 takes fp16's time x 2,250 / 9,000 = 0.25 (FP4 tensor cores), while nvfp4 on an
    H100 takes exactly fp16's time (weight-only: the matmuls run in FP16, 989.5 TFLOPS)."""
    m, eff = cat.model("llama-3.1-8b"), cat.efficiency["default"]
    nv, fp16 = cat.precision("nvfp4"), cat.precision("fp16")
    t = lambda gpu, p: roofline.prefill_time(m, cat.gpu(gpu), p, 1, 2048, eff).compute_s
    assert t("b200", nv) == pytest.approx(t("b200", fp16) * 2250 / 9000)
    assert t("h100", nv) == pytest.approx(t("h100", fp16))


@pytest.mark.parametrize("name, expected", [
    ("GH200-480GB", "gh200-96gb"),                       # node label / nvidia-smi name (96 GB HBM3 + 480 GB LPDDR5X)
    ("GB200-192GB", "gb200-186gb"),                      # TensorRT-LLM perf overview's "GB200 192GB"
    ("RTX-PRO-6000-Blackwell-Server", "rtx-pro-6000-96gb"),
    ("RTX 6000 Pro Blackwell Server Edition", "rtx-pro-6000-96gb"),
    ("B300", "b300-288gb"), ("HGX B300", "b300-288gb"), ("GB300", "gb300-288gb"),
    ("MI350X", "mi350x-288gb"), ("MI325X", "mi325x-256gb"), ("H200 NVL", "h200-nvl-141gb"),
])
def test_new_gpu_names_resolve(cat, name, expected):
    assert cat.gpu(name).id == expected


def test_fp4_columns_are_dense_and_marked(cat):
    """Pre-Blackwell NVIDIA and CDNA2/3 parts have no FP4 tensor path (`unsupported`); the B200's
    dense FP4 is half its datasheet 18 PF "with sparsity"; Gaudi 3 lists none (blank = unknown)."""
    assert "nvfp4" in cat.gpu("h100").unsupported and "mxfp4" in cat.gpu("mi300x").unsupported
    assert cat.gpu("b200").tflops("nvfp4") == pytest.approx(18000 / 2)
    gaudi = cat.gpu("gaudi3-128gb")
    assert not gaudi.supports("mxfp4") and "mxfp4" not in gaudi.unsupported


@pytest.mark.parametrize("cell, expected", [
    ("fp4 (NVFP4, ModelOpt)", "nvfp4"), ("FP4", "nvfp4"), ("nvfp4", "nvfp4"),
    ("fp4 (MXFP4, Quark)", "mxfp4"), ("mxfp4", "mxfp4"),
])
def test_measurement_precision_strings(cat, cell, expected):
    """Engines' precision strings map to the catalogue: TensorRT-LLM writes NVFP4 as "FP4"."""
    p, why = M._resolve_precision(cat, cell)
    assert why is None and p.id == expected


def test_validate_predicts_every_blackwell_fp4_row(run_cli):
    """All 86 rows of catalog/measured/blackwell_fp4.csv (TensorRT-LLM v1.0 perf overview, NVFP4
    checkpoints on B200, GB200 and RTX PRO 6000 Server) are predicted, none skipped (before FP4 and
    the GB200-192GB / RTX-PRO-6000-Blackwell-Server aliases all 86 were skipped). On the 40
    tensor-parallel B200/GB200 rows the median error is under 25 % (0.182 when written); the
    pipeline-parallel RTX PRO rows are far off (the step model does not overlap PP stages)."""
    code, out, err = run_cli(["validate", FP4_CSV, "--format", "json"])
    assert code == 0, err
    rep = json.loads(out)
    assert rep["skipped"] == [] and rep["overall"]["n"] == 86
    tp_rows = [r["ape"] for r in rep["rows"] if "RTX" not in r["row"]]
    assert len(tp_rows) == 40 and statistics.median(tp_rows) < 0.25


def test_estimate_nvfp4_on_b200_and_h100(run_cli):
    """`planner estimate` runs nvfp4 on both: the same weights (Llama-3.1-8B, 6.03 GB), but the
    prefill compute term is 989.5 / 9,000 = 0.11 of the H100's on the B200 at equal MFU (the fitted
    MFUs differ by family, so only the ordering is asserted)."""
    base = ["estimate", "--model", "llama-3.1-8b", "--precision", "nvfp4", "--input-tokens", "2048",
            "--output-tokens", "128", "--batch", "8", "--format", "json"]
    res = {}
    for gpu in ("b200", "h100"):
        code, out, err = run_cli([*base, "--gpu", gpu])
        assert code == 0, err
        res[gpu] = json.loads(out)
    assert res["b200"]["precision"] == res["h100"]["precision"] == "nvfp4"
    assert res["b200"]["prefill_ms"]["compute"] < res["h100"]["prefill_ms"]["compute"] / 4


PROBLEM = """\
name: fp4-b200
objective: rent
horizon_months: 12
gpus:
  allow: [b200-180gb]
rent:
  pricing: on_demand
workloads:
  - name: assistant
    model: llama-3.3-70b
    precisions: [{precisions}]
    traffic:
      concurrent_users: 1000
      think_time_s: 30
      input_tokens: 2000
      output_tokens: 400
    slo: {{ttft_ms: 1500, tpot_ms: 50}}
"""


def test_solve_picks_nvfp4_on_b200_when_cheaper(run_cli, tmp_path):
    """Llama-3.3-70B (70.55e9 parameters) on rented B200s: at nvfp4 the weights take about 41 GB
    (4.5 bits) instead of about 72 GB at fp8 (8 bits), which leaves more of the B200's usable memory
    (0.9 x 180 GB read as GiB x 0.9903, the defaulted reported fraction: about 160 GiB) for KV cache
    and a larger batch per replica, so the same 1,000 users need fewer GPUs: the solve keeps nvfp4
    and costs less than the fp8-only solve."""
    cost = {}
    for name, precisions in (("both", "fp8, nvfp4"), ("fp8", "fp8")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(PROBLEM.format(precisions=precisions), encoding="utf-8")
        code, out, err = run_cli(["solve", path, "--no-timings", "--today", "2026-12-05", "--format", "json"])
        assert code == 0, err
        plan = json.loads(out)["plans"][0]
        cost[name] = plan["cost"]["monthly_usd"]
        if name == "both":
            assert {d["precision"] for d in plan["deployments"]} == {"nvfp4"}
    assert cost["both"] < cost["fp8"]
