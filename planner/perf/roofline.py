"""Step times from the roofline: decode (memory or compute bound), prefill, throughput and loaded latencies.

Seed 003: decode is memory-bound: tokens/s <= bandwidth / bytes read per token; prefill is
compute-bound: time = 2 x params x tokens / (TFLOPS x MFU). Efficiency factors (fraction of
datasheet peaks reached in practice) are data, passed in as an `Efficiency` row; they are fitted on
published measurements by `tools/fit_efficiency.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Efficiency, Precision
from planner.perf.memory import kv_cache_bytes_read_per_decode_step, kv_cache_layer_tokens, weight_bytes
from planner.perf.parallel import tp_comm_time_s
from planner.units import GB


def attention_flops_per_token(m: Model, context: float) -> float:
    """Attention score and value FLOPs for one new token attending to `context` tokens.

    QK^T and AV each cost 2 x context x head_dim FLOPs per head per layer -> 4 x layers x heads x
    head_dim x context. MLA in absorbed form attends in the latent space (rank + rope for scores,
    rank for values). A sliding-window layer attends to at most its window: the layers x context
    factor becomes `kv_cache_layer_tokens` (full layers x context + sliding layers x min(context, W)).
    """
    if m.attention == "mla" and m.kv_lora_rank:
        per_head = (m.kv_lora_rank + (m.qk_rope_head_dim or 0)) + m.kv_lora_rank
        if m.n_sliding_layers:
            return 2.0 * m.n_heads * per_head * kv_cache_layer_tokens(m, context)
        return 2.0 * m.n_layers * m.n_heads * per_head * context
    if m.n_sliding_layers:
        return 4.0 * m.n_heads * m.head_dim * kv_cache_layer_tokens(m, context)
    return 4.0 * m.n_layers * m.n_heads * m.head_dim * context


def linear_flops(m: Model, tokens: float) -> float:
    """Seed 003: each token costs 2 x active parameters FLOPs in the matrix multiplies (one
    multiply and one add per weight).

    Example: Qwen-72B -> 2 x 72e9 = 144 GFLOPs per token; 2,000 tokens -> 288 TFLOPs.
    """
    return 2.0 * m.active_params_b * 1e9 * tokens


def prefill_flops(m: Model, tokens: int) -> float:
    """FLOPs to prefill a prompt of L tokens: linear_flops (2 x active params x L) plus causal
    attention, the sum over positions of attention_flops_per_token(i) = L^2 / 2 x the per-token rate.
    A layer with window W sums min(i, W) instead: L^2 / 2 while L <= W, else W x L - W^2 / 2."""
    if not m.n_sliding_layers:
        return linear_flops(m, tokens) + attention_flops_per_token(m, tokens) * tokens / 2.0
    w, length = m.sliding_window, np.asarray(tokens, dtype=float)
    windowed = np.where(length <= w, length ** 2 / 2.0, w * length - w * w / 2.0)
    pairs = m.n_full_attention_layers * length ** 2 / 2.0 + m.n_sliding_layers * windowed
    per_layer_token_rate = attention_flops_per_token(m, 1.0) / kv_cache_layer_tokens(m, 1.0)
    total = linear_flops(m, tokens) + per_layer_token_rate * pairs
    return total if np.ndim(tokens) else float(total)


def compute_time_s(flops: float, peak_tflops: float, mfu: float) -> float:
    """Seed 003 formula one: time = FLOPs / (peak TFLOPS x MFU).

    Example: 288 TFLOPs on an RTX 4090 at INT8 (660 TOPS) and 50 % MFU -> 288 / 330 = 0.87 s.
    """
    return flops / (peak_tflops * 1e12 * mfu)


def required_bandwidth_gb_per_s(bytes_per_token: float, tokens_per_s: float) -> float:
    """Seed 003: memory bandwidth a decode rate needs when every token reads `bytes_per_token`.

    Example: 140 GB of FP16 weights x 20 tokens/s = 2,800 GB/s.
    """
    return bytes_per_token * tokens_per_s / GB


def expected_experts_touched(n_experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts a batch of `tokens` routes to, with uniform independent routing:
    E x (1 - (1 - k/E)^tokens). One token touches k; a large batch touches all E."""
    if n_experts <= 1:
        return 0.0 * tokens
    return n_experts * (1.0 - (1.0 - top_k / n_experts) ** _larger(tokens, 0.0))


def _larger(a, b):
    """max(a, b) for numbers, elementwise for arrays (the step formulas take an array of batch sizes
    to evaluate many batches at once)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return max(a, b)
    return np.maximum(a, b)


def decode_weight_bytes_read_per_gpu(m: Model, p: Precision, tp: int, batch: float, pp: int = 1) -> float:
    """Weight bytes one decode step reads on one GPU.

    Dense: every weight, once per step, however large the batch (seed 003: the whole model is read
    per generated token). MoE: the non-expert weights plus only the experts the batch's tokens route
    to (`expected_experts_touched`), which approaches all experts at large batch.
    """
    total = weight_bytes(m, p)
    if not m.is_moe:
        return total / (tp * pp)
    expert_bytes_each_layer = m.expert_params_each * p.bytes_per_weight
    all_experts = expert_bytes_each_layer * m.n_experts * m.n_moe_layers
    touched = expert_bytes_each_layer * expected_experts_touched(m.n_experts, m.n_experts_active, batch) * m.n_moe_layers
    return (total - all_experts + touched) / (tp * pp)


@dataclass(frozen=True)
class StepTime:
    """One forward pass, split into its terms (seconds).

    Decode steps overlap memory and compute (`total_s` = max(memory, compute) + comm + overhead,
    the roofline of seed 003): at small batch the weight stream hides the arithmetic. Prefill adds
    them (`overlapped=False`): its GEMMs sit near the ridge point for prompts of a few hundred
    tokens, where neither peak is reached, and the additive form fits the published TTFTs of
    short and long prompts alike (see tools/fit_efficiency.py; median error 17 % vs 27 % with max).
    """

    memory_s: float
    compute_s: float
    comm_s: float
    overhead_s: float
    overlapped: bool = True
    """True: memory and compute overlap (time = the larger). False: they add up."""

    @property
    def total_s(self) -> float:
        """Seconds; an array when the step was evaluated at an array of batch sizes."""
        if self.overlapped:
            core = _larger(self.memory_s, self.compute_s)
        else:
            core = self.memory_s + self.compute_s
        return core + self.comm_s + self.overhead_s

    @property
    def bound(self) -> str:
        """Which term dominates: bandwidth, compute or interconnect."""
        terms = {"bandwidth": self.memory_s, "compute": self.compute_s, "interconnect": self.comm_s}
        return max(terms, key=terms.get)


def decode_step_time(
    m: Model, gpu: Gpu, p: Precision, kv_bytes: float, tp: int, batch: float, context: float,
    eff: Efficiency, pp: int = 1,
) -> StepTime:
    """One decode step for `batch` sequences of mean length `context` (TPOT at batch b).

    memory  = (weights read per GPU + batch x KV bytes per sequence per GPU at `context`) / (BW x bw_eff)
              (= batch x context x KV bytes per token without sliding-window layers)
    compute = batch x (2 x active params + attention FLOPs) / (tp x pp) / (peak x decode_mfu)
    comm    = 2 all-reduces per layer of batch x hidden x 2 bytes (0 at TP 1)
    Pipeline stages run one after another for a single token, so with PP the per-stage time is
    multiplied back by pp (a PP replica decodes no faster than one stage holding it all).
    """
    weights = decode_weight_bytes_read_per_gpu(m, p, tp, batch, pp)
    kv = kv_cache_bytes_read_per_decode_step(m, kv_bytes, batch, context, tp, pp)
    memory_s = (weights + kv) / (gpu.mem_bw_gb_per_s * GB * eff.bw_eff)
    flops = batch * (2.0 * m.active_params_b * 1e9 + attention_flops_per_token(m, context)) / (tp * pp)
    compute_s = compute_time_s(flops, gpu.tflops(p.compute_on(gpu)), eff.decode_mfu)
    comm_s = tp_comm_time_s(m, gpu, tp, batch, eff)
    return StepTime(memory_s * pp, compute_s * pp, comm_s, eff.step_overhead_ms / 1e3, overlapped=True)


def prefill_time(
    m: Model, gpu: Gpu, p: Precision, tp: int, tokens: float, eff: Efficiency, pp: int = 1, batch: int = 1
) -> StepTime:
    """Prefill of `batch` prompts of `tokens` tokens each in one pass (TTFT at batch 1, queueing excluded).

    compute = prefill_flops / (tp x pp) / (peak x prefill_mfu)   (seed 003: 2 x P x L / (TFLOPS x MFU))
    memory  = all weights read once per GPU / (BW x bw_eff)
    comm    = 2 all-reduces per layer of tokens x hidden x 2 bytes
    total   = compute + memory + comm + overhead (not overlapped; see StepTime).
    With PP the stages run in sequence for one prompt, so the stage time is multiplied by pp.
    """
    whole = np.floor(tokens) if np.ndim(tokens) else int(tokens)  # an array of prompt lengths evaluates each
    flops = batch * prefill_flops(m, whole) / (tp * pp)
    compute_s = compute_time_s(flops, gpu.tflops(p.compute_on(gpu)), eff.prefill_mfu)
    memory_s = weight_bytes(m, p) / (tp * pp) / (gpu.mem_bw_gb_per_s * GB * eff.bw_eff)
    comm_s = tp_comm_time_s(m, gpu, tp, tokens * batch, eff)
    return StepTime(memory_s * pp, compute_s * pp, comm_s, eff.step_overhead_ms / 1e3, overlapped=False)


def prefill_added_s(prefill: StepTime, batches_prefill: bool = True):
    """Seconds one prompt's prefill adds to a replica that is already decoding (the step composition).

    A steady-state step carries the decode tokens of the running batch plus prompt tokens up to the
    engine's token budget, and reads the weights once. So where the engine batches prefill into the
    decode steps (chunked prefill, in-flight batching) a prompt adds only its compute and
    all-reduce: prefill.compute_s + prefill.comm_s; the weight read (prefill.memory_s) and the step
    overhead are the decode step's, paid anyway. Where it does not (a separate forward pass per
    prompt: HF transformers `generate`, AutoAWQ), the prompt costs its whole pass, prefill.total_s.

    Example: a prefill of 30 ms = memory 6 ms + compute 22 ms + all-reduce 0 + overhead 2 ms adds
    22 ms to a decoding replica of a batching engine, 30 ms to one of a non-batching engine.
    """
    if batches_prefill:
        return prefill.compute_s + prefill.comm_s
    return prefill.total_s


def prefill_chunks(input_tokens, chunk_tokens, decoding):
    """Steps a prompt of L tokens spans when each step carries the n decoding sequences' tokens and
    up to B - n prompt tokens (B = the token budget, vLLM max_num_batched_tokens):
    ceil(L / max(B - n, 1)). Works elementwise on arrays.

    Example: a 5,000-token prompt, budget 2,048, 48 sequences decoding -> ceil(5000 / 2000) = 3."""
    return np.ceil(np.asarray(input_tokens, dtype=float) / np.maximum(chunk_tokens - decoding, 1.0))


def steady_state_output_tokens_per_s(decode_step_s: float, batch: float, added_s: float, output_tokens: float) -> float:
    """Output tokens/s of one replica under continuous batching at `batch` concurrent sequences.

    Each decode step emits `batch` tokens; on average batch / output_tokens sequences finish per
    step and their replacements' prompts ride the following steps, each adding `added_s`
    (`prefill_added_s`: compute only where the engine batches prefill into the decode steps). So
    rate = batch / (decode_step_s + batch / output_tokens x added_s).

    Example: step 20 ms at batch 100, 200 output tokens, prompts adding 10 ms each ->
    100 / (0.020 + 0.5 x 0.010) = 4,000 tokens/s.
    """
    return batch / (decode_step_s + batch / max(output_tokens, 1.0) * added_s)


def loaded_tpot_s(decode_step_s: float, batch: float, added_s: float, output_tokens: float) -> float:
    """Mean time between a sequence's output tokens when the prompts of `batch` other sequences ride
    the decode steps: decode_step_s + batch / output_tokens x added_s (the reciprocal of the
    per-sequence rate of `steady_state_output_tokens_per_s`)."""
    return decode_step_s + batch / max(output_tokens, 1.0) * added_s


def loaded_ttft_s(added_s, decode_step_s, chunks=1.0):
    """Time to first token when other sequences are decoding: a new request waits on average half
    a step for the one in progress, then its prompt rides `chunks` steps (`prefill_chunks`), each
    carrying the decode batch, and adds its own work: added_s + (chunks + 0.5) x decode_step_s
    (iteration-level scheduling, Orca, OSDI 2022). An idle replica's TTFT is the prefill pass itself
    (`prefill_time(...).total_s`), which the callers use when nothing else runs. Works on arrays."""
    return added_s + (chunks + 0.5) * decode_step_s
