"""Candidates: every (workload × GPU × precision × TP × batch cap) the performance model admits.

For each workload and each GPU that passes the filters, each precision and each TP degree, the
deployment is checked (precision supported, TP divides the heads and fits one server), then
evaluated with `estimate` at a ladder of batch caps (powers of two up to the largest admissible
batch, and that batch itself). A batch cap is admissible when its KV cache fits in memory and,
for online traffic, its loaded TTFT and TPOT meet the SLO. Each candidate carries the request
rate one replica sustains at `max_utilization` of its capacity (the headroom), and the share of
the workload's demand that one replica covers. Everything that fails is kept as a `Rejection`
with its reason, for `planner candidates` and for the infeasibility diagnosis.

Dominance (`mark_dominated`): within one workload and one GPU type, candidate A dominates B when
tp_A <= tp_B and coverage_A / tp_A >= coverage_B / tp_B. Then tp_B / tp_A replicas of A use the
same GPUs as one of B (so cost, power and inventory are equal), pack into any host B fits in
(TP sizes are powers of two), count at least as many replicas, and cover at least as much
demand: no optimal plan needs B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner import perf
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Precision
from planner.catalog.resolve import Resolved, ResolvedWorkload
from planner.perf.estimate import (
    Deployment,
    default_kv_precision,
    max_batch,
    memory_breakdown,
    timings,
)
from planner.serving.demand import demand_qps
from planner.units import GIB

REASONS = ("filtered out", "precision unsupported", "tp invalid", "memory", "TTFT", "TPOT", "fleet too large")
"""Rejection reasons, in the order the checks run."""
MAX_REPLICAS_PER_DEPLOYMENT = 100_000
"""The most replicas of one deployment a plan may use: about the largest GPU clusters built (some
100,000 GPUs). Demand beyond it is out of scope; past it the plan, its placement and its JSON grow
with every replica (a million replicas take minutes and gigabytes to place and print)."""


@dataclass
class Candidate:
    """One admissible deployment of one workload. Times in seconds, memory in bytes per GPU."""

    id: str
    workload: str
    workload_index: int
    model: str
    gpu: str
    precision: str
    kv_precision: str
    tp: int
    batch: int
    """Batch cap: concurrent sequences per replica (the engine's max_num_seqs)."""
    max_batch_memory: int
    """Largest batch whose KV cache fits in memory."""
    ttft_s: float
    """Loaded TTFT: prefill + 1.5 decode steps (perf.loaded_ttft_s)."""
    tpot_s: float
    """Loaded TPOT at the batch cap (perf.loaded_tpot_s)."""
    prefill_s: float
    decode_step_s: float
    output_tokens_per_s: float
    """Steady-state output tokens/s of one replica at the batch cap."""
    max_utilization: float
    capacity_qps: float
    """Requests/s one replica takes: max_utilization x output_tokens_per_s / output_tokens."""
    demand_qps: float
    """The workload's request rate if served by this candidate (Little's law for users)."""
    coverage: float
    """capacity_qps / demand_qps: the share of the workload one replica covers."""
    mem_used_bytes: float
    mem_capacity_bytes: float
    bottleneck: str
    dominated_by: str | None = None

    @property
    def coverage_per_gpu(self) -> float:
        return self.coverage / self.tp


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


def candidate_id(workload: str, model: str, gpu: str, precision: str, tp: int, batch: int) -> str:
    """Readable, stable id: `chat:qwen-7b@h100-sxm-80gb/fp16/tp1/b64`."""
    return f"{workload}:{model}@{gpu}/{precision}/tp{tp}/b{batch}"


def batch_ladder(upper: int) -> list[int]:
    """Powers of two below `upper`, then `upper` itself: 1, 2, 4, ..., upper."""
    out, b = [], 1
    while b < upper:
        out.append(b)
        b *= 2
    out.append(upper)
    return out




def generate(res: Resolved, ladder: bool = False) -> CandidateSet:
    """Every candidate and rejection of every workload, in a stable order; dominance marked.

    With `ladder=False` only the largest admissible batch cap of each (workload, GPU, precision,
    TP) is materialised and the lower rungs are counted in `ladder_skipped`: they are dominated
    by it. Coverage per replica = max_utilization x rate(b) / output_tokens / demand, where
    rate(b) = b / (step(b) + b / output_tokens x prefill) and step(b) is affine-or-max-of-affine
    in b with a non-negative intercept, so rate(b) never falls as b grows; the demand is fixed
    (peak_qps, batch) or falls as the response time grows (Little's law). `ladder=True`
    (`planner candidates --ladder`) materialises every rung.
    """
    out = CandidateSet()
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
                   max_num_seqs=planning.max_num_seqs)
    eff = res.catalog.efficiency_for(g)
    n_in, n_out = w.spec.input_tokens, w.spec.output_tokens
    context = n_in + n_out
    limit = max_batch(d, context)
    if limit < 1:
        mem = memory_breakdown(d, 1, context)
        reject("memory", f"needs {mem.total / GIB:.1f} GiB per GPU at batch 1, has {mem.capacity / GIB:.1f} GiB",
               mem.total / mem.capacity)
        return
    pre = perf.prefill_time(m, g, p, tp, max(n_in, 1), eff)
    slo = w.spec.slo

    cache: dict[int, tuple] = {}

    def timed(b: int) -> tuple:
        if b not in cache:
            cache[b] = timings(d, eff, b, n_in, n_out, pre)
        return cache[b]

    def within_slo(b: int) -> tuple[bool, float, float]:
        step, _, tpot, _ = timed(b)
        ttft = perf.loaded_ttft_s(pre.total_s, step.total_s)
        if slo is None:
            return True, ttft, tpot
        return ttft <= slo.ttft_ms / 1e3 and tpot <= slo.tpot_ms / 1e3, ttft, tpot

    ok1, ttft1, tpot1 = within_slo(1)
    if not ok1:
        if ttft1 > slo.ttft_ms / 1e3:
            reject("TTFT", f"loaded TTFT {ttft1 * 1e3:.0f} ms > {slo.ttft_ms:g} ms at batch 1", ttft1 / (slo.ttft_ms / 1e3))
        else:
            reject("TPOT", f"loaded TPOT {tpot1 * 1e3:.1f} ms > {slo.tpot_ms:g} ms at batch 1", tpot1 / (slo.tpot_ms / 1e3))
        return
    upper = limit
    if not within_slo(upper)[0]:
        lo, hi = 1, upper  # within_slo(lo) holds, within_slo(hi) does not; both times rise with the batch
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if within_slo(mid)[0]:
                lo = mid
            else:
                hi = mid
        upper = lo
    step, _, tpot, rate = timed(upper)
    ttft = perf.loaded_ttft_s(pre.total_s, step.total_s)
    replicas = demand_qps(w, ttft + (n_out - 1) * tpot) / (w.max_utilization * rate / n_out)
    if replicas > MAX_REPLICAS_PER_DEPLOYMENT:
        reject("fleet too large", f"needs {replicas:,.0f} replicas at batch {upper} "
               f"(more than {MAX_REPLICAS_PER_DEPLOYMENT:,} of one deployment)", replicas / MAX_REPLICAS_PER_DEPLOYMENT)
        return
    rungs = batch_ladder(upper)
    if not ladder:
        out.ladder_skipped += len(rungs) - 1
        rungs = rungs[-1:]
    for b in rungs:
        step, _, tpot, rate = timed(b)
        ttft = perf.loaded_ttft_s(pre.total_s, step.total_s)
        capacity = w.max_utilization * rate / n_out
        response = ttft + (n_out - 1) * tpot
        dem = demand_qps(w, response)
        mem = memory_breakdown(d, b, context)
        if b == limit and limit < d.max_num_seqs:
            bottleneck = "memory capacity"
        elif slo is not None and b == upper < limit:
            step_next = timed(b + 1)[0]
            ttft_next = perf.loaded_ttft_s(pre.total_s, step_next.total_s)
            bottleneck = "TTFT SLO" if ttft_next > slo.ttft_ms / 1e3 else "TPOT SLO"
        else:
            bottleneck = step.bound
        out.candidates.append(Candidate(
            id=candidate_id(w.name, m.id, g.id, p.id, tp, b), workload=w.name, workload_index=w.index,
            model=m.id, gpu=g.id, precision=p.id, kv_precision=kv.id, tp=tp, batch=b, max_batch_memory=limit,
            ttft_s=ttft, tpot_s=tpot, prefill_s=pre.total_s, decode_step_s=step.total_s,
            output_tokens_per_s=rate, max_utilization=w.max_utilization, capacity_qps=capacity,
            demand_qps=dem, coverage=capacity / dem, mem_used_bytes=mem.total, mem_capacity_bytes=mem.capacity,
            bottleneck=bottleneck,
        ))


def mark_dominated(cs: CandidateSet) -> int:
    """Mark dominated candidates (see the module docstring); return how many."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cs.candidates):
        groups.setdefault((c.workload, c.gpu), []).append(i)
    n = 0
    for idx in groups.values():
        order = sorted(idx, key=lambda i: (cs.candidates[i].tp, -cs.candidates[i].coverage_per_gpu, cs.candidates[i].id))
        best: Candidate | None = None
        for i in order:
            c = cs.candidates[i]
            if best is not None and c.coverage_per_gpu <= best.coverage_per_gpu:
                c.dominated_by = best.id
                n += 1
            else:
                best = c
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

