"""One deployment (model x GPU x precision x TP x batch) evaluated with the formulas of `perf`.

`evaluate()` is what `planner estimate` prints and what the optimiser's candidates are built
from: memory per GPU, whether it fits, the largest batch, TTFT, TPOT, throughput and bottleneck.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from planner import perf
from planner.catalog.gpu_memory import MemoryTerms
from planner.catalog.engines import Engine
from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Efficiency, Precision
from planner.catalog.store import Catalog, load_memory_terms
from planner.errors import InputError, Problem, UnsupportedError

DEFAULT_MAX_NUM_SEQS = 256
"""Engine cap on concurrent sequences (vLLM's `max_num_seqs` default)."""


@dataclass(frozen=True)
class Deployment:
    """What is being evaluated: one replica of `tp` x `pp` GPUs."""

    model: Model
    gpu: Gpu
    precision: Precision
    kv_precision: Precision
    tp: int = 1
    pp: int = 1
    mem_utilization: float = perf.DEFAULT_MEM_UTILIZATION
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS
    max_num_batched_tokens: int | None = None
    """Engine token budget of one iteration (chunked prefill); None: vLLM's default for the GPU."""
    memory_terms: MemoryTerms | None = None
    """The engine's memory terms; None: the shipped catalog/memory_terms.csv."""

    @property
    def terms(self) -> MemoryTerms:
        return self.memory_terms or load_memory_terms()

    engine: Engine | None = None
    """The inference engine; None: vLLM (batches prompts into the decode steps)."""

    @property
    def batches_prefill(self) -> bool:
        """Whether prompt tokens ride the decode steps (see `perf.prefill_added_s`)."""
        return self.engine is None or self.engine.batches_prefill

    @property
    def engine_id(self) -> str:
        return self.engine.id if self.engine is not None else "vllm"

    @property
    def chunk_tokens(self) -> int:
        """Tokens one iteration carries: prompts are prefilled in chunks of it."""
        if self.max_num_batched_tokens is not None:
            return self.max_num_batched_tokens
        return perf.default_max_num_batched_tokens(self.gpu)

    @property
    def kv_bytes(self) -> float:
        return self.kv_precision.weight_bits / 8.0

    @property
    def gpus(self) -> int:
        return self.tp * self.pp


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes per GPU."""

    weights: float
    kv_cache: float
    activations: float
    overhead: float
    capacity: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.activations + self.overhead


@dataclass(frozen=True)
class Estimate:
    deployment: Deployment
    input_tokens: int
    output_tokens: int
    batch: int
    max_batch: int
    fits: bool
    memory: MemoryBreakdown
    ttft_s: float
    tpot_s: float
    output_tokens_per_s: float
    bottleneck: str
    decode_step: perf.StepTime
    prefill: perf.StepTime

    @property
    def decode_tokens_per_s_per_request(self) -> float:
        return 1.0 / self.tpot_s if self.tpot_s > 0 else 0.0


def check_deployment(d: Deployment) -> None:
    """Reject combinations that cannot run: precision unsupported, TP not dividing heads, etc."""
    problems: list[str] = []
    compute = d.precision.compute_on(d.gpu)
    if not d.gpu.supports(compute):
        why = "has no tensor path for" if compute in d.gpu.unsupported else "lists no throughput for"
        hint = ""
        if compute == "fp8":
            hint = " FP8 needs Ada, Hopper, Blackwell, CDNA3 or Gaudi 3; try --precision int8 or int4."
        elif compute == "bf16":
            hint = " Try --precision fp16."
        problems.append(
            f"precision {d.precision.id} computes in {compute}, and {d.gpu.name} {why} "
            f"{compute}.{hint}"
        )
    if not d.kv_precision.kv_capable:
        problems.append(f"--kv-precision {d.kv_precision.id} is not a KV-cache format; use fp16, bf16, fp8 or int8")
    if d.tp < 1 or d.pp < 1:
        problems.append(f"tp and pp must be >= 1 (got tp={d.tp}, pp={d.pp})")
    elif d.model.n_heads % d.tp:
        problems.append(f"tp={d.tp} does not divide {d.model.name}'s {d.model.n_heads} attention heads")
    elif d.tp > max(d.gpu.scaleup_domain_gpus, d.gpu.gpus_per_server):
        problems.append(
            f"tp={d.tp} exceeds one {d.gpu.name} server ({max(d.gpu.scaleup_domain_gpus, d.gpu.gpus_per_server)} GPUs); "
            "tensor parallelism across servers is not modelled"
        )
    if d.pp > d.model.n_layers:
        problems.append(f"pp={d.pp} exceeds {d.model.name}'s {d.model.n_layers} layers")
    if not 0 < d.mem_utilization <= 1:
        problems.append(f"memory utilisation must be in (0, 1] (got {d.mem_utilization})")
    if problems:
        raise UnsupportedError(problems)


def memory_breakdown(d: Deployment, batch: int, context_tokens: int, last_stage: bool = True) -> MemoryBreakdown:
    """Per-GPU memory at `batch` sequences of `context_tokens` each, as vLLM's memory profile
    counts it: capacity = gpu_memory_utilization x reported memory; weights, activation peak of the
    profiling run (forward pass over `chunk_tokens`, sampler over `max_num_seqs` logits) and
    non-torch memory come off it, the KV cache gets the rest. `last_stage=False`: a pipeline stage
    that does not sample (the default, the stage that samples, is the one that binds)."""
    kv_per_seq = perf.kv_cache_bytes_per_sequence(d.model, d.kv_bytes, context_tokens, d.tp, d.pp)
    terms = d.terms
    return MemoryBreakdown(
        weights=perf.weight_bytes_per_gpu(d.model, d.precision, d.tp, d.pp),
        kv_cache=kv_per_seq * batch,
        activations=perf.activation_bytes_per_gpu(
            d.model, d.tp, terms, chunk_tokens=d.chunk_tokens, max_num_seqs=d.max_num_seqs,
            dtype_bytes=perf.activation_dtype_bytes(d.precision), last_stage=last_stage or d.pp == 1),
        overhead=perf.runtime_overhead_bytes_per_gpu(d.tp, terms, last_stage=last_stage or d.pp == 1),
        capacity=perf.usable_memory_bytes(d.gpu, d.mem_utilization),
    )


def max_batch(d: Deployment, context_tokens: int) -> int:
    """Largest number of sequences of `context_tokens` whose KV cache fits beside the weights,
    activations and overhead, capped by the engine's max_num_seqs."""
    return max_batches(d, [context_tokens])[0]


def max_batches(d: Deployment, contexts_tokens: list[int], base: MemoryBreakdown | None = None) -> list[int]:
    """`max_batch` at each context, the memory beside the KV cache computed once (`base`:
    `memory_breakdown(d, 0, 0)` when the caller has it)."""
    base = base or memory_breakdown(d, 0, 0)
    free = base.capacity - base.weights - base.activations - base.overhead
    return [min(perf.max_sequences(free, perf.kv_cache_bytes_per_sequence(d.model, d.kv_bytes, t, d.tp, d.pp)),
                d.max_num_seqs) for t in contexts_tokens]


def timings(
    d: Deployment, eff: Efficiency, batch: int, input_tokens: int, output_tokens: int,
    prefill: perf.StepTime | None = None,
) -> tuple[perf.StepTime, perf.StepTime, float, float]:
    """(decode step, prefill, loaded TPOT s, output tokens/s) at `batch` concurrent sequences.

    Decode runs at the mean context input + output / 2. The steady-state step carries the batch's
    decode tokens plus the prompts of the sequences that replace finished ones, each adding
    `perf.prefill_added_s` (its compute where the engine batches prefill into the decode steps,
    the whole pass where it does not). TPOT counts the prompts of the other batch - 1 sequences,
    throughput all of them. The prefill does not depend on the batch: pass it in when evaluating
    several batches.
    """
    context = input_tokens + output_tokens / 2.0
    step = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, batch, context, eff, d.pp)
    pre = prefill or perf.prefill_time(d.model, d.gpu, d.precision, d.tp, max(input_tokens, 1), eff, d.pp)
    added = perf.prefill_added_s(pre, d.batches_prefill)
    tpot = perf.loaded_tpot_s(step.total_s, batch - 1, added, output_tokens)
    rate = perf.steady_state_output_tokens_per_s(step.total_s, batch, added, output_tokens)
    return step, pre, tpot, rate


def evaluate(
    d: Deployment, eff: Efficiency, input_tokens: int, output_tokens: int,
    batch: int | None = None, max_tpot_s: float | None = None,
) -> Estimate:
    """Evaluate deployment `d` serving requests of `input_tokens` in and `output_tokens` out.

    `batch=None` picks the best batch: the largest that fits in memory (and meets `max_tpot_s`
    when given), which maximises throughput.
    """
    check_deployment(d)
    if input_tokens < 0 or output_tokens < 1:
        raise InputError(Problem(f"need input tokens >= 0 and output tokens >= 1 (got {input_tokens}, {output_tokens})"))
    context = input_tokens + output_tokens
    limit = max_batch(d, context)
    fits = limit >= 1
    pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, max(input_tokens, 1), eff, d.pp)
    if batch is None:
        chosen = max(limit, 1)
        if max_tpot_s is not None:
            chosen = _largest_batch_within_tpot(d, eff, chosen, input_tokens, output_tokens, pre, max_tpot_s)
    else:
        chosen = batch
        fits = fits and batch <= limit
    step, pre, tpot, rate = timings(d, eff, chosen, input_tokens, output_tokens, pre)
    if not fits or batch is None and chosen == limit and limit < d.max_num_seqs and (max_tpot_s is None or tpot <= max_tpot_s):
        bottleneck = "memory capacity"
    else:
        bottleneck = step.bound
    return Estimate(
        deployment=d, input_tokens=input_tokens, output_tokens=output_tokens, batch=chosen,
        max_batch=max(limit, 0), fits=fits, memory=memory_breakdown(d, chosen, context),
        ttft_s=pre.total_s, tpot_s=tpot, output_tokens_per_s=rate, bottleneck=bottleneck,
        decode_step=step, prefill=pre,
    )


def _largest_batch_within_tpot(
    d: Deployment, eff: Efficiency, upper: int, input_tokens: int, output_tokens: int,
    prefill: perf.StepTime, max_tpot_s: float,
) -> int:
    """Largest batch in 1..upper whose loaded TPOT is within `max_tpot_s` (1 if none is).

    Binary search: loaded TPOT = decode step (non-decreasing in the batch) + (batch - 1) /
    output_tokens x the prompt's added seconds, so it never falls as the batch grows.
    """
    def ok(b: int) -> bool:
        return timings(d, eff, b, input_tokens, output_tokens, prefill)[2] <= max_tpot_s

    if ok(upper):
        return upper
    lo, hi = 1, upper  # ok(hi) is False; lo is the answer when nothing larger passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def resolve_deployment(
    cat: Catalog, model: str, gpu: str, precision: str, kv_precision: str | None = None,
    tp: int = 1, pp: int = 1, mem_utilization: float = perf.DEFAULT_MEM_UTILIZATION,
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS, engine: str | None = None,
) -> Deployment:
    """Resolve names against the catalogue, collecting every unknown name at once."""
    problems: list[Problem] = []
    found = {}
    for key, fn, name in (
        ("model", cat.model, model), ("gpu", cat.gpu, gpu), ("precision", cat.precision, precision),
        ("kv_precision", cat.precision, kv_precision or default_kv_precision(precision)),
        ("engine", cat.engine, engine),
    ):
        try:
            found[key] = fn(name)
        except InputError as exc:
            option = f"--{key.replace('_', '-')}"
            # A problem located in a file (a config.json) keeps its place; a bare one names the option.
            problems.extend(p if p.file else dataclasses.replace(p, key=p.key or option) for p in exc.problems)
    if problems:
        raise InputError(problems)
    return Deployment(
        model=found["model"], gpu=found["gpu"], precision=found["precision"],
        kv_precision=found["kv_precision"], tp=tp, pp=pp, mem_utilization=mem_utilization,
        max_num_seqs=max_num_seqs, engine=found["engine"],
    )


def default_kv_precision(precision: str) -> str:
    """KV cache defaults to FP16, except FP8 models (FP8 KV, as TensorRT-LLM FP8 builds) and BF16."""
    p = precision.strip().lower()
    return p if p in ("fp8", "bf16", "fp32") else "fp16"
