"""The seeds' worked examples, reproduced with the seeds' own assumptions passed explicitly.

Seed 002: GPU memory rule of thumb (1.2 x weights). Seed 003: weights (formula A), KV cache
(formula B), bandwidth needed for a decode rate, tensor-parallel bandwidth with a communication
loss, prefill FLOPs and TTFT at an assumed MFU. Where the calibrated model disagrees with a
seed's conclusion, the test says so and checks the calibrated figure instead.
"""

from __future__ import annotations

import dataclasses

import pytest

from planner import perf
from planner.perf.estimate import evaluate, resolve_deployment

GB = 1e9


@pytest.fixture
def llama3_70b(cat):
    return cat.model("llama-3-70b")


@pytest.fixture
def seed_70b(llama3_70b):
    """Seed 003 rounds Llama-3-70B to 70 B parameters."""
    return dataclasses.replace(llama3_70b, params_b=70.0, active_params_b=70.0)


def test_llama3_70b_fp16_weights_140_gb(cat, seed_70b, llama3_70b):
    """Seed 003 formula A: 70 B x 2 bytes = 140 GB; the catalogue's 70.55 B gives 141.1 GB."""
    fp16 = cat.precision("fp16")
    assert perf.weight_bytes(seed_70b, fp16) == pytest.approx(140 * GB)
    assert perf.weight_bytes(llama3_70b, fp16) == pytest.approx(70.55e9 * 2)


def test_llama3_70b_kv_cache_8k(cat, llama3_70b):
    """Seed 003 formula B: 2 x 80 layers x 8 KV heads x 128 head dim x 8,192 tokens x 2 bytes
    = 2,684,354,560 bytes ~= 2.68 GB; with full multi-head attention (64 KV heads) 8x that."""
    assert (llama3_70b.n_layers, llama3_70b.n_kv_heads, llama3_70b.head_dim) == (80, 8, 128)
    kv = perf.kv_cache_bytes(llama3_70b, kv_bytes=2, tokens=8192, batch=1)
    assert kv == 2 * 80 * 8 * 128 * 8192 * 2 == 2_684_354_560
    assert kv / GB == pytest.approx(2.68, abs=0.01)
    mha = dataclasses.replace(llama3_70b, n_kv_heads=64, attention="mha")
    assert perf.kv_cache_bytes(mha, 2, 8192) == 8 * kv
    assert perf.kv_cache_bytes(mha, 2, 8192) / GB == pytest.approx(21.47, abs=0.01)


def test_llama3_70b_fp16_total_145_gb_fits_two_a100_not_one(cat, seed_70b):
    """Seed 003: 140 + 2.7 + buffer ~= 145 GB, over one A100 80 GB, within two at TP=2.

    The seed's buffer is "1-2 GB" of activations plus framework overhead; with 2 GB:
    140 + 2.68 + 2 = 144.7 GB. Checked both by the seed's sum and by the full memory model.
    """
    total = perf.weight_bytes(seed_70b, cat.precision("fp16")) + perf.kv_cache_bytes(seed_70b, 2, 8192) + 2 * GB
    assert total / GB == pytest.approx(145, abs=0.5)
    assert total > 80 * GB and total / 2 < 80 * GB
    for tp, fits in ((1, False), (2, True)):
        d = resolve_deployment(cat, "llama-3-70b", "a100-sxm-80gb", "fp16", tp=tp)
        e = evaluate(d, cat.efficiency_for(d.gpu), input_tokens=8191, output_tokens=1, batch=1)
        assert e.fits is fits, f"TP={tp}"


def test_llama2_70b_uses_gqa_despite_seed(cat):
    """Seed 003 says Llama-2-70B lacks GQA (so its KV would be 8x); its HF config has 8 KV heads.
    The catalogue follows the config: same KV per token as Llama-3-70B. Only Llama-2 7B/13B are MHA."""
    l2 = cat.model("llama-2-70b")
    assert l2.n_kv_heads == 8 and l2.attention == "gqa"
    assert perf.kv_cache_bytes_per_token(l2, 2) == perf.kv_cache_bytes_per_token(cat.model("llama-3-70b"), 2)
    for small in ("llama-2-7b", "llama-2-13b"):
        m = cat.model(small)
        assert m.n_kv_heads == m.n_heads and m.attention == "mha"


def test_20_tokens_per_s_needs_2800_gb_per_s_two_a100_give_3289(cat):
    """Seed 003: 140 GB x 20 tokens/s = 2,800 GB/s; two A100s (1,935 GB/s, the PCIe 80 GB
    datasheet figure) with 15 % communication loss: 2 x 1,935 x 0.85 = 3,289.5 GB/s >= 2,800."""
    need = perf.required_bandwidth_gb_per_s(140 * GB, 20)
    assert need == pytest.approx(2800)
    a100 = cat.gpu("a100-pcie-80gb")
    assert a100.mem_bw_gb_per_s == 1935
    have = perf.tp_effective_bandwidth_gb_per_s(a100.mem_bw_gb_per_s, 2, 0.15)
    assert have == pytest.approx(3289.5)
    assert have >= need


def test_calibrated_model_on_two_a100_fp16_is_close_to_20_tokens_per_s(cat):
    """The calibrated model is more cautious than the seed: 2 x A100 SXM 80GB, FP16, 8k context,
    batch 1 decodes at 15-22 tokens/s (measured A100 decode reaches ~70-75 % of datasheet
    bandwidth, not the seed's 85 %). The seed's '>= 20 tokens/s' is borderline, not comfortable."""
    d = resolve_deployment(cat, "llama-3-70b", "a100-sxm-80gb", "fp16", tp=2)
    e = evaluate(d, cat.efficiency_for(d.gpu), input_tokens=8000, output_tokens=192, batch=1)
    assert 15 <= e.decode_tokens_per_s_per_request <= 22
    assert e.bottleneck == "bandwidth"


def test_int4_weights_35_gb_total_40_gb(cat, seed_70b):
    """Seed 003 W4A16: 70 B x 0.5 bytes = 35 GB; + 2.68 GB KV + ~2 GB buffer ~= 40 GB, which fits
    one 48 GB card and needs two 24 GB RTX 4090s (40 > 24, 40 / 2 = 20 < 24)."""
    int4 = cat.precision("int4")
    weights = perf.weight_bytes(seed_70b, int4, quantize_all=True)
    assert weights == pytest.approx(35 * GB)
    total = weights + perf.kv_cache_bytes(seed_70b, 2, 8192) + 2 * GB
    assert total / GB == pytest.approx(40, abs=0.5)
    assert total < 48 * GB
    rtx4090 = cat.gpu("rtx 4090")
    assert total > rtx4090.mem_gb * GB and total / 2 < rtx4090.mem_gb * GB


def test_int4_with_real_quantisation_overheads(cat, llama3_70b):
    """With AWQ/GPTQ group scales (4 + 20/128 bits) and FP16 embeddings and lm_head (2 x 128,256 x
    8,192 = 2.10 B params), Llama-3-70B INT4 weights are (70.55 - 2.10) B x 4.156 / 8 + 2.10 B x 2
    = 35.56 + 4.20 = 39.76 GB. It still fits one 48 GB card (RTX 6000 Ada) at 8k context, not one
    RTX 4090, and fits two RTX 4090s at TP=2 once the engine may use 95 % of memory (at vLLM's
    default 90 % it is ~0.4 GiB short)."""
    int4 = cat.precision("int4")
    emb = 128256 * 8192
    expected = (70.55e9 - 2 * emb) * (4 + 20 / 128) / 8 + 2 * emb * 2
    assert perf.weight_bytes(llama3_70b, int4) == pytest.approx(expected)
    assert expected / GB == pytest.approx(39.76, abs=0.02)

    def fits(gpu: str, tp: int, util: float = 0.9) -> bool:
        d = resolve_deployment(cat, "llama-3-70b", gpu, "int4", tp=tp, mem_utilization=util)
        return evaluate(d, cat.efficiency_for(d.gpu), input_tokens=8191, output_tokens=1, batch=1).fits

    assert fits("rtx-6000-ada-48gb", 1)
    assert not fits("rtx-4090-24gb", 1)
    assert not fits("rtx-4090-24gb", 2, 0.90)
    assert fits("rtx-4090-24gb", 2, 0.95)


def test_int4_needs_700_gb_per_s_under_4090s_1008(cat):
    """Seed 003: 35 GB x 20 tokens/s = 700 GB/s, below the RTX 4090's 1,008 GB/s."""
    assert perf.required_bandwidth_gb_per_s(35 * GB, 20) == pytest.approx(700)
    assert cat.gpu("4090").mem_bw_gb_per_s == 1008


def test_qwen72b_prefill_flops_and_ttft_on_4090_int8(cat):
    """Seed 003: Qwen-72B costs 2 x 72 B = 144 GFLOPs per token; a 2,000-token prompt is 288
    TFLOPs; an RTX 4090 at INT8 (660 TOPS dense) and 50 % MFU takes 288 / 330 = 0.87 s."""
    qwen = dataclasses.replace(cat.model("qwen-72b"), active_params_b=72.0)
    assert cat.model("qwen-72b").params_b == pytest.approx(72, rel=0.01)
    assert perf.linear_flops(qwen, 1) == pytest.approx(144e9)
    flops = perf.linear_flops(qwen, 2000)
    assert flops == pytest.approx(288e12)
    rtx4090 = cat.gpu("4090")
    assert rtx4090.tflops("int8") == pytest.approx(660.6)
    assert perf.compute_time_s(flops, 660, 0.5) == pytest.approx(0.873, abs=0.001)
    # Attention adds L^2 work on top: 2 x 80 layers x 64 heads x 128 x 2000^2 = 10.5 TFLOPs (3.6 %).
    assert perf.prefill_flops(qwen, 2000) - flops == pytest.approx(2 * 80 * 64 * 128 * 2000**2)


def test_2000_tokens_per_s_one_4090_int8_yes_one_a100_fp16_no(cat):
    """Seed 003: 2,000 tokens/s x 144 GFLOPs = 288 TFLOPS needed. One 4090 at INT8 gives
    660 x 50 % = 330 >= 288; one A100 at FP16 gives 312 x ~48 % = 150 < 288."""
    need = 2000 * 144e9 / 1e12
    assert need == pytest.approx(288)
    assert cat.gpu("4090").tflops("int8") * 0.5 >= need
    a100 = cat.gpu("a100")
    assert a100.tflops("fp16") == 312
    assert a100.tflops("fp16") * 0.48 < need


@pytest.mark.parametrize("bits, expected_gb", [(32, 336), (16, 168), (8, 84), (4, 42)])
def test_seed002_rule_of_thumb(bits, expected_gb):
    """Seed 002: M = P x 4 bytes / (32 / Q) x 1.2; 70 B -> 336 / 168 / 84 / 42 GB at 32/16/8/4 bits."""
    assert perf.seed_memory_rule_of_thumb_bytes(70e9, bits) / GB == pytest.approx(expected_gb)


def test_h100_dense_not_sparse(cat):
    """Seed 003's table quotes H100 FP16 at 1,979 TFLOPS: the datasheet's figure with 2:4
    sparsity. The catalogue holds the dense 989.5 (half), and FP8 1,979 dense (sparse 3,958)."""
    h100 = cat.gpu("H100")
    assert h100.tflops("fp16") == pytest.approx(989.5)
    assert h100.tflops("fp16") == pytest.approx(1979 / 2)
    assert h100.tflops("fp8") == pytest.approx(1979)
