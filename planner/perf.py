"""The performance and memory model: pure formulas, one function per formula, no I/O.

Units are in every name: `_bytes`, `_s`, `_flops`, `_gb_per_s`. Each function states its equation
and source. The seeds referred to are the project's founding notes on GPU sizing:

* Seed 002: GPU memory ~= params x (bits / 8) x 1.2 (the 1.2 covers KV cache and activations).
* Seed 003 formula A: weight memory (GB) = params (billions) x bytes per parameter.
* Seed 003 formula B: KV cache = 2 x layers x KV heads x head dim x context x batch x bytes.
* Seed 003: decode is memory-bound: tokens/s <= bandwidth / bytes read per token; prefill is
  compute-bound: time = 2 x params x tokens / (TFLOPS x MFU); tensor parallelism adds the GPUs'
  bandwidth, less the all-reduce cost.

Efficiency factors (fraction of datasheet peaks reached in practice) are data, passed in as an
`Efficiency` row; they are fitted on published measurements by `tools/fit_efficiency.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.catalog import Efficiency, Gpu, Model, Precision

GIB = 1024**3
GB = 1e9

# ---------------------------------------------------------------------------------------------
# Named constants (each an engineering estimate with its basis; override through arguments)
# ---------------------------------------------------------------------------------------------

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
"""Tokens processed in one forward pass when sizing activation memory (vLLM V1's default
`max_num_batched_tokens` for chunked prefill on large GPUs)."""

ACTIVATION_BYTES = 2
"""Activations and all-reduce payloads are 16-bit in every supported engine."""

ALLREDUCE_LATENCY_S = {
    "nvlink": 10e-6,
    "nvlink-bridge": 12e-6,
    "infinity-fabric": 12e-6,
    "ethernet": 20e-6,
    "pcie": 30e-6,
}
"""Fixed cost of one small all-reduce, by link kind. NVIDIA nccl-tests on 8xH100 NVLink report
~10-15 us for small messages; vLLM's custom all-reduce reaches ~5-10 us; PCIe rings without P2P
pay ~25-40 us."""


# ---------------------------------------------------------------------------------------------
# Parameters and weights
# ---------------------------------------------------------------------------------------------


def attention_params_per_layer(m: Model) -> float:
    """Parameters of one attention block.

    GQA/MHA: q and o are hidden x (heads x head_dim); k and v are hidden x (KV heads x head_dim).
    MLA (DeepSeek-V2/V3): q, compressed kv (hidden x (rank + rope)), kv up-projection
    (rank x heads x (nope + v)) and o (heads x v x hidden); q LoRA is ignored (<1 % of the total).
    """
    if m.attention == "mla" and m.kv_lora_rank:
        rope = m.qk_rope_head_dim or 0
        v = m.v_head_dim or m.head_dim
        nope = m.head_dim - rope
        return (
            m.hidden_size * m.n_heads * m.head_dim
            + m.hidden_size * (m.kv_lora_rank + rope)
            + m.kv_lora_rank * m.n_heads * (nope + v)
            + m.n_heads * v * m.hidden_size
        )
    q_dim = m.n_heads * m.head_dim
    kv_dim = m.n_kv_heads * m.head_dim
    return 2.0 * m.hidden_size * q_dim + 2.0 * m.hidden_size * kv_dim


def param_count(m: Model) -> tuple[float, float]:
    """(total, active) parameters from the architecture, for configs that give no count.

    Per layer: attention (above) + MLP. Dense SwiGLU MLP = 3 x hidden x intermediate. MoE layers
    hold `n_experts` routed experts of 3 x hidden x moe_intermediate each, plus shared experts;
    a token activates top-k routed and all shared experts. Embeddings: vocab x hidden, doubled when
    the output head is untied. Norms and biases are ignored (<0.1 %).
    """
    attn = attention_params_per_layer(m)
    dense_mlp = 3.0 * m.hidden_size * m.intermediate_size
    total = active = m.embedding_params
    for layer in range(m.n_layers):
        total += attn
        active += attn
        if m.is_moe and layer >= m.n_dense_layers:
            expert = m.expert_params_each
            total += expert * (m.n_experts + m.n_shared_experts)
            active += expert * (m.n_experts_active + m.n_shared_experts)
        else:
            total += dense_mlp
            active += dense_mlp
    return total, active


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


# ---------------------------------------------------------------------------------------------
# KV cache
# ---------------------------------------------------------------------------------------------


def kv_cache_bytes_per_token(m: Model, kv_bytes: float) -> float:
    """KV-cache bytes one token occupies across the whole model (seed 003 formula B, per token).

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


def kv_cache_bytes(m: Model, kv_bytes: float, tokens: int, batch: int = 1) -> float:
    """Seed 003 formula B: 2 x layers x KV heads x head_dim x context x batch x bytes."""
    return kv_cache_bytes_per_token(m, kv_bytes) * tokens * batch


# ---------------------------------------------------------------------------------------------
# Other memory, capacity and the largest batch
# ---------------------------------------------------------------------------------------------


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
    """Concurrent sequences that fit: floor(free memory / KV bytes of one sequence)."""
    if kv_bytes_per_seq <= 0:
        return 0
    return max(0, int(free_bytes // kv_bytes_per_seq))


# ---------------------------------------------------------------------------------------------
# FLOPs and bytes per step
# ---------------------------------------------------------------------------------------------


def attention_flops_per_token(m: Model, context: float) -> float:
    """Attention score and value FLOPs for one new token attending to `context` tokens.

    QK^T and AV each cost 2 x context x head_dim FLOPs per head per layer -> 4 x layers x heads x
    head_dim x context. MLA in absorbed form attends in the latent space (rank + rope for scores,
    rank for values).
    """
    if m.attention == "mla" and m.kv_lora_rank:
        per_head = (m.kv_lora_rank + (m.qk_rope_head_dim or 0)) + m.kv_lora_rank
        return 2.0 * m.n_layers * m.n_heads * per_head * context
    return 4.0 * m.n_layers * m.n_heads * m.head_dim * context


def linear_flops(m: Model, tokens: float) -> float:
    """Seed 003: each token costs 2 x active parameters FLOPs in the matrix multiplies (one
    multiply and one add per weight).

    Example: Qwen-72B -> 2 x 72e9 = 144 GFLOPs per token; 2,000 tokens -> 288 TFLOPs.
    """
    return 2.0 * m.active_params_b * 1e9 * tokens


def prefill_flops(m: Model, tokens: int) -> float:
    """FLOPs to prefill a prompt of L tokens: linear_flops (2 x active params x L) plus causal
    attention, the sum over positions of attention_flops_per_token(i) = L^2 / 2 x the per-token rate."""
    return linear_flops(m, tokens) + attention_flops_per_token(m, tokens) * tokens / 2.0


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


def tp_effective_bandwidth_gb_per_s(bw_gb_per_s: float, tp: int, comm_loss: float) -> float:
    """Seed 003's simplified tensor-parallel bandwidth: the GPUs' bandwidth adds up, less the
    fraction of time lost to all-reduce: tp x BW x (1 - loss).

    Example: two A100s at 1,935 GB/s with 15 % loss -> 3,870 x 0.85 = 3,289.5 GB/s.
    (`decode_step_time` models the all-reduce explicitly instead.)
    """
    return tp * bw_gb_per_s * (1.0 - comm_loss)


def expected_experts_touched(n_experts: int, top_k: int, tokens: float) -> float:
    """Expected distinct experts a batch of `tokens` routes to, with uniform independent routing:
    E x (1 - (1 - k/E)^tokens). One token touches k; a large batch touches all E."""
    if n_experts <= 1:
        return 0.0
    return n_experts * (1.0 - (1.0 - top_k / n_experts) ** max(tokens, 0.0))


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


def allreduce_time_s(payload_bytes: float, tp: int, link_gb_per_s: float, comm_eff: float, latency_s: float) -> float:
    """Ring all-reduce of `payload_bytes` over `tp` GPUs: latency + 2 (tp - 1) / tp x bytes / bandwidth.

    `link_gb_per_s` is one direction's bandwidth per GPU (half the bidirectional datasheet figure).
    Source: Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms" (2009); NCCL's bus-bandwidth
    definition (nccl-tests PERFORMANCE.md).
    """
    if tp <= 1:
        return 0.0
    return latency_s + 2.0 * (tp - 1) / tp * payload_bytes / (link_gb_per_s * GB * comm_eff)


def link_gb_per_s(gpu: Gpu, tp: int) -> tuple[float, str]:
    """One-direction GPU-to-GPU bandwidth for a TP group of `tp`, and the link used.

    The scale-up link (NVLink, bridge, Infinity Fabric) serves groups within its domain; larger
    groups, and cards with no link, fall back to PCIe.
    """
    if gpu.scaleup_kind != "pcie" and tp <= gpu.scaleup_domain_gpus and gpu.scaleup_bw_gb_per_s_bidir:
        return gpu.scaleup_bw_gb_per_s_bidir / 2.0, gpu.scaleup_kind
    bidir = gpu.pcie_bw_gb_per_s_bidir or gpu.scaleup_bw_gb_per_s_bidir or 32.0
    return bidir / 2.0, "pcie"


def tp_comm_time_s(m: Model, gpu: Gpu, tp: int, tokens: float, eff: Efficiency) -> float:
    """Tensor-parallel communication for one forward pass over `tokens` tokens: two all-reduces per
    layer (after attention and after the MLP, Megatron-LM, Shoeybi et al. 2019), each carrying
    tokens x hidden x 2 bytes."""
    if tp <= 1:
        return 0.0
    bw, kind = link_gb_per_s(gpu, tp)
    payload = tokens * m.hidden_size * ACTIVATION_BYTES
    return 2 * m.n_layers * allreduce_time_s(payload, tp, bw, eff.comm_eff, ALLREDUCE_LATENCY_S[kind])


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
        if self.overlapped:
            core = max(self.memory_s, self.compute_s)
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

    memory  = (weights read per GPU + batch x context x KV bytes per token per GPU) / (BW x bw_eff)
    compute = batch x (2 x active params + attention FLOPs) / (tp x pp) / (peak x decode_mfu)
    comm    = 2 all-reduces per layer of batch x hidden x 2 bytes (0 at TP 1)
    Pipeline stages run one after another for a single token, so with PP the per-stage time is
    multiplied back by pp (a PP replica decodes no faster than one stage holding it all).
    """
    weights = decode_weight_bytes_read_per_gpu(m, p, tp, batch, pp)
    kv = batch * context * kv_cache_bytes_per_token_per_gpu(m, kv_bytes, tp, pp)
    memory_s = (weights + kv) / (gpu.mem_bw_gb_per_s * GB * eff.bw_eff)
    flops = batch * (2.0 * m.active_params_b * 1e9 + attention_flops_per_token(m, context)) / (tp * pp)
    compute_s = compute_time_s(flops, gpu.tflops(p.compute), eff.decode_mfu)
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
    flops = batch * prefill_flops(m, int(tokens)) / (tp * pp)
    compute_s = compute_time_s(flops, gpu.tflops(p.compute), eff.prefill_mfu)
    memory_s = weight_bytes(m, p) / (tp * pp) / (gpu.mem_bw_gb_per_s * GB * eff.bw_eff)
    comm_s = tp_comm_time_s(m, gpu, tp, tokens * batch, eff)
    return StepTime(memory_s * pp, compute_s * pp, comm_s, eff.step_overhead_ms / 1e3, overlapped=False)


def steady_state_output_tokens_per_s(decode_step_s: float, batch: float, prefill_s: float, output_tokens: float) -> float:
    """Output tokens/s of one replica under continuous batching at `batch` concurrent sequences.

    Each decode step emits `batch` tokens; on average batch / output_tokens sequences finish per
    step and their replacements must be prefilled, costing prefill_s each. So
    rate = batch / (decode_step_s + batch / output_tokens x prefill_s).
    """
    return batch / (decode_step_s + batch / max(output_tokens, 1.0) * prefill_s)


def loaded_tpot_s(decode_step_s: float, batch: float, prefill_s: float, output_tokens: float) -> float:
    """Mean time between a sequence's output tokens when prefills are interleaved with decode:
    decode_step_s + batch / output_tokens x prefill_s (the reciprocal of the per-sequence rate)."""
    return decode_step_s + batch / max(output_tokens, 1.0) * prefill_s


def loaded_ttft_s(prefill_s: float, decode_step_s: float) -> float:
    """Time to first token when other sequences are decoding: a new request waits on average half
    an iteration for the one in progress, then runs in a mixed iteration that also carries the
    decode batch: prefill_s + 1.5 x decode_step_s (iteration-level scheduling, Orca, OSDI 2022).
    With nothing else running (decode_step_s = 0) it is the prefill alone."""
    return prefill_s + 1.5 * decode_step_s
