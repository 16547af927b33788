"""Candidates: every (workload × GPU × precision × TP × memory tier × batch cap) the models admit.

For each workload and each GPU that passes the filters, each precision and each TP degree, the
deployment is checked (precision supported and of `min_quality`, TP divides the heads and fits one
server). The workload's requests come in length buckets (`serving.mix`); each distinct longest
context among them is a memory tier. For each tier, the batch cap is the largest batch that fits in
memory with every sequence at the tier's context (`estimate.max_batch`) and whose decode step at
that batch meets the TPOT limit; then every bucket up to the tier gets its SLO capacity: the largest
request rate at which one replica meets the SLO percentile of TTFT, TPOT (and E2E), waiting for a
slot and prefill interference included (`serving.queueing.capacity_qps`), at the factors of its GPU
family and engine. Buckets missing the SLO with no queue are not served by it. A replica's planned
capacity on bucket b is `max_utilization` x that rate, covering capacity_b / demand. Everything that fails is kept as a `Rejection` with its reason, for `planner candidates` and
for the infeasibility diagnosis.

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
from planner.catalog.quality import load_quality, shortfall
from planner.catalog.resolve import Resolved, ResolvedWorkload
from planner.optimize import pair_eval
from planner.perf.estimate import Deployment, max_batches, memory_breakdown
from planner.optimize.slo import LATENCIES, over_limits
from planner.serving import queueing
from planner.serving.demand import demand_qps
from planner.serving.mix import LengthMix, workload_mixes
from planner.units import GIB

REASONS = ("filtered out", "precision unsupported", "below min_quality", "tp invalid", "memory", "TTFT", "TPOT", "E2E", "fleet too large")
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
    """Seconds the longest served prompt adds to the decode steps it rides (`perf.prefill_added_s`)."""
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
    bucket up to the tier then gets its SLO capacity (`serving.queueing.capacities`). With
    `ladder=False` only that batch cap is materialised and the lower rungs are counted in
    `ladder_skipped`; `ladder=True` (`planner candidates --ladder`) evaluates them all.
    `mixes` (workload → length mix) defaults to `serving.mix.workload_mixes(res.loaded)`.

    It runs in three passes per workload, so that the queueing model sees every (deployment,
    bucket, batch cap) of the workload in one numpy evaluation rather than one call each: the
    deployments' memory tiers, batch caps and step tables (`_Combo`); the SLO capacities and
    latencies of all their (bucket, batch cap) pairs (`pair_eval.evaluate`); then the candidates and
    rejections, in the order of the deployments.
    """
    out = CandidateSet(mixes=mixes if mixes is not None else workload_mixes(res.loaded))
    spec = res.spec
    all_precisions = tuple(p for p in res.catalog.precisions.rows.values() if p.serving_default)
    built: list[tuple[Candidate, _Combo, tuple[int, ...]]] = []
    for w in res.workloads:
        precisions = w.precisions if w.precisions is not None else all_precisions
        for gid in res.filtered_out:
            for p in precisions:
                for tp in spec.planning.tp_degrees:
                    out.rejections.append(Rejection(w.name, gid, p.id, tp, "filtered out", res.filtered_out[gid]))
        mix = out.mixes[w.name]
        pairs = pair_eval.Pairs()
        shape = pair_eval.Shape(mix)
        combos = [_Combo.prepare(res, w, g, p, tp, shape, ladder, pairs, out)
                  for g in res.gpus for p in precisions for tp in sorted(spec.planning.tp_degrees)]
        results = pair_eval.evaluate(pairs, w, mix)
        for combo in combos:
            combo.emit(res, w, mix, results, out, built)
    mark_dominated(out)
    for c, combo, served in built:
        if c.dominated_by is None:  # the queueing inputs plan lines need (predictions, the simulation)
            c.times = tuple(combo.bucket_times(i, c.batch) for i in served)
    return out


class _Combo:
    """One (workload, GPU, precision, TP): its checks, memory tiers and batch caps, the decode step
    table at every bucket's context, and the rungs (tier, batch cap) to make candidates of."""

    def __init__(self) -> None:
        self.rejection: Rejection | None = None
        self.events: list[tuple] = []
        """In tier order: ("tpot", reason, detail, ratio) for a tier whose batch 1 misses TPOT, or
        ("rung", tier, memory limit, served bucket indices, batch cap, pair index per served bucket)."""

    @staticmethod
    def prepare(res: Resolved, w: ResolvedWorkload, g: Gpu, p: Precision, tp: int, shape: pair_eval.Shape, ladder: bool,
                pairs: pair_eval.Pairs, out: CandidateSet) -> _Combo:
        self = _Combo()
        self.gpu, self.precision, self.tp = g, p, tp
        m = w.model
        reject = lambda reason, detail, ratio=None: Rejection(w.name, g.id, p.id, tp, reason, detail, ratio)
        if not g.supports(p.compute_on(g)):
            self.rejection = reject("precision unsupported", f"{g.id} cannot compute in {p.compute_on(g)}")
            return self
        if (short := shortfall(load_quality().figure(m, p), w.spec.min_quality)) is not None:
            self.rejection = reject("below min_quality", *short)
            return self
        if m.n_heads % tp:
            self.rejection = reject("tp invalid", f"tp={tp} does not divide {m.n_heads} attention heads")
            return self
        server = max(g.scaleup_domain_gpus, g.gpus_per_server)
        if tp > server:
            self.rejection = reject("tp invalid", f"tp={tp} exceeds one {g.id} server ({server} GPUs)")
            return self
        kv = w.kv_precision or shape.kv_precision(res, p)
        planning = res.spec.planning
        d = Deployment(model=m, gpu=g, precision=p, kv_precision=kv, tp=tp, mem_utilization=planning.mem_utilization,
                       max_num_seqs=planning.max_num_seqs, max_num_batched_tokens=planning.max_num_batched_tokens, engine=w.engine)
        self.d, self.eff, self.chunk = d, perf.deployment_efficiency(res.catalog, d), d.chunk_tokens
        slo, tiers = w.spec.slo, shape.tiers
        self.memory = memory_breakdown(d, 0, 0)
        limits = max_batches(d, tiers, self.memory)
        if limits[0] < 1:
            mem = memory_breakdown(d, 1, tiers[0])
            self.rejection = reject("memory", f"needs {mem.total / GIB:.1f} GiB per GPU at batch 1, has "
                                              f"{mem.capacity / GIB:.1f} GiB", mem.total / mem.capacity)
            return self
        # Decode steps at batch 1..(largest limit) at each bucket's mean context, and each bucket's prefill.
        self.step = perf.decode_step_time(m, g, p, d.kv_bytes, tp, np.arange(1.0, limits[0] + 1.0)[None, :],
                                          shape.contexts[:, None], self.eff, d.pp)
        self.steps_s = pair_eval.full(self.step.total_s, (len(shape.contexts), limits[0]))
        pre = perf.prefill_time(m, g, p, tp, shape.prompts, self.eff, d.pp)  # what a prompt adds to the steps it rides
        self.prefill_s = pair_eval.full(perf.prefill_added_s(pre, d.batches_prefill), shape.prompts.shape)
        self.tiered = len(tiers) > 1
        seen: dict[tuple[int, int], int] = {}
        for tier, limit, served, longest in zip(tiers, limits, shape.served, shape.longest):
            if limit < 1:
                break  # longer contexts fit even less
            cap = limit
            if slo is not None:
                steps = self.steps_s[longest, :limit]
                cap = int(np.searchsorted(steps, slo.tpot_ms / 1e3, side="right"))
                if cap < 1:
                    self.events.append(("tpot", "TPOT", f"decode step {steps[0] * 1e3:.1f} ms > {slo.tpot_ms:g} ms "
                                                        f"at batch 1 ({shape.contexts[longest]:,.0f}-token context)",
                                        float(steps[0]) / (slo.tpot_ms / 1e3)))
                    continue
            rungs = batch_ladder(cap)
            if not ladder:
                out.ladder_skipped += len(rungs) - 1
                rungs = rungs[-1:]
            for b in rungs:
                index = []
                for i in served:  # a higher tier with the same batch cap sees the same bucket again
                    if (i, b) not in seen:
                        seen[i, b] = pairs.add(self, i, b)
                    index.append(seen[i, b])
                self.events.append(("rung", tier, limit, served, b, index))
        return self

    def bucket_times(self, bucket: int, batch: int) -> queueing.BucketTimes:
        """The queueing inputs of one bucket at one batch cap, from the step table."""
        row = self.steps_s[bucket]
        bk_in, bk_out = self.buckets_lengths[bucket]
        return queueing.BucketTimes(bk_in, bk_out, batch, self.chunk, float(self.prefill_s[bucket]),
                                    np.concatenate([row[:1], row[:batch]]))

    def emit(self, res: Resolved, w: ResolvedWorkload, mix: LengthMix, results: pair_eval.Results, out: CandidateSet,
             built: list) -> None:
        """Append this deployment's candidates and rejections (in the order the checks ran)."""
        if self.rejection is not None:
            out.rejections.append(self.rejection)
            return
        self.buckets_lengths = [(b.input_tokens, b.output_tokens) for b in mix.buckets]
        slo = w.spec.slo
        made = 0
        first_miss: tuple[str, str, float] | None = None
        for event in self.events:
            if event[0] == "tpot":
                first_miss = first_miss or event[1:]
                continue
            _, tier, limit, served, batch, index = event
            made += self._add_candidate(w, mix, results, served, index, tier, batch, limit, out, built)
            if not made and first_miss is None:
                first_miss = pair_eval.service_miss(self.d, self.eff, mix.buckets[served[0]], self.chunk, slo)
        if not made:
            if first_miss is None:
                first_miss = ("TTFT", "no length bucket meets the SLO", float("inf"))
            reason, detail, ratio = first_miss
            out.rejections.append(Rejection(w.name, self.gpu.id, self.precision.id, self.tp, reason, detail, ratio))

    def _add_candidate(self, w: ResolvedWorkload, mix: LengthMix, results: pair_eval.Results, served: list[int],
                       index: list[int], tier: int, batch: int, limit: int, out: CandidateSet, built: list) -> int:
        """One (tier, batch cap): the candidate serving every bucket up to the tier that meets the SLO
        alone (return 1), none if no bucket does (0); a rejection when it needs too many replicas."""
        d = self.d
        slo = w.spec.slo
        pct = slo.percentile if slo is not None else 50
        util = w.max_utilization
        slo_qps = results.slo_qps
        kept = [(i, k) for i, k in zip(served, index) if slo_qps[k] > 0]
        if not kept:
            return 0
        rates = [slo_qps[k] for _, k in kept]
        planned = [util * q for q in rates]
        shares = tuple(mix.buckets[i].share for i, _ in kept)
        total = sum(shares)
        mean_e2e_s = results.mean_e2e_s
        response_s = sum(s / total * mean_e2e_s[k] for s, (_, k) in zip(shares, kept))
        dem = demand_qps(w, response_s)
        need = sum(s / (c / dem) for s, c in zip(shares, planned)) / total
        if need > MAX_REPLICAS_PER_DEPLOYMENT:
            out.rejections.append(Rejection(
                w.name, d.gpu.id, d.precision.id, d.tp, "fleet too large",
                f"needs {need:,.0f} replicas at batch {batch} (more than {MAX_REPLICAS_PER_DEPLOYMENT:,} of one deployment)",
                need / MAX_REPLICAS_PER_DEPLOYMENT))
            return 1  # admissible in itself; counted as made so no SLO rejection is added
        longest = max(range(len(kept)), key=lambda j: (mix.buckets[kept[j][0]].max_context_tokens, -j))
        kv_cache = perf.kv_cache_bytes_per_sequence(d.model, d.kv_bytes, tier, d.tp, d.pp) * batch
        mem = self.memory
        keys = [k for _, k in kept]
        c = Candidate(
            id=candidate_id(w.name, d.model.id, d.gpu.id, d.precision.id, d.tp, batch, tier if self.tiered else None),
            workload=w.name, workload_index=w.index, model=d.model.id, gpu=d.gpu.id, precision=d.precision.id,
            kv_precision=d.kv_precision.id, tp=d.tp, batch=batch, max_batch_memory=limit, context_tokens=tier,
            buckets=tuple(i for i, _ in kept), shares=shares, slo_qps=tuple(rates), max_utilization=util,
            demand_qps=dem, ttft_s=max(map(results.planned["ttft"].__getitem__, keys)),
            tpot_s=max(map(results.planned["tpot"].__getitem__, keys)),
            e2e_s=max(map(results.planned["e2e"].__getitem__, keys)),
            prefill_s=float(self.prefill_s[kept[longest][0]]),
            decode_step_s=float(self.steps_s[kept[longest][0], batch - 1]), percentile=pct, chunk_tokens=self.chunk,
            mem_used_bytes=mem.weights + kv_cache + mem.activations + mem.overhead, mem_capacity_bytes=mem.capacity,
            bottleneck=self._bottleneck(results, kept, shares, batch, limit, slo),
        )
        out.candidates.append(c)
        built.append((c, self, c.buckets))
        return 1

    def _bottleneck(self, results: pair_eval.Results, kept: list[tuple[int, int]], shares: tuple[float, ...], batch: int,
                    limit: int, slo) -> str:
        """What limits the replica: memory (the batch cap is the largest that fits), the SLO limit that
        binds just above the capacity of its largest bucket, or the step's bound when the queue saturates."""
        if batch == limit and limit < self.d.max_num_seqs:
            return "memory capacity"
        j = max(range(len(shares)), key=lambda i: (shares[i], -i))
        bucket, k = kept[j]
        if slo is not None:
            over = over_limits({name: results.above[name][k] for name in LATENCIES}, slo)
            if over and np.isfinite(over[0][1]):  # inf: the queue saturates first
                return f"{over[0][0].upper()} SLO"
        at = lambda a: float(np.broadcast_to(a, self.steps_s.shape)[bucket, batch - 1])
        return perf.StepTime(at(self.step.memory_s), at(self.step.compute_s), at(self.step.comm_s),
                             self.step.overhead_s).bound


def mark_dominated(cs: CandidateSet) -> int:
    """Mark dominated candidates (see the module docstring); return how many.

    A dominates B (same workload and GPU) when tp_A <= tp_B, A serves every bucket B serves, and
    on each of those buckets A's coverage per GPU is at least B's."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in cs.candidates:
        groups.setdefault((c.workload, c.gpu), []).append(c)
    n = 0
    for group in groups.values():
        cover = {id(c): c.coverage_by_bucket for c in group}
        order = sorted(group, key=lambda c: (c.tp, -sum(cover[id(c)]) / c.tp, -len(c.buckets), c.id))
        per_gpu = {id(c): {b: v / c.tp for b, v in zip(c.buckets, cover[id(c)])} for c in order}
        kept: list[Candidate] = []
        for c in order:
            mine = per_gpu[id(c)].items()
            for a in kept:
                theirs = per_gpu[id(a)]
                if a.tp <= c.tp and all(b in theirs and theirs[b] >= v for b, v in mine):
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

