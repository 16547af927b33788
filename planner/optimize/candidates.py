"""Candidates: every (workload × GPU × precision × TP × memory tier × batch cap) the models admit.

For each workload and each GPU that passes the filters, each precision and each TP degree, the
deployment is checked (precision supported, TP divides the heads and fits one server). The
workload's requests come in length buckets (`serving.mix`); each distinct longest context among
them is a memory tier. For each tier, the batch cap is the largest batch that fits in memory with
every sequence at the tier's context (`estimate.max_batch`) and whose decode step at that batch
meets the TPOT limit; then every bucket up to the tier gets its SLO capacity: the largest request
rate at which one replica meets the SLO percentile of TTFT, TPOT (and E2E), waiting for a slot
and prefill interference included (`serving.queueing.capacity_qps`). Buckets that miss the SLO
even with no queue are not served by that candidate. A replica's planned capacity on bucket b is
`max_utilization` x that rate; the share of the workload's demand it covers on b is capacity_b /
demand. Everything that fails is kept as a `Rejection` with its reason, for `planner candidates`
and for the infeasibility diagnosis.

Dominance (`mark_dominated`): within one workload and one GPU type, candidate A dominates B when
tp_A <= tp_B, A serves every bucket B serves, and on each of them coverage_A,b / tp_A >=
coverage_B,b / tp_B. Then tp_B / tp_A replicas of A use the same GPUs as one of B (so cost, power
and inventory are equal), pack into any host B fits in (TP sizes are powers of two), count at
least as many replicas, and carry B's routed flow with no more load (replica_load is linear in
1 / coverage): no optimal plan needs B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner import perf
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Precision
from planner.catalog.resolve import Resolved, ResolvedWorkload
from planner.perf.estimate import (
    Deployment,
    default_kv_precision,
    max_batch,
    memory_breakdown,
)
from planner.optimize.slo import at_rate, mean_response_s, over_limits, slo_capacity_qps
from planner.serving import queueing
from planner.serving.demand import demand_qps
from planner.serving.mix import LengthMix, workload_mixes
from planner.units import GIB

REASONS = ("filtered out", "precision unsupported", "tp invalid", "memory", "TTFT", "TPOT", "E2E", "fleet too large")
"""Rejection reasons, in the order the checks run."""
MAX_REPLICAS_PER_DEPLOYMENT = 100_000
"""The most replicas of one deployment a plan may use: about the largest GPU clusters built (some
100,000 GPUs). Demand beyond it is out of scope; past it the plan, its placement and its JSON grow
with every replica (a million replicas take minutes and gigabytes to place and print)."""


@dataclass
class Candidate:
    """One admissible deployment of one workload, serving the workload's length buckets up to a
    context (a memory tier). Times in seconds, memory in bytes per GPU, rates in requests/s."""

    id: str
    workload: str
    workload_index: int
    model: str
    gpu: str
    precision: str
    kv_precision: str
    tp: int
    batch: int
    """Batch cap: sequences running at once per replica (the engine's max_num_seqs)."""
    max_batch_memory: int
    """Largest batch whose KV cache fits in memory at `context_tokens` per sequence."""
    context_tokens: int
    """Longest prompt + answer the deployment serves: memory holds `batch` sequences of it."""
    buckets: tuple[int, ...]
    """Indices of the workload's length buckets it can serve (each meets the SLO percentile alone)."""
    shares: tuple[float, ...]
    """Those buckets' shares of the workload's requests."""
    slo_qps: tuple[float, ...]
    """Per served bucket: the largest request rate one replica takes with the SLO percentile of
    TTFT, TPOT (and E2E) met, queueing included (`serving.queueing.capacity_qps`); for a batch job,
    the largest stable rate (`saturation_qps`)."""
    max_utilization: float
    demand_qps: float
    """The workload's request rate if served by this candidate (Little's law for users)."""
    ttft_s: float
    """SLO-percentile TTFT at the planned capacity, worst served bucket."""
    tpot_s: float
    """SLO-percentile TPOT at the planned capacity, worst served bucket."""
    e2e_s: float
    """SLO-percentile end-to-end latency at the planned capacity, worst served bucket."""
    prefill_s: float
    """Prefill of the longest served prompt, alone."""
    decode_step_s: float
    """Decode step at the batch cap and the longest served context."""
    percentile: int
    """The SLO percentile the latencies are (50 for batch jobs)."""
    chunk_tokens: int
    """Engine token budget per iteration (chunked prefill)."""
    mem_used_bytes: float
    mem_capacity_bytes: float
    bottleneck: str
    times: tuple = field(default=(), repr=False, compare=False)
    """`serving.queueing.BucketTimes` of each served bucket (for predictions and the simulation)."""
    dominated_by: str | None = None

    @property
    def capacity_by_bucket(self) -> tuple[float, ...]:
        """Planned requests/s per served bucket: max_utilization x slo_qps."""
        return tuple(self.max_utilization * q for q in self.slo_qps)

    @property
    def coverage_by_bucket(self) -> tuple[float, ...]:
        """Share of the workload's demand one replica takes, per served bucket, if it served only that bucket."""
        return tuple(c / self.demand_qps for c in self.capacity_by_bucket)

    @property
    def capacity_qps(self) -> float:
        """Planned requests/s of one replica on the mix of its served buckets (in their shares):
        1 / sum_b (w_b / capacity_b), the aggregate form of the MILP's replica_load."""
        total = sum(self.shares)
        return 1.0 / sum(s / total / c for s, c in zip(self.shares, self.capacity_by_bucket))

    @property
    def coverage(self) -> float:
        """capacity_qps / demand_qps."""
        return self.capacity_qps / self.demand_qps

    @property
    def coverage_per_gpu(self) -> float:
        return self.coverage / self.tp

    @property
    def output_tokens_per_s(self) -> float:
        """Output tokens/s of one replica at its planned capacity on its bucket mix."""
        total = sum(self.shares)
        return self.capacity_qps * sum(s / total * t.output_tokens for s, t in zip(self.shares, self.times))


@dataclass(frozen=True)
class Rejection:
    """A (workload, GPU, precision, TP) that cannot serve, and why."""

    workload: str
    gpu: str
    precision: str
    tp: int
    reason: str
    """One of REASONS."""
    detail: str
    miss_ratio: float | None = None
    """How far off: needed / available (memory) or predicted / SLO (TTFT, TPOT); > 1."""


@dataclass
class CandidateSet:
    mixes: dict[str, LengthMix] = field(default_factory=dict)
    """Workload name → the length mix its candidates were evaluated on."""
    candidates: list[Candidate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    ladder_skipped: int = 0
    """Lower batch caps not materialised (ladder=False): each is dominated by its combination's
    largest admissible cap, since a replica's coverage never falls as its batch cap rises."""

    def kept(self) -> list[Candidate]:
        return [c for c in self.candidates if c.dominated_by is None]

    def deployments(self, workload: str | None = None) -> int:
        """Admissible deployments: distinct (workload, GPU, precision, TP) among the candidates, each
        with one or more batch caps (one unless `--ladder`). `planner solve` and `planner candidates`
        both count these."""
        return len({(c.workload, c.gpu, c.precision, c.tp) for c in self.candidates
                    if workload is None or c.workload == workload})

    def batch_caps(self) -> int:
        """Admissible batch caps, evaluated or implied (the lower rungs of each deployment's ladder)."""
        return len(self.candidates) + self.ladder_skipped

    def rejections_for(self, name: str) -> list[Rejection]:
        return [r for r in self.rejections if r.workload == name]


def candidate_id(workload: str, model: str, gpu: str, precision: str, tp: int, batch: int,
                 context_tokens: int | None = None) -> str:
    """Readable, stable id: `chat:qwen-7b@h100-sxm-80gb/fp16/tp1/b64`; with several length buckets
    the memory tier follows: `.../b64/ctx4096`."""
    tier = f"/ctx{context_tokens}" if context_tokens is not None else ""
    return f"{workload}:{model}@{gpu}/{precision}/tp{tp}/b{batch}{tier}"


def batch_ladder(upper: int) -> list[int]:
    """Powers of two below `upper`, then `upper` itself: 1, 2, 4, ..., upper."""
    out, b = [], 1
    while b < upper:
        out.append(b)
        b *= 2
    out.append(upper)
    return out


def generate(res: Resolved, ladder: bool = False, mixes: dict[str, LengthMix] | None = None) -> CandidateSet:
    """Every candidate and rejection of every workload, in a stable order; dominance marked.

    For each (workload, GPU, precision, TP) and each memory tier (a distinct longest context among
    the workload's length buckets), the batch cap is the largest batch that fits in memory with every
    sequence at the tier's context and whose decode step at that batch meets the TPOT limit; each
    bucket up to the tier then gets its SLO capacity (`serving.queueing.capacity_qps`). With
    `ladder=False` only that batch cap is materialised and the lower rungs are counted in
    `ladder_skipped`; `ladder=True` (`planner candidates --ladder`) evaluates them all.
    `mixes` (workload → length mix) defaults to `serving.mix.workload_mixes(res.loaded)`.
    """
    out = CandidateSet(mixes=mixes if mixes is not None else workload_mixes(res.loaded))
    spec = res.spec
    all_precisions = tuple(p for p in res.catalog.precisions.rows.values() if p.serving_default)
    for w in res.workloads:
        precisions = w.precisions if w.precisions is not None else all_precisions
        for gid in res.filtered_out:
            for p in precisions:
                for tp in spec.planning.tp_degrees:
                    out.rejections.append(Rejection(w.name, gid, p.id, tp, "filtered out", res.filtered_out[gid]))
        for g in res.gpus:
            for p in precisions:
                for tp in sorted(spec.planning.tp_degrees):
                    _evaluate_combo(res, w, g, p, tp, out, ladder)
    mark_dominated(out)
    return out


def _evaluate_combo(res: Resolved, w: ResolvedWorkload, g: Gpu, p: Precision, tp: int, out: CandidateSet,
                    ladder: bool) -> None:
    m = w.model
    reject = lambda reason, detail, ratio=None: out.rejections.append(
        Rejection(w.name, g.id, p.id, tp, reason, detail, ratio))
    if not g.supports(p.compute):
        reject("precision unsupported", f"{g.id} cannot compute in {p.compute}")
        return
    if m.n_heads % tp:
        reject("tp invalid", f"tp={tp} does not divide {m.n_heads} attention heads")
        return
    server = max(g.scaleup_domain_gpus, g.gpus_per_server)
    if tp > server:
        reject("tp invalid", f"tp={tp} exceeds one {g.id} server ({server} GPUs)")
        return
    kv = w.kv_precision or res.catalog.precision(default_kv_precision(p.id))
    planning = res.spec.planning
    d = Deployment(model=m, gpu=g, precision=p, kv_precision=kv, tp=tp, mem_utilization=planning.mem_utilization,
                   max_num_seqs=planning.max_num_seqs, max_num_batched_tokens=planning.max_num_batched_tokens)
    eff = res.catalog.efficiency_for(g)
    mix = out.mixes[w.name]
    buckets = mix.buckets
    slo = w.spec.slo
    chunk = d.chunk_tokens
    tiers = sorted({b.max_context_tokens for b in buckets})
    limits = {t: max_batch(d, t) for t in tiers}
    if limits[tiers[0]] < 1:
        mem = memory_breakdown(d, 1, tiers[0])
        reject("memory", f"needs {mem.total / GIB:.1f} GiB per GPU at batch 1, has {mem.capacity / GIB:.1f} GiB",
               mem.total / mem.capacity)
        return
    made = 0
    first_miss: tuple[str, str, float] | None = None
    memo: dict[tuple[int, int], tuple | None] = {}
    for tier in tiers:
        limit = limits[tier]
        if limit < 1:
            break  # longer contexts fit even less
        served = [i for i, b in enumerate(buckets) if b.max_context_tokens <= tier]
        cap = limit
        if slo is not None:
            longest = max(buckets[i].input_tokens + buckets[i].output_tokens / 2.0 for i in served)
            steps = np.atleast_1d(perf.decode_step_time(m, g, p, d.kv_bytes, tp, np.arange(1, limit + 1), longest,
                                                        eff).total_s)
            cap = int(np.searchsorted(steps, slo.tpot_ms / 1e3, side="right"))
            if cap < 1:
                ratio = float(steps[0]) / (slo.tpot_ms / 1e3)
                first_miss = first_miss or ("TPOT", f"decode step {steps[0] * 1e3:.1f} ms > {slo.tpot_ms:g} ms "
                                                    f"at batch 1 ({longest:,.0f}-token context)", ratio)
                continue
        rungs = batch_ladder(cap)
        if not ladder:
            out.ladder_skipped += len(rungs) - 1
            rungs = rungs[-1:]
        for b in rungs:
            made += _add_candidate(res, w, d, eff, mix, served, tier, b, limit, chunk, out, len(tiers) > 1, memo)
            if not made and first_miss is None:
                first_miss = _service_miss(d, eff, buckets[served[0]], chunk, slo)
    if not made:
        if first_miss is None:
            first_miss = ("TTFT", "no length bucket meets the SLO", float("inf"))
        reason, detail, ratio = first_miss
        reject(reason, detail, ratio)


def _add_candidate(res: Resolved, w: ResolvedWorkload, d: Deployment, eff, mix: LengthMix, served: list[int],
                   tier: int, batch: int, limit: int, chunk: int, out: CandidateSet, tiered: bool,
                   memo: dict) -> int:
    """Evaluate one (deployment, tier, batch cap): SLO capacity of each bucket up to the tier; add the
    candidate if it serves any bucket (return 1), else 0. Rejects it when it needs too many replicas.
    `memo` holds the deployment's evaluated (bucket, batch cap) pairs across its tiers."""
    slo = w.spec.slo
    pct = slo.percentile if slo is not None else 50
    util = w.max_utilization
    times, rates, lat, kept = [], [], [], []
    for i in served:
        if (i, batch) not in memo:  # a higher tier with the same batch cap sees the same bucket again
            bk = mix.buckets[i]
            t = queueing.bucket_times(d, eff, bk.input_tokens, bk.output_tokens, batch, chunk)
            q = slo_capacity_qps(t, slo)
            memo[i, batch] = (t, q, at_rate(t, util * q, pct / 100.0)) if q > 0 else None
        if memo[i, batch] is not None:
            t, q, at_planned = memo[i, batch]
            times.append(t)
            rates.append(q)
            lat.append(at_planned)
            kept.append(i)
    if not kept:
        return 0
    planned = [util * q for q in rates]
    shares = tuple(mix.buckets[i].share for i in kept)
    dem = demand_qps(w, mean_response_s(times, planned, list(shares)))
    need = sum(s / (c / dem) for s, c in zip(shares, planned)) / sum(shares)
    if need > MAX_REPLICAS_PER_DEPLOYMENT:
        out.rejections.append(Rejection(
            w.name, d.gpu.id, d.precision.id, d.tp, "fleet too large",
            f"needs {need:,.0f} replicas at batch {batch} (more than {MAX_REPLICAS_PER_DEPLOYMENT:,} of one deployment)",
            need / MAX_REPLICAS_PER_DEPLOYMENT))
        return 1  # admissible in itself; counted as made so no SLO rejection is added
    longest = max(kept, key=lambda i: mix.buckets[i].max_context_tokens)
    t_long = times[kept.index(longest)]
    mem = memory_breakdown(d, batch, tier)
    out.candidates.append(Candidate(
        id=candidate_id(w.name, d.model.id, d.gpu.id, d.precision.id, d.tp, batch, tier if tiered else None),
        workload=w.name, workload_index=w.index, model=d.model.id, gpu=d.gpu.id, precision=d.precision.id,
        kv_precision=d.kv_precision.id, tp=d.tp, batch=batch, max_batch_memory=limit, context_tokens=tier,
        buckets=tuple(kept), shares=shares, slo_qps=tuple(rates), max_utilization=util, demand_qps=dem,
        ttft_s=max(x["ttft"] for x in lat), tpot_s=max(x["tpot"] for x in lat),
        e2e_s=max(x["e2e"] for x in lat), prefill_s=t_long.prefill_s,
        decode_step_s=float(t_long.step_s[batch]), percentile=pct, chunk_tokens=chunk,
        mem_used_bytes=mem.total, mem_capacity_bytes=mem.capacity,
        bottleneck=_bottleneck(d, eff, times, rates, shares, batch, limit, slo),
        times=tuple(times),
    ))
    return 1


def _bottleneck(d: Deployment, eff, times: list, rates: list[float], shares: tuple[float, ...], batch: int,
                limit: int, slo) -> str:
    """What limits the replica: memory (the batch cap is the largest that fits), the SLO limit that
    binds just above the capacity of its largest bucket, or the step's bound when the queue saturates."""
    if batch == limit and limit < d.max_num_seqs:
        return "memory capacity"
    k = max(range(len(shares)), key=lambda i: (shares[i], -i))
    t = times[k]
    if slo is not None:
        over = over_limits(at_rate(t, rates[k] * 1.001, slo.percentile / 100.0), slo)
        if over and np.isfinite(over[0][1]):  # inf: the queue saturates first
            return f"{over[0][0].upper()} SLO"
    step = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, batch,
                                 t.input_tokens + t.output_tokens / 2.0, eff)
    return step.bound


def _service_miss(d: Deployment, eff, bucket, chunk: int, slo) -> tuple[str, str, float] | None:
    """Why the shortest bucket fails even with no queue: the reason, detail and miss ratio."""
    if slo is None:
        return None
    t = queueing.bucket_times(d, eff, bucket.input_tokens, bucket.output_tokens, 1, chunk)
    over = over_limits(at_rate(t, 1e-9, slo.percentile / 100.0), slo)
    if not over:
        return None
    name, got, limit = over[0]
    digits = 1 if name == "tpot" else 0
    return name.upper(), f"{name.upper()} {got * 1e3:.{digits}f} ms > {limit * 1e3:g} ms with no queue", got / limit


def mark_dominated(cs: CandidateSet) -> int:
    """Mark dominated candidates (see the module docstring); return how many.

    A dominates B (same workload and GPU) when tp_A <= tp_B, A serves every bucket B serves, and
    on each of those buckets A's coverage per GPU is at least B's."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in cs.candidates:
        groups.setdefault((c.workload, c.gpu), []).append(c)
    n = 0
    for group in groups.values():
        order = sorted(group, key=lambda c: (c.tp, -sum(c.coverage_by_bucket) / c.tp, -len(c.buckets), c.id))
        kept: list[Candidate] = []
        for c in order:
            mine = dict(zip(c.buckets, c.coverage_by_bucket))
            for a in kept:
                theirs = dict(zip(a.buckets, a.coverage_by_bucket))
                if a.tp <= c.tp and all(b in theirs and theirs[b] / a.tp >= v / c.tp for b, v in mine.items()):
                    c.dominated_by = a.id
                    n += 1
                    break
            else:
                kept.append(c)
    return n


def nearest_miss(rejections: list[Rejection]) -> Rejection | None:
    """The rejection closest to passing (smallest miss ratio), or None."""
    scored = [r for r in rejections if r.miss_ratio is not None and math.isfinite(r.miss_ratio)]
    if not scored:
        return None
    return min(scored, key=lambda r: (r.miss_ratio, r.gpu, r.precision, r.tp))


def reason_counts(rejections: list[Rejection]) -> dict[str, int]:
    counts = {r: 0 for r in REASONS}
    for r in rejections:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    return {k: v for k, v in counts.items() if v}

