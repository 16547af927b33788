"""Memory as the engine counts it: driver-reported capacity, non-torch memory by TP, the activation
peak of vLLM's profiling run, the memory metrics of `planner validate`, and the fit of the terms
(`tools/fit_memory.py` reproduces catalog/memory_terms.csv)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from pathlib import Path

import pytest

from planner import perf
from planner.catalog.gpu_memory import MemoryTerms, parse_reported, parse_terms
from planner.catalog.gpus import parse_gpus
from planner.catalog.store import data_text, load_catalog, load_memory_terms
from planner.errors import CatalogError
from planner.perf import calibration as V
from planner.perf.estimate import memory_breakdown, resolve_deployment
from planner.perf.measurements import engine_settings
from planner.perf.memory_check import kv_cache_tokens
from planner.perf.memory_fit import ENGINE_TERMS
from planner.units import GIB

REPO = Path(__file__).resolve().parent.parent
MEMORY_CSV = REPO / "catalog" / "measured" / "memory.csv"


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _terms(**over) -> MemoryTerms:
    """Round terms for hand arithmetic."""
    base = dict(sampler_bytes_per_logit=15.0, forward_activation_factor=1.5, nontorch_gib_tp1=0.25,
                nontorch_gib_tp2plus=2.0, nontorch_gib_pp_stage=0.07, reported_fraction_hbm=0.99,
                reported_fraction_gddr=0.98)
    return MemoryTerms(**{**base, **over})


def test_llama_8b_h100_usable_memory_and_kv_tokens_by_hand(cat):
    """Llama-3.1-8B BF16, TP 1, on an H100 80GB at gpu_memory_utilization 0.95, max_num_seqs 1024 and
    max_num_batched_tokens 8192 (vLLM's H100 defaults), with the shipped terms (sampler 15.4543 B per
    logit, forward factor 1.4085, non-torch 0.2498 GiB at TP 1):

    capacity   = 79.19 GiB reported x 0.95                           = 75.2305 GiB
    weights    = 8.03e9 params x 2 B = 16.06e9 B                     = 14.9570 GiB
    forward    = 1.4085 x 8192 x (2 x 4096 + 3 x 14336) x 2 B = 1.1815e9 B = 1.1004 GiB
    sampler    = 15.4543 x min(1024, 8192) x 128,256 = 2.0297e9 B     = 1.8903 GiB
    activation = max(forward, sampler)                               = 1.8903 GiB
    KV free    = 75.2305 - 14.9570 - 1.8903 - 0.2498                 = 58.1334 GiB
    KV/token   = 2 x 32 layers x 8 KV heads x 128 x 2 B = 131,072 B
    tokens     = 58.1334 x 2^30 / 131,072 = 58.1334 x 8192            = 476,228

    vLLM v0.19 logged 58.11 GiB and 476,016 tokens for this run (catalog/measured/memory.csv),
    0.04 % fewer.
    """
    d = resolve_deployment(cat, "llama-3.1-8b", "h100-sxm-80gb", "bf16", tp=1, mem_utilization=0.95,
                           max_num_seqs=1024)
    b = memory_breakdown(d, 0, 0)
    assert b.capacity / GIB == pytest.approx(75.2305, abs=1e-4)
    assert b.weights / GIB == pytest.approx(14.9570, abs=1e-4)
    assert perf.forward_activation_bytes(d.model, 1, 8192, 2.0, d.terms) / GIB == pytest.approx(1.1004, abs=1e-4)
    assert b.activations / GIB == pytest.approx(1.8903, abs=1e-4)
    assert b.overhead / GIB == pytest.approx(0.2498, abs=1e-4)
    assert (b.capacity - b.weights - b.activations - b.overhead) / GIB == pytest.approx(58.1334, abs=1e-3)
    assert kv_cache_tokens(d) == pytest.approx(476_228, abs=10)


def test_nontorch_memory_by_tp_and_stage():
    """Non-torch memory per GPU: 0.25 GiB at TP 1, 2.0 GiB at every TP >= 2 (NCCL and custom
    all-reduce buffers), 0.07 GiB on a pipeline stage that does not sample (terms of `_terms`)."""
    t = _terms()
    assert perf.runtime_overhead_bytes_per_gpu(1, t) == 0.25 * GIB
    assert perf.runtime_overhead_bytes_per_gpu(2, t) == perf.runtime_overhead_bytes_per_gpu(8, t) == 2.0 * GIB
    assert perf.runtime_overhead_bytes_per_gpu(1, t, last_stage=False) == 0.07 * GIB
    assert perf.runtime_overhead_bytes_per_gpu(4, t, last_stage=False) == 2.0 * GIB


def test_activation_peak_is_the_larger_of_forward_and_sampler(cat):
    """Qwen2.5-7B (hidden 3584, intermediate 18944, vocab 152,064), T = 8192 tokens, BF16, with
    factor 1.5 and 15 B per logit:
    forward at TP 1 = 1.5 x 8192 x (7168 + 56832) x 2 = 1,572,864,000 B;
    sampler at 1024 seqs = 15 x 1024 x 152064 = 2,335,703,040 B (the peak);
    sampler at 256 seqs = 583,925,760 B, so the forward pass is the peak;
    a stage that does not sample counts the forward pass only; at TP 4 the forward pass is
    1.5 x 8192 x (7168 + 14208) x 2 = 525,336,576 B."""
    m, t = cat.model("qwen2.5-7b"), _terms()
    assert perf.activation_bytes_per_gpu(m, 1, t, 8192, 1024) == pytest.approx(2_335_703_040)
    assert perf.activation_bytes_per_gpu(m, 1, t, 8192, 256) == pytest.approx(1_572_864_000)
    assert perf.activation_bytes_per_gpu(m, 1, t, 8192, 1024, last_stage=False) == pytest.approx(1_572_864_000)
    assert perf.forward_activation_bytes(m, 4, 8192, 2.0, t) == pytest.approx(525_336_576)
    # FP32 models keep 4-byte activations: the forward pass doubles.
    assert perf.activation_dtype_bytes(cat.precision("fp32")) == 4.0
    assert perf.activation_dtype_bytes(cat.precision("int4")) == 2.0


def test_reported_memory_sourced_and_defaulted(cat):
    """H100 80GB: 79.19 GiB, as vLLM logged it. H200 141GB has no sourced figure: 141 GB read as
    GiB x 0.9903 (median HBM fraction) = 139.63 GiB, marked defaulted. No GPU reports more than
    its datasheet figure read as GiB."""
    assert cat.gpu("h100-sxm-80gb").mem_reported_gib == 79.19
    h200 = cat.gpu("h200-sxm-141gb")
    terms = load_memory_terms()
    assert h200.mem_reported_gib == pytest.approx(141 * terms.reported_fraction_hbm, abs=1e-4)
    assert h200.mem_reported_note.startswith("defaulted")
    for g in cat.gpus.rows.values():
        assert 0 < g.mem_reported_gib <= g.mem_gb * 1.01, g.id
    # vLLM's large-GPU defaults compare the reported total with 70 GiB.
    assert perf.default_max_num_seqs(cat.gpu("h100-sxm-80gb")) == 1024
    assert perf.default_max_num_seqs(cat.gpu("l40s")) == 256


def test_reported_memory_file_errors_are_located():
    """An unknown GPU id and a figure above the datasheet are each reported at their line."""
    gpus = parse_gpus(*data_text("gpus.csv"))
    text = ("gpu,reported_gib,source,as_of,confidence,notes\n"
            "h100-sxm-80gb,90,x,2026-12-05,high,\n"
            "nope,10,x,2026-12-05,high,\n")
    with pytest.raises(CatalogError) as info:
        parse_reported(text, "r.csv", gpus)
    msg = str(info.value)
    assert "r.csv:2: reported_gib: reported_gib 90 is more than the datasheet 80 GB read as GiB" in msg
    assert "r.csv:3: gpu: unknown gpu 'nope'" in msg


def test_memory_terms_file_needs_every_term():
    text = "term,value,unit,source,as_of,notes\nnontorch_gib_tp1,0.25,GiB,x,2026-12-05,\n"
    with pytest.raises(CatalogError, match="missing terms: sampler_bytes_per_logit"):
        parse_terms(text, "t.csv")


def test_engine_settings_from_notes_and_columns():
    """`[params: ...]` in the notes gives the settings; a column of the same name wins."""
    row = {"notes": "[params: gpu_memory_utilization=0.95; max_model_len=8192; physical_gib=79.19] log ...",
           "max_model_len": "4096"}
    assert engine_settings(row) == {"gpu_memory_utilization": 0.95, "max_model_len": 4096.0}
    assert engine_settings({"notes": "no params"}) == {}


def test_memory_row_uses_the_stated_settings(cat):
    """A memory row's deployment carries the row's utilisation, and vLLM's defaults (said in the
    assumptions) for what it does not state."""
    header = "model,gpu,num_gpus,tp,pp,precision_weights,precision_kv,batch_size_or_concurrency,input_len,output_len,metric,value,notes\n"
    text = header + ("Llama-3.1-8B,H100-80GB,1,1,1,bf16,bf16,n/a (start-up),8192,0,kv_cache_tokens,476016,"
                     "[params: gpu_memory_utilization=0.95; max_model_len=8192]\n"
                     "Llama-3.1-8B,H100-80GB,1,1,1,bf16,bf16,n/a (start-up),8192,0,kv_cache_tokens,476016,\n")
    cases, skipped = V.read_cases(cat, text, "m.csv")
    assert not skipped
    assert cases[0].deployment.mem_utilization == 0.95 and cases[0].input_tokens == 8192
    assert cases[0].deployment.max_num_seqs == 1024
    assert any("max_num_seqs unstated" in a for a in cases[0].assumptions)
    assert cases[1].deployment.mem_utilization == 0.9
    assert any("gpu_memory_utilization unstated" in a for a in cases[1].assumptions)


def test_validate_memory_metrics_json(run_cli):
    """`planner validate catalog/measured/memory.csv --format json`: every one of the 61 rows is
    predicted, the five memory metrics are reported, and KV-cache tokens are within the bar
    (median <= 5 %, p90 <= 12 %)."""
    code, out, _err = run_cli(["validate", str(MEMORY_CSV), "--format", "json"])
    assert code == 0
    rep = json.loads(out)
    assert rep["skipped"] == []
    assert set(rep["metrics"]) == {"kv_cache_tokens", "kv_cache_gib_per_gpu", "weights_gib_per_gpu",
                                   "activation_gib_per_gpu", "nontorch_gib_per_gpu"}
    assert rep["groups"]["memory"]["n"] == 61
    kv = rep["metrics"]["kv_cache_tokens"]
    assert kv["n"] == 17 and kv["median_ape"] <= 0.05 and kv["p90_ape"] <= 0.12
    assert all(r["naive_predicted"] is None for r in rep["rows"])


def _fit_tool():
    spec = importlib.util.spec_from_file_location("fit_memory", REPO / "tools" / "fit_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def fitted():
    return _fit_tool().fit(str(MEMORY_CSV))


def test_fit_reproduces_the_shipped_terms(fitted):
    """tools/fit_memory.py on catalog/measured/memory.csv gives catalog/memory_terms.csv (4 decimals)."""
    terms, _loss, cases, skipped = fitted
    shipped = load_memory_terms()
    assert len(cases) == 61 and not skipped
    for name in (*ENGINE_TERMS, "reported_fraction_hbm", "reported_fraction_gddr"):
        assert getattr(terms, name) == pytest.approx(getattr(shipped, name), abs=5e-5), name


def test_leave_one_model_out_kv_tokens_within_bar(fitted):
    """Terms refitted without a model's rows predict that model's KV-cache tokens within the bar."""
    from planner.perf.memory_fit import fit_terms, with_terms

    terms, _loss, cases, _skipped = fitted
    held = []
    for model in sorted({c.deployment.model.id for c in cases}):
        other, _ = fit_terms([c for c in cases if c.deployment.model.id != model], terms)
        held += with_terms([c for c in cases if c.deployment.model.id == model and c.metric == "kv_cache_tokens"], other)
    rep = V.validate_cases(held, [], lambda g: None).report()["metrics"]["kv_cache_tokens"]
    assert rep["n"] == 17 and rep["median_ape"] <= 0.05 and rep["p90_ape"] <= 0.12
    assert math.isfinite(rep["p90_ape"])


def test_custom_gpu_without_reported_memory_reads_datasheet_as_gib(cat):
    """A GPU built outside the catalogue (no reported figure) falls back to datasheet GB read as GiB."""
    g = dataclasses.replace(cat.gpu("h100-sxm-80gb"), mem_reported_gib=None)
    assert perf.usable_memory_bytes(g, 0.5) == 40 * GIB
