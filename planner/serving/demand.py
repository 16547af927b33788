"""Demand: the request rate a workload asks for, from its traffic or batch job.

Users are a closed loop (think, send, wait for the whole answer), so their request rate depends on
the response time of the deployment that serves them (Little's law).
"""

from __future__ import annotations

from planner.catalog.resolve import ResolvedWorkload


def demand_qps(w: ResolvedWorkload, response_s: float) -> float:
    """Request rate a workload asks for.

    peak_qps: as given. concurrent_users: Little's law on the closed loop of users who think,
    send, and wait for the whole response: rate = users / (think_time_s + response_s).
    batch: requests / (deadline_hours x 3600). Each times `w.demand_scale` (`planning.robustness` as a
    number, or a sensitivity scenario).
    """
    if w.spec.batch is not None:
        b = w.spec.batch
        return w.demand_scale * b.requests / (b.deadline_hours * 3600.0)
    t = w.spec.traffic
    if t.peak_qps is not None:
        return w.demand_scale * t.peak_qps
    return w.demand_scale * t.concurrent_users / (t.think_time_s + response_s)
