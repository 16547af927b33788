"""Formula unit tests (arithmetic in each docstring) and properties of the performance model."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import perf
from planner.catalog.precisions import Efficiency
from planner.catalog.store import load_catalog
from planner.perf.estimate import evaluate, max_batch, resolve_deployment

CAT = load_catalog()
EFF = Efficiency("test", bw_eff=0.8, decode_mfu=0.5, prefill_mfu=0.5, comm_eff=0.7, step_overhead_ms=0.5,
                 source="test", as_of="2026-11-21")


def test_kv_split_across_tp_and_replicated_beyond_kv_heads():
    """Llama-3-70B has 8 KV heads: at TP=4 each GPU keeps 2 heads (1/4 of the KV per token), at
    TP=8 one head (1/8). Qwen3-30B-A3B has 4 KV heads: at TP=8 each GPU still keeps 1 head, i.e.
    1/4 of its KV per token, each head replicated on 2 GPUs."""
    m = CAT.model("llama-3-70b")
    full = perf.kv_cache_bytes_per_token(m, 2)
    assert perf.kv_cache_bytes_per_token_per_gpu(m, 2, 4) == pytest.approx(full / 4)
    assert perf.kv_cache_bytes_per_token_per_gpu(m, 2, 8) == pytest.approx(full / 8)
    q = CAT.model("qwen3-30b-a3b")
    assert q.n_kv_heads == 4
    assert perf.kv_cache_bytes_per_token_per_gpu(q, 2, 8) == pytest.approx(perf.kv_cache_bytes_per_token(q, 2) / 4)


def test_mla_kv_is_latent_and_not_split():
    """DeepSeek-V3 caches 512 (latent) + 64 (RoPE key) values per token per layer: 61 x 576 x 2
    bytes = 70,272 bytes at FP16, the same on every TP rank."""
    m = CAT.model("deepseek-v3")
    assert perf.kv_cache_bytes_per_token(m, 2) == 61 * 576 * 2 == 70_272
    assert perf.kv_cache_bytes_per_token_per_gpu(m, 2, 8) == 70_272


def test_allreduce_ring_formula():
    """Ring all-reduce: latency + 2 (p - 1) / p x bytes / bandwidth. 8 GPUs, 16 MB, 450 GB/s one
    way, 100 % efficiency, 10 us: 1e-5 + 1.75 x 16e6 / 450e9 = 1e-5 + 6.222e-5 = 7.222e-5 s."""
    assert perf.allreduce_time_s(16e6, 8, 450, 1.0, 1e-5) == pytest.approx(7.2222e-5, rel=1e-4)
    assert perf.allreduce_time_s(16e6, 1, 450, 1.0, 1e-5) == 0.0


def test_link_falls_back_to_pcie_outside_the_scaleup_domain():
    """A100 PCIe bridges join pairs (600 GB/s bidirectional -> 300 one way); a TP=4 group of them
    talks over PCIe Gen4 (64 GB/s bidirectional -> 32). RTX 4090 has no link: PCIe at any TP."""
    a100p = CAT.gpu("a100-pcie-80gb")
    assert perf.link_gb_per_s(a100p, 2) == (300.0, "nvlink-bridge")
    assert perf.link_gb_per_s(a100p, 4) == (32.0, "pcie")
    assert perf.link_gb_per_s(CAT.gpu("4090"), 2)[1] == "pcie"


def test_moe_experts_touched():
    """Mixtral (8 experts, top-2): one token touches 2 experts; 8 x (1 - (6/8)^2) = 3.5 for two
    tokens; a large batch touches all 8, so decode reads all weights."""
    assert perf.expected_experts_touched(8, 2, 1) == pytest.approx(2)
    assert perf.expected_experts_touched(8, 2, 2) == pytest.approx(3.5)
    assert perf.expected_experts_touched(8, 2, 1000) == pytest.approx(8)
    m, p = CAT.model("mixtral-8x7b"), CAT.precision("fp16")
    assert perf.decode_weight_bytes_read_per_gpu(m, p, 1, 10_000) == pytest.approx(perf.weight_bytes(m, p))
    assert perf.decode_weight_bytes_read_per_gpu(m, p, 1, 1) < 0.4 * perf.weight_bytes(m, p)


def test_param_count_matches_catalogue_for_dense_models():
    """The architecture formula reproduces each dense catalogue model's published/computed count to 3 %."""
    for m in CAT.models.rows.values():
        if m.is_moe:
            continue
        total, _ = perf.param_count(m)
        assert total / 1e9 == pytest.approx(m.params_b, rel=0.03), m.id


def test_int4_bits_per_weight():
    """AWQ/GPTQ INT4 g128: 4 bits + (16-bit scale + 4-bit zero) / 128 = 4.15625 bits per weight."""
    assert CAT.precision("int4").bits_per_weight == pytest.approx(4.15625)


# --- properties ------------------------------------------------------------------------------

models = st.sampled_from(sorted(CAT.models.rows))
contexts = st.integers(min_value=1, max_value=200_000)


@given(models, contexts, st.integers(1, 64))
def test_kv_linear_in_context_and_batch(model_id, tokens, batch):
    """KV cache = per-token bytes x tokens x batch: exactly linear in the batch, and in the context
    up to the sliding window of models that have one (beyond it, sliding layers stop growing: the
    cache is at most linear, and at least the global layers' share of it)."""
    m = CAT.model(model_id)
    one = perf.kv_cache_bytes(m, 2, 1, 1)
    kv = perf.kv_cache_bytes(m, 2, tokens, batch)
    assert kv == pytest.approx(perf.kv_cache_bytes(m, 2, tokens, 1) * batch)
    if not m.n_sliding_layers or tokens <= m.sliding_window:
        assert kv == pytest.approx(one * tokens * batch)
    else:
        assert one * tokens * batch * m.n_full_attention_layers / m.n_layers <= kv < one * tokens * batch


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["llama-3.1-8b", "llama-3-70b", "mixtral-8x7b", "qwen2.5-32b"]),
       st.sampled_from(["h100-sxm-80gb", "a100-sxm-80gb", "l40s-48gb"]),
       st.integers(1, 255), st.integers(1, 8192))
def test_decode_step_grows_with_batch_and_context(model_id, gpu_id, batch, context):
    """A larger batch or a longer context never makes a decode step faster."""
    m, g, p = CAT.model(model_id), CAT.gpu(gpu_id), CAT.precision("fp16")
    t = perf.decode_step_time(m, g, p, 2, 2, batch, context, EFF).total_s
    assert perf.decode_step_time(m, g, p, 2, 2, batch + 1, context, EFF).total_s >= t
    assert perf.decode_step_time(m, g, p, 2, 2, batch, context + 1, EFF).total_s >= t


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["llama-3.1-8b", "llama-3-70b", "qwen2.5-72b"]), st.integers(16, 30_000))
def test_max_batch_never_grows_with_context_and_grows_with_tp(model_id, context):
    """Longer sequences leave room for no more of them; more GPUs in a TP group never fewer."""
    d1 = resolve_deployment(CAT, model_id, "h100", "fp8", tp=2, max_num_seqs=10**6)
    d2 = dataclasses.replace(d1, tp=4)
    assert max_batch(d1, context + 100) <= max_batch(d1, context)
    assert max_batch(d2, context) >= max_batch(d1, context)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8000), st.integers(1, 2000))
def test_throughput_rises_with_batch_and_tpot_limit_is_met(inp, out):
    """Best-batch throughput is at least batch-1 throughput, and a TPOT limit is respected
    whenever any batch can meet it."""
    d = resolve_deployment(CAT, "llama-3.1-8b", "h100", "fp8")
    eff = CAT.efficiency_for(d.gpu)
    one = evaluate(d, eff, inp, out, batch=1)
    best = evaluate(d, eff, inp, out)
    assert best.output_tokens_per_s >= one.output_tokens_per_s * 0.999
    limit = one.tpot_s * 1.5
    capped = evaluate(d, eff, inp, out, max_tpot_s=limit)
    assert capped.tpot_s <= limit or capped.batch == 1


def test_engine_token_budget_defaults_to_vllms():
    """vLLM V1's OpenAI-server default max_num_batched_tokens (`EngineArgs.get_batch_defaults` in
    vllm/engine/arg_utils.py): 8192 on GPUs with at least 70 GiB unless the name contains "a100"
    (PR #17885: a large budget lowers A100 throughput), else 2048. H100 80GB: 8192; A100 80GB and
    L40S 48GB: 2048; a budget the workload file sets wins."""
    from planner.perf.estimate import Deployment

    cat = load_catalog()
    assert perf.default_max_num_batched_tokens(cat.gpu("h100-sxm-80gb")) == 8192
    assert perf.default_max_num_batched_tokens(cat.gpu("a100-sxm4-80gb")) == 2048
    assert perf.default_max_num_batched_tokens(cat.gpu("l40s")) == 2048
    fp16 = cat.precision("fp16")
    d = Deployment(cat.model("llama-3.1-8b"), cat.gpu("h100-sxm-80gb"), fp16, fp16)
    assert d.chunk_tokens == 8192
    assert Deployment(d.model, d.gpu, fp16, fp16, max_num_batched_tokens=512).chunk_tokens == 512
