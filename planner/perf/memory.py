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

from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Precision
from planner.units import GIB

DEFAULT_MEM_UTILIZATION = 0.9
"""Fraction of GPU memory the engine may use: vLLM's `gpu_memory_utilization` default (0.9)."""


CUDA_CONTEXT_BYTES = 0.75 * GIB
"""CUDA context, cuBLAS/cuDNN workspaces and CUDA-graph pools per GPU. vLLM start-up logs put CUDA
graph capture at 0.2-1 GiB and the context at ~0.3-0.5 GiB; 0.75 GiB is a mid estimate."""


TP_COMM_BUFFER_BYTES = 0.5 * GIB
"""NCCL and custom all-reduce buffers per GPU when tensor parallelism is on (TP >= 2). NCCL keeps
a few MiB per channel per peer; vLLM's custom all-reduce registers up to 8 MiB x 2 per rank plus
IPC handles; 0.5 GiB covers both with margin."""


DEFAULT_PREFILL_CHUNK_TOKENS = 8192
"""vLLM's default token budget of one iteration (`max_num_batched_tokens`, chunked prefill) for its
OpenAI server on GPUs with at least 70 GiB other than the A100."""
SMALL_GPU_PREFILL_CHUNK_TOKENS = 2048
"""The same default on every other GPU (the A100 80GB included)."""
LARGE_GPU_GIB = 70


def default_max_num_batched_tokens(gpu: Gpu) -> int:
    """vLLM's default `max_num_batched_tokens` for the OpenAI server: 8192 when the GPU has at least
    70 GiB and is not an A100 ("setting large max_num_batched_tokens for A100 reduces throughput",
    vLLM PR #17885), else 2048. Source: vLLM V1 `vllm/engine/arg_utils.py`,
    `EngineArgs.get_batch_defaults` (read 2026-12-04). Memory is the datasheet figure read as GiB,
    as in `usable_memory_bytes`."""
    large = gpu.mem_gb >= LARGE_GPU_GIB and "a100" not in f"{gpu.id} {gpu.name}".lower()
    return DEFAULT_PREFILL_CHUNK_TOKENS if large else SMALL_GPU_PREFILL_CHUNK_TOKENS


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


def activation_bytes_per_gpu(
    m: Model, tp: int, chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS, max_batch: int = 256
) -> float:
    """Peak activation and workspace memory of one forward pass, per GPU.

    For a chunk of T tokens the largest live tensors are the residual stream and attention output
    (about 4 x hidden per token), the MLP's gate and up projections (2 x intermediate / tp per
    token, or per active expert for MoE) at 16 bits, plus FP32 logits for the sequences sampled in a
    step (batch x vocab / tp x 4 bytes). This is what vLLM's profiling run measures before sizing
    the KV cache.
    """
    inter = m.moe_intermediate_size * max(1, m.n_experts_active) if m.is_moe else m.intermediate_size
    per_token = (4.0 * m.hidden_size + 2.0 * inter / tp) * ACTIVATION_BYTES
    logits = max_batch * m.vocab_size / tp * 4.0
    return chunk_tokens * per_token + logits


def runtime_overhead_bytes_per_gpu(tp: int) -> float:
    """CUDA context, library workspaces and CUDA graphs, plus communication buffers when TP >= 2."""
    return CUDA_CONTEXT_BYTES + (TP_COMM_BUFFER_BYTES if tp >= 2 else 0.0)


def usable_memory_bytes(gpu: Gpu, mem_utilization: float = DEFAULT_MEM_UTILIZATION) -> float:
    """Memory the engine may use on one GPU: datasheet capacity x utilisation fraction.

    Datasheet "80 GB" is read as 80 GiB: drivers report ~80 GiB on such cards (A100 80GB: 81,920 MiB).
    """
    return gpu.mem_gb * GIB * mem_utilization


def max_sequences(free_bytes: float, kv_bytes_per_seq: float) -> int:
    """Concurrent sequences that fit: floor(free memory / KV bytes of one sequence), the latter from
    `kv_cache_bytes_per_sequence` (not per token x context, which overcounts sliding-window layers)."""
    if kv_bytes_per_seq <= 0:
        return 0
    return max(0, int(free_bytes // kv_bytes_per_seq))
