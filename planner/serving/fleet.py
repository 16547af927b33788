"""Simulate a whole fleet: every replica of every online deployment, under the workload's arrivals,
its request lengths and the plan's routing.

Per workload: arrivals at the planned peak rate (Poisson, or gamma inter-arrival times with the
workload's burstiness `arrival_cv`, or the trace's own arrival times scaled to that rate); each
request gets a length bucket by the rates the plan routes to each (deployment, bucket), lengths
drawn from the bucket (a hand-written bucket's own lengths; a trace's rows nearest to the bucket),
and a replica of that deployment uniformly at random (a stateless load balancer). Each replica is
then simulated on its own (`serving.simulate.simulate_replica`); requests arriving in the first
`WARMUP_FRACTION` of the run, while the empty fleet fills, are left out of the figures.
Seeded and deterministic: the same plan, duration and seed give the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.serving.lengths import Bucket, Trace
from planner.serving.mix import LengthMix
from planner.serving.simulate import (
    ReplicaSpec,
    attainment,
    percentiles,
    renewal_arrivals,
    route,
    simulate_replica,
)

WARMUP_FRACTION = 0.1
"""Share of the simulated time at the start whose requests are not counted (the fleet starts empty)."""
DEFAULT_DURATION_S = 600.0
"""Simulated seconds of traffic by default (10 minutes at the peak)."""


@dataclass(frozen=True)
class ReplicaGroup:
    """The replicas of one deployment in the plan and what is routed to them at the peak."""

    deployment_id: str
    workload: str
    replicas: int
    spec: ReplicaSpec
    rate_by_bucket: dict[int, float]
    """Bucket index → requests/s routed to this deployment (all its replicas together)."""


@dataclass(frozen=True)
class WorkloadSlo:
    percentile: int
    ttft_s: float
    tpot_s: float
    e2e_s: float | None


@dataclass
class WorkloadResult:
    """Simulated figures of one workload (milliseconds)."""

    requests: int
    ttft_ms: dict[str, float]
    tpot_ms: dict[str, float]
    e2e_ms: dict[str, float]
    attainment: dict[str, float]
    """Share of requests meeting each limit: ttft, tpot (and e2e when given)."""
    at_slo_percentile: dict[str, float]
    """TTFT, TPOT and E2E at the SLO percentile."""
    peak_queue: int
    """Most requests waiting for admission at one replica at once."""
    rejected: int = 0
    """Requests whose context never fits a replica's KV budget."""
    by_deployment: dict[str, int] = field(default_factory=dict)
    """Deployment id → requests counted."""


def bucket_rows(trace: Trace, buckets: tuple[Bucket, ...]) -> list[np.ndarray]:
    """Row indices of the trace per bucket: each row goes to the bucket nearest to it in (log2 input,
    log2 output) among those whose longest context holds it (a length-aware router's rule)."""
    n_in = np.maximum(trace.input_tokens.astype(float), 1.0)
    n_out = np.maximum(trace.output_tokens.astype(float), 1.0)
    context = trace.input_tokens + trace.output_tokens
    best = np.full(len(n_in), -1)
    best_d = np.full(len(n_in), np.inf)
    for i, b in enumerate(buckets):
        dist = (np.log2(n_in) - np.log2(b.input_tokens)) ** 2 + (np.log2(n_out) - np.log2(b.output_tokens)) ** 2
        ok = (context <= b.max_context_tokens) & (dist < best_d)
        best = np.where(ok, i, best)
        best_d = np.where(ok, dist, best_d)
    return [np.flatnonzero(best == i) for i in range(len(buckets))]


def simulate_workload(groups: list[ReplicaGroup], mix: LengthMix, slo: WorkloadSlo, duration_s: float,
                      seed: int) -> WorkloadResult:
    """Simulate every replica of one workload's deployments for `duration_s` seconds at the peak."""
    rng = np.random.default_rng(seed)
    pairs = [(gi, b, r) for gi, g in enumerate(groups) for b, r in sorted(g.rate_by_bucket.items()) if r > 0]
    total = sum(r for _, _, r in pairs)
    arrivals = _arrivals(mix, total, duration_s, rng)
    pick = rng.choice(len(pairs), size=len(arrivals), p=np.array([r for _, _, r in pairs]) / total)
    rows = bucket_rows(mix.trace, mix.buckets) if mix.trace is not None else None
    n_in = np.empty(len(arrivals), dtype=np.int64)
    n_out = np.empty(len(arrivals), dtype=np.int64)
    for k, (_, b, _) in enumerate(pairs):
        sel = np.flatnonzero(pick == k)
        if rows is not None and len(rows[b]):
            drawn = rows[b][rng.integers(0, len(rows[b]), size=len(sel))]
            n_in[sel], n_out[sel] = mix.trace.input_tokens[drawn], mix.trace.output_tokens[drawn]
        else:
            n_in[sel], n_out[sel] = mix.buckets[b].input_tokens, mix.buckets[b].output_tokens
    warm = WARMUP_FRACTION * duration_s
    ttft, tpot, e2e = [], [], []
    peak_queue = rejected = 0
    counted: dict[str, int] = {}
    group_of = np.array([gi for gi, _, _ in pairs], dtype=int)[pick]
    for gi, g in enumerate(groups):
        mine = np.flatnonzero(group_of == gi)
        for idx in route(len(mine), g.replicas, rng):
            sel = mine[idx]
            res = simulate_replica(g.spec, arrivals[sel], n_in[sel], n_out[sel])
            keep = res.arrival_s >= warm
            ttft.append(res.ttft_s[keep])
            tpot.append(res.tpot_s[keep])
            e2e.append(res.e2e_s[keep])
            peak_queue = max(peak_queue, res.peak_queue)
            rejected += res.rejected
            counted[g.deployment_id] = counted.get(g.deployment_id, 0) + int(keep.sum())
    ttft_a, tpot_a, e2e_a = (np.concatenate(x) if x else np.array([]) for x in (ttft, tpot, e2e))
    ms = lambda d: {k: v * 1e3 for k, v in d.items()}
    att = {"ttft": attainment(ttft_a, slo.ttft_s), "tpot": attainment(tpot_a, slo.tpot_s)}
    if slo.e2e_s is not None:
        att["e2e"] = attainment(e2e_a, slo.e2e_s)
    p = slo.percentile
    figures = {"ttft_ms": ttft_a, "tpot_ms": tpot_a, "e2e_ms": e2e_a}
    return WorkloadResult(
        requests=int(len(ttft_a)), ttft_ms=ms(percentiles(ttft_a)), tpot_ms=ms(percentiles(tpot_a)),
        e2e_ms=ms(percentiles(e2e_a)), attainment=att,
        at_slo_percentile={k: percentiles(v, (p,))[f"p{p}"] * 1e3 for k, v in figures.items()},
        peak_queue=peak_queue, rejected=rejected, by_deployment=counted,
    )


def _arrivals(mix: LengthMix, rate_qps: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times over [0, duration_s): the trace's own, scaled to `rate_qps` and repeated as
    needed; else gamma inter-arrival times with the mix's coefficient of variation (1: Poisson)."""
    trace = mix.trace
    if trace is not None and trace.arrival_s is not None and len(trace.arrival_s) > 2 and trace.arrival_s[-1] > 0:
        gaps = np.diff(trace.arrival_s)
        scale = (len(gaps) / trace.arrival_s[-1]) / rate_qps
        gaps = gaps * scale
        reps = int(np.ceil(duration_s / max(float(gaps.sum()), 1e-9))) + 1
        times = np.cumsum(np.tile(gaps, reps))
        return times[times < duration_s]
    return renewal_arrivals(rate_qps, mix.arrival_cv, duration_s, rng)
