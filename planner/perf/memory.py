"""Memory per GPU: weights, KV cache, activations, runtime overhead, usable capacity and the largest batch.

Pure formulas, one function per formula, no I/O; units in every name. Seed 002: GPU memory ~=
params x (bits / 8) x 1.2. Seed 003 formula A: weight memory (GB) = params (billions) x bytes per
parameter; formula B: KV cache = 2 x layers x KV heads x head dim x context x batch x bytes. Layers with a
sliding (or chunked local) attention window keep at most `sliding_window` tokens, so a sequence's
KV cache is `kv_cache_bytes_per_sequence`, linear in context only up to the window.
"""

from __future__ import annotations

import math

import numpy as np

from planner.catalog.gpu_memory import MemoryTerms
from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Precision
from planner.units import GIB

DEFAULT_MEM_UTILIZATION = 0.9
"""Fraction of GPU memory the engine may use: vLLM's `gpu_memory_utilization` default (0.9)."""


DEFAULT_PREFILL_CHUNK_TOKENS = 8192
"""vLLM's default token budget of one iteration (`max_num_batched_tokens`, chunked prefill) for its
OpenAI server on GPUs with at least 70 GiB other than the A100."""
SMALL_GPU_PREFILL_CHUNK_TOKENS = 2048
"""The same default on every other GPU (the A100 80GB included)."""
LARGE_GPU_MAX_NUM_SEQS = 1024
"""vLLM's default `max_num_seqs` for its OpenAI server on the same large GPUs."""
SMALL_GPU_MAX_NUM_SEQS = 256
"""The same default on every other GPU."""
LARGE_GPU_GIB = 70


def reported_memory_gib(gpu: Gpu) -> float:
    """Total memory the driver reports for `gpu` (GiB): what `torch.cuda.mem_get_info()` gives vLLM.

    The catalogue sets it on every GPU (`planner.catalog.gpu_memory`: a sourced figure, e.g. 79.19
    GiB for an "80 GB" H100, or datasheet GB read as GiB x the reported fraction of its memory
    class); a GPU built outside the catalogue falls back to its datasheet GB read as GiB.
    """
    return gpu.mem_reported_gib if gpu.mem_reported_gib is not None else gpu.mem_gb


def _large_gpu(gpu: Gpu) -> bool:
    return reported_memory_gib(gpu) >= LARGE_GPU_GIB and "a100" not in f"{gpu.id} {gpu.name}".lower()


def default_max_num_batched_tokens(gpu: Gpu) -> int:
    """vLLM's default `max_num_batched_tokens` for the OpenAI server: 8192 when the GPU reports at
    least 70 GiB and is not an A100 ("setting large max_num_batched_tokens for A100 reduces
    throughput", vLLM PR #17885), else 2048. Source: vLLM V1 `vllm/engine/arg_utils.py`,
    `EngineArgs.get_batch_defaults` (read 2026-12-04), which compares the device's total memory as
    the platform reports it (`reported_memory_gib`)."""
    return DEFAULT_PREFILL_CHUNK_TOKENS if _large_gpu(gpu) else SMALL_GPU_PREFILL_CHUNK_TOKENS


def default_max_num_seqs(gpu: Gpu) -> int:
    """vLLM's default `max_num_seqs` for the OpenAI server: 1024 on the same large GPUs as
    `default_max_num_batched_tokens`, else 256 (same source, `default_max_num_seqs`)."""
    return LARGE_GPU_MAX_NUM_SEQS if _large_gpu(gpu) else SMALL_GPU_MAX_NUM_SEQS


ACTIVATION_BYTES = 2
"""Activations and all-reduce payloads are 16-bit in every supported engine."""


def weight_bytes(m: Model, p: Precision, *, quantize_all: bool = False) -> float:
    """Bytes of all weights at precision `p` (seed 003 formula A, refined).

    weights = (params - unquantised) x bits_per_weight / 8 + unquantised x 2, where bits_per_weight
    includes group scales (e.g. INT4 g128 with FP16 scale and 4-bit zero: 4 + 20/128 = 4.16) and the
    unquantised parts (embeddings, lm_head) stay 16-bit as AWQ/GPTQ/FP8 checkpoints keep them.
    `quantize_all=True` gives the seed's plain params x bytes (e.g. 70e9 x 0.5 = 35 GB).

    Example (seed 003): Llama-3-70B at FP16 -> 70e9 x 2 = 140 GB.
    """
    params = m.params_b * 1e9
    if quantize_all or p.bits_per_weight >= 16:
        bits = p.weight_bits if quantize_all else p.bits_per_weight
        return params * bits / 8.0
    unq = 0.0
    if "embeddings" in p.unquantized:
        unq += m.vocab_size * m.hidden_size
    if "lm_head" in p.unquantized and not m.tied_embeddings:
        unq += m.vocab_size * m.hidden_size
    unq = min(unq, params)
    return (params - unq) * p.bytes_per_weight + unq * 2.0


def weight_bytes_per_gpu(m: Model, p: Precision, tp: int, pp: int = 1) -> float:
    """Weights are sharded evenly over the TP x PP GPUs of a replica (Megatron-style column/row
    splits; vocabulary-parallel embeddings)."""
    return weight_bytes(m, p) / (tp * pp)


def seed_memory_rule_of_thumb_bytes(params: float, bits: float) -> float:
    """Seed 002: M = P x 4 bytes / (32 / Q) x 1.2, i.e. params x bits / 8 x 1.2.

    Example: 70e9 params at 16 bits -> 168 GB; at 32 / 8 / 4 bits -> 336 / 84 / 42 GB.
    """
    return params * 4.0 / (32.0 / bits) * 1.2


def kv_cache_bytes_per_token(m: Model, kv_bytes: float) -> float:
    """KV-cache bytes one token occupies across the whole model (seed 003 formula B, per token),
    i.e. in every layer: the cost of a token while the context is within every window (for a
    sequence past a sliding window use `kv_cache_bytes_per_sequence`).

    MHA/GQA: 2 (K and V) x layers x KV heads x head_dim x bytes.
    MLA: layers x (kv_lora_rank + qk_rope_head_dim) x bytes: DeepSeek-V2/V3 cache one compressed
    latent plus a shared RoPE key per token (DeepSeek-V2 paper, arXiv:2405.04434, sec. 2.1).

    Example: Llama-3-70B (80 layers, 8 KV heads, head_dim 128) at FP16 -> 2 x 80 x 8 x 128 x 2
    = 327,680 bytes per token; x 8,192 tokens = 2.68 GB.
    """
    if m.attention == "mla" and m.kv_lora_rank:
        return m.n_layers * (m.kv_lora_rank + (m.qk_rope_head_dim or 0)) * kv_bytes
    return 2.0 * m.n_layers * m.n_kv_heads * m.head_dim * kv_bytes


def kv_heads_per_gpu(m: Model, tp: int) -> float:
    """KV heads each GPU stores under tensor parallelism.

    Split evenly when there are at least as many KV heads as GPUs; otherwise each GPU keeps one
    head, replicated (vLLM and TensorRT-LLM replicate KV heads when tp > n_kv_heads). MLA's latent
    is not split by heads: every GPU holds it whole (returned as the full count).
    """
    if m.attention == "mla":
        return float(m.n_kv_heads)
    return float(max(1, math.ceil(m.n_kv_heads / tp)))


def kv_cache_bytes_per_token_per_gpu(m: Model, kv_bytes: float, tp: int, pp: int = 1) -> float:
    """KV bytes per token on one GPU: the per-token total scaled by the heads that GPU keeps, over
    its PP stage's share of the layers."""
    full = kv_cache_bytes_per_token(m, kv_bytes)
    share = kv_heads_per_gpu(m, tp) / m.n_kv_heads if m.attention != "mla" else 1.0
    return full * share / pp


def kv_cache_layer_tokens(m: Model, context_tokens):
    """(layer, token) pairs one sequence of `context_tokens` keeps in its KV cache: every
    full-attention layer keeps every token, a sliding-window layer at most the window:
    (n_layers - S) x c + S x min(c, W), S = n_sliding_layers, W = sliding_window.

    Works elementwise on an array of contexts. Example: Gemma-3-27B (62 layers, 52 sliding with
    W = 1,024) at c = 8,192 -> 10 x 8,192 + 52 x 1,024 = 135,168 instead of 62 x 8,192 = 507,904.
    """
    capped = np.minimum(context_tokens, m.sliding_window) if np.ndim(context_tokens) else min(
        context_tokens, m.sliding_window)
    return m.n_full_attention_layers * context_tokens + m.n_sliding_layers * capped


def kv_cache_bytes_per_sequence(m: Model, kv_bytes: float, context_tokens, tp: int = 1, pp: int = 1):
    """KV-cache bytes one sequence of `context_tokens` holds on one GPU of a TP x PP replica.

    No window: KV bytes per token per GPU x context (seed 003 formula B, per sequence). With
    sliding-window layers: KV bytes per token per GPU / n_layers x `kv_cache_layer_tokens`, so the
    sliding layers stop growing past the window (vLLM's hybrid KV-cache manager frees the blocks
    that leave the window). Learned attention sinks (gpt-oss) are one logit per head per layer in
    the weights, not cached per token: no KV memory. Elementwise on an array of contexts.

    Example: Gemma-3-27B (16 KV heads x head_dim 128, 62 layers, 52 with a 1,024-token window) at
    FP16: 2 x 16 x 128 x 2 = 8,192 B per token per layer; at 8,192 tokens 8,192 x 135,168 =
    1,107,296,256 B (1.03 GiB) instead of 8,192 x 507,904 = 4.16 GB without the window.
    """
    per_token = kv_cache_bytes_per_token_per_gpu(m, kv_bytes, tp, pp)
    if not m.n_sliding_layers:
        return per_token * context_tokens
    return per_token / m.n_layers * kv_cache_layer_tokens(m, context_tokens)


def kv_cache_bytes_read_per_decode_step(m: Model, kv_bytes: float, batch, context, tp: int = 1, pp: int = 1):
    """KV bytes one decode step reads on one GPU: every cached entry of `batch` sequences of mean
    length `context` (a sliding layer attends to its window only). Elementwise on arrays."""
    if not m.n_sliding_layers:
        return batch * context * kv_cache_bytes_per_token_per_gpu(m, kv_bytes, tp, pp)
    return batch * kv_cache_bytes_per_sequence(m, kv_bytes, context, tp, pp)


def kv_cache_bytes(m: Model, kv_bytes: float, tokens: int, batch: int = 1) -> float:
    """Seed 003 formula B: 2 x layers x KV heads x head_dim x context x batch x bytes (sliding
    layers capped at their window, see `kv_cache_bytes_per_sequence`)."""
    return kv_cache_bytes_per_sequence(m, kv_bytes, tokens) * batch


def activation_dtype_bytes(p: Precision) -> float:
    """Bytes of one activation value: 4 for an FP32 model, else 2 (FP16/BF16 models and every
    quantised format, whose activations stay 16-bit in vLLM)."""
    return 4.0 if p.compute == "fp32" else ACTIVATION_BYTES


def forward_activation_bytes(m: Model, tp: int, chunk_tokens: int, dtype_bytes: float, terms: MemoryTerms) -> float:
    """Peak of one forward pass over a chunk of T tokens, per GPU:

        forward_activation_factor x T x (2 x hidden + 3 x intermediate / TP) x dtype bytes.

    Inside the MLP the residual and normed hidden states (2 x hidden per token) live beside the
    gate/up output (2 x intermediate / TP) and its SiLU-and-mul product (intermediate / TP); MoE
    models count their active experts' intermediate. The factor (fitted on vLLM v0.19 logs by
    `tools/fit_memory.py`) covers what the count leaves out (attention, allocator rounding).
    Example: Llama-3.1-8B (hidden 4096, intermediate 14336) at TP 1, T = 8192, BF16, factor 1.4:
    1.4 x 8192 x (8192 + 43008) x 2 = 1.17e9 bytes = 1.09 GiB (the log of a first pipeline stage,
    which never samples, shows 1.1 GiB).
    """
    inter = m.moe_intermediate_size * max(1, m.n_experts_active) if m.is_moe else m.intermediate_size
    return terms.forward_activation_factor * chunk_tokens * (2.0 * m.hidden_size + 3.0 * inter / tp) * dtype_bytes


def sampler_activation_bytes(m: Model, max_num_seqs: int, chunk_tokens: int, terms: MemoryTerms) -> float:
    """Peak of the profiling run's sampler, per GPU: sampler_bytes_per_logit x R x vocab, with
    R = min(max_num_seqs, T) dummy requests (vLLM V1 `GPUModelRunner._dummy_run`: num_reqs =
    min(num_tokens, max_num_reqs); `profile_run` then samples their logits, gathered whole on every
    TP rank). The logits in the model dtype, their FP32 copy, the probabilities and sort buffers
    make ~15 bytes per logit (fitted). Example: Llama-3.1-8B (vocab 128,256) with vLLM's H100
    default max_num_seqs 1024 at 15.4 bytes: 15.4 x 1024 x 128256 = 2.02e9 bytes = 1.88 GiB (the
    logs show 1.89 GiB at TP 1, 2 and 4 alike).
    """
    return terms.sampler_bytes_per_logit * min(max_num_seqs, chunk_tokens) * m.vocab_size


def activation_bytes_per_gpu(
    m: Model, tp: int, terms: MemoryTerms, chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS,
    max_num_seqs: int = SMALL_GPU_MAX_NUM_SEQS, dtype_bytes: float = ACTIVATION_BYTES, last_stage: bool = True,
) -> float:
    """PyTorch's peak of vLLM's profiling run beyond the weights, per GPU ("torch peak"):
    max(forward pass, sampler) on the stage that samples (the last pipeline stage, or the only one),
    the forward pass alone on the others. vLLM measures this before sizing the KV cache."""
    forward = forward_activation_bytes(m, tp, chunk_tokens, dtype_bytes, terms)
    if not last_stage:
        return forward
    return max(forward, sampler_activation_bytes(m, max_num_seqs, chunk_tokens, terms))


def runtime_overhead_bytes_per_gpu(tp: int, terms: MemoryTerms, last_stage: bool = True) -> float:
    """Memory outside PyTorch's allocator per GPU ("non-torch memory" in vLLM's log): CUDA context
    and library workspaces, plus NCCL and custom all-reduce buffers when TP >= 2. Fitted on vLLM
    v0.19 logs: ~0.25 GiB at TP 1 and ~2.1 GiB at TP >= 2 on the stage that samples, ~0.07 GiB on
    a pipeline stage that does not."""
    if tp >= 2:
        return terms.nontorch_gib_tp2plus * GIB
    return (terms.nontorch_gib_tp1 if last_stage else terms.nontorch_gib_pp_stage) * GIB


def usable_memory_bytes(gpu: Gpu, mem_utilization: float = DEFAULT_MEM_UTILIZATION) -> float:
    """The engine's memory budget on one GPU: gpu_memory_utilization x the total the driver reports
    (vLLM: `requested_memory = total_memory x gpu_memory_utilization`); weights, activation peak,
    non-torch memory and the KV cache share it.

    Example: H100 80GB reports 79.19 GiB; at 0.95 the budget is 75.23 GiB.
    """
    return reported_memory_gib(gpu) * GIB * mem_utilization


def max_sequences(free_bytes: float, kv_bytes_per_seq: float) -> int:
    """Concurrent sequences that fit: floor(free memory / KV bytes of one sequence), the latter from
    `kv_cache_bytes_per_sequence` (not per token x context, which overcounts sliding-window layers)."""
    if kv_bytes_per_seq <= 0:
        return 0
    return max(0, int(free_bytes // kv_bytes_per_seq))
