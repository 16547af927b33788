"""Predicted latency percentiles of a workload from the queueing model, at the load a plan routes.

A workload's requests are spread over (deployment, bucket) components: component i carries a share
w_i of the requests, and its latency distribution has the quantile function Q_i(p) of
`serving.queueing.quantiles` (`quantile_function`) at the rate the plan gives it. The workload's latency is the mixture:
P(X <= x) = sum_i w_i F_i(x), with F_i read off Q_i on a grid of probabilities (linear between grid
points) and the mixture's p-quantile found by bisection on x. A component's rate is the rate at
which its bucket alone would load the replica as much as the whole routed mix does (the MILP's
aggregate form): capacity_used x planned capacity at that bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.serving.queueing import BucketTimes, quantile_function

PROBABILITY_GRID = np.concatenate([np.linspace(0.01, 0.95, 95), np.array([0.96, 0.97, 0.98, 0.99, 0.995, 0.999])])
"""Probabilities at which each component's quantile function is evaluated."""
REPORTED = (50, 90, 99)
"""Percentiles every report gives."""


@dataclass(frozen=True)
class Component:
    """Requests of one bucket on one deployment: their timings, rate per replica and share of the workload."""

    times: BucketTimes
    rate_qps: float
    weight: float


def _quantile_table(c: Component) -> dict[str, np.ndarray]:
    """Each latency's quantiles over PROBABILITY_GRID (seconds), one row per grid point."""
    lat = quantile_function(c.times, c.rate_qps, PROBABILITY_GRID)
    return {name: np.array(getattr(lat, name), dtype=float) for name in ("ttft_s", "tpot_s", "e2e_s")}


def mixture_percentiles(components: list[Component], percentiles: tuple[int, ...] = REPORTED) -> dict[str, dict[str, float]]:
    """{"ttft_ms": {"p50": .., "p90": .., "p99": ..}, "tpot_ms": {..}, "e2e_ms": {..}} of the mixture.

    TPOT components with one output token (no TPOT) are left out of the TPOT mixture.
    """
    tables = [(_quantile_table(c), c) for c in components if c.weight > 0]
    out: dict[str, dict[str, float]] = {}
    for name in ("ttft_s", "tpot_s", "e2e_s"):
        parts = [(t[name], c.weight) for t, c in tables
                 if not (name == "tpot_s" and c.times.output_tokens <= 1) and np.all(np.isfinite(t[name]))]
        key = name.replace("_s", "_ms")
        if not parts:
            out[key] = {f"p{p}": None for p in percentiles}
            continue
        total = sum(w for _, w in parts)
        out[key] = {f"p{p}": _mixture_quantile(parts, total, p / 100.0) * 1e3 for p in percentiles}
    return out


def _mixture_quantile(parts: list[tuple[np.ndarray, float]], total: float, p: float) -> float:
    """The p-quantile of sum_i (w_i / total) F_i, F_i interpolated from its quantile table."""
    def cdf(x: float) -> float:
        return sum(w / total * float(np.interp(x, q, PROBABILITY_GRID, left=0.0, right=1.0)) for q, w in parts)

    lo = min(float(q[0]) for q, _ in parts)
    hi = max(float(q[-1]) for q, _ in parts)
    if cdf(lo) >= p:
        return lo
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if cdf(mid) >= p:
            hi = mid
        else:
            lo = mid
    return hi
