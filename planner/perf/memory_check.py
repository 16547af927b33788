"""Predicting an engine's start-up memory figures (the memory metrics of `planner validate`).

vLLM logs, per GPU, the weights ("Model loading took X GiB"), the profiling run's torch peak
(activation), the non-torch memory and the "Available KV cache memory"; and for the whole replica
"GPU KV cache size: N tokens". The per-GPU figures are rank 0's, which is the first pipeline stage
when PP > 1 (a stage that does not sample); the token count is the smallest over all ranks (vLLM
gives every rank the fewest blocks any rank can hold), which the last stage, the one that samples,
sets.
"""

from __future__ import annotations

from planner import perf
from planner.perf.estimate import Deployment, MemoryBreakdown, memory_breakdown
from planner.units import GIB


def kv_free_bytes(b: MemoryBreakdown) -> float:
    """What vLLM leaves for the KV cache on one GPU: capacity - weights - activation peak - non-torch."""
    return b.capacity - b.weights - b.activations - b.overhead


def kv_cache_tokens(d: Deployment) -> int:
    """Tokens the replica's KV cache holds: the fewest over its pipeline stages of
    floor(free KV bytes / KV bytes per token on one GPU)."""
    per_token = perf.kv_cache_bytes_per_token_per_gpu(d.model, d.kv_bytes, d.tp, d.pp)
    stages = [memory_breakdown(d, 0, 0, last_stage=True)]
    if d.pp > 1:
        stages.append(memory_breakdown(d, 0, 0, last_stage=False))
    return max(0, min(int(kv_free_bytes(b) // per_token) for b in stages))


def predict_memory(d: Deployment, metric: str) -> float:
    """The model's figure for a memory metric of `d` (GiB per GPU as rank 0 logs it, or tokens)."""
    if metric == "kv_cache_tokens":
        return float(kv_cache_tokens(d))
    b = memory_breakdown(d, 0, 0, last_stage=d.pp == 1)
    if metric == "kv_cache_gib_per_gpu":
        return kv_free_bytes(b) / GIB
    if metric == "weights_gib_per_gpu":
        return b.weights / GIB
    if metric == "activation_gib_per_gpu":
        return b.activations / GIB
    if metric == "nontorch_gib_per_gpu":
        return b.overhead / GIB
    raise ValueError(f"metric {metric} is not a memory metric")
