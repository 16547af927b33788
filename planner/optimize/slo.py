"""What candidates, verify and the serving check share about a workload's SLO: its limits in
seconds, which of them a latency breaks, a bucket's SLO capacity, the mean response time of
Little's law, and the `Deployment` a candidate stands for.
"""

from __future__ import annotations

import numpy as np

from planner.catalog.resolve import Resolved
from planner.perf.estimate import Deployment
from planner.serving import queueing
from planner.spec.schema import Slo

LATENCIES = ("ttft", "tpot", "e2e")
"""The latencies an SLO limits, in report order."""


def slo_limits_s(slo: Slo) -> dict[str, float | None]:
    """{"ttft": s, "tpot": s, "e2e": s or None}: the SLO's limits in seconds."""
    return {"ttft": slo.ttft_ms / 1e3, "tpot": slo.tpot_ms / 1e3,
            "e2e": slo.e2e_ms / 1e3 if slo.e2e_ms is not None else None}


def over_limits(latencies_s: dict[str, float], slo: Slo, tolerance: float = 0.0) -> list[tuple[str, float, float]]:
    """(latency, value s, limit s) for each limit of `slo` that `latencies_s` exceeds by more than
    `tolerance` (a fraction of the limit), in LATENCIES order."""
    limits = slo_limits_s(slo)
    return [(k, latencies_s[k], limits[k]) for k in LATENCIES
            if limits[k] is not None and not latencies_s[k] <= limits[k] * (1.0 + tolerance)]


def at_rate(t: queueing.BucketTimes, rate_qps: float, p: float) -> dict[str, float]:
    """{"ttft", "tpot", "e2e"}: the p-quantiles (seconds) of one bucket at one rate."""
    lat = queueing.quantiles(t, np.array([rate_qps]), p)
    return {"ttft": float(lat.ttft_s[0]), "tpot": float(lat.tpot_s[0]), "e2e": float(lat.e2e_s[0])}


def slo_capacity_qps(t: queueing.BucketTimes, slo: Slo | None) -> float:
    """Requests/s one replica takes on bucket `t` with the SLO percentile met (queueing included);
    with no SLO (a batch job) the largest stable rate."""
    if slo is None:
        return queueing.saturation_qps(t)
    limits = slo_limits_s(slo)
    return queueing.capacity_qps(t, slo.percentile / 100.0, limits["ttft"], limits["tpot"], limits["e2e"])


def mean_response_s(times: list[queueing.BucketTimes], rates_qps: list[float], shares: list[float]) -> float:
    """Share-weighted mean end-to-end latency, each bucket at its rate: the response time of
    Little's law at the operating point."""
    total = sum(shares)
    return sum(s / total * float(queueing.means(t, np.array([r])).e2e_s[0]) for t, r, s in zip(times, rates_qps, shares))


def deployment_of(res: Resolved, c) -> Deployment:
    """The deployment a candidate (`optimize.candidates.Candidate`) runs, rebuilt from the catalogue."""
    cat, planning = res.catalog, res.spec.planning
    w = next(w for w in res.workloads if w.name == c.workload)
    return Deployment(model=w.model, gpu=cat.gpus.rows[c.gpu], precision=cat.precisions.rows[c.precision],
                      kv_precision=cat.precisions.rows[c.kv_precision], tp=c.tp,
                      mem_utilization=planning.mem_utilization, max_num_seqs=planning.max_num_seqs,
                      max_num_batched_tokens=planning.max_num_batched_tokens, engine=w.engine)
