"""What a plan promises each online workload, and the serving simulation that checks it.

`predict` gives, per workload, the SLO percentile and the p50/p90/p99 of TTFT, TPOT and E2E the
queueing model predicts at the load the plan routes (`serving.predict`). `simulate_plan` runs the
iteration-level serving simulation (`serving.fleet`) on every replica of the plan at each
workload's peak and says whether the simulated SLO percentile meets the SLO within
`SIM_TOLERANCE`. Batch jobs have no latency target and are not simulated; nor are deployments
whose capacity was measured (`optimize.measured`), whose latencies are not predicted either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency
from planner.catalog.resolve import Resolved
from planner.optimize.measured import MeasuredCandidate
from planner.optimize.plan import DeploymentLine, Plan, replicas_at
from planner.optimize.slo import LATENCIES, at_rate, deployment_of, over_limits, slo_limits_s
from planner.perf.engines import deployment_efficiency
from planner.serving.fleet import ReplicaGroup, WorkloadResult, WorkloadSlo, simulate_workload
from planner.serving.mix import LengthMix
from planner.serving.predict import Component, mixture_percentiles
from planner.serving.simulate import ReplicaSpec, kv_budget_tokens

SIM_TOLERANCE = 0.10
"""A simulated SLO percentile may exceed the SLO by at most this fraction before the plan is reported
as missing it: the simulation is itself a sample (a few thousand requests in ten minutes), and the
queueing model's approximations (Sakasegawa's waiting probability, summed quantiles) are meant to
err on the safe side, not to be exact."""


@dataclass
class SimulationCheck:
    """The simulation of one plan: per online workload, its figures and whether it meets the SLO."""

    duration_s: float
    seed: int
    workloads: dict[str, WorkloadResult]
    misses: list[str]
    """One line per workload whose simulated SLO percentile misses the SLO by more than the tolerance."""
    not_simulated: list[str] = field(default_factory=list)
    """One line per deployment left out: measured capacities (`optimize.measured`) are not simulated."""


def _routed(line: DeploymentLine):
    """(times, rate per replica, route) of each bucket routed to `line`: the bucket as if alone at the
    share of its planned capacity the routed mix takes (the MILP's aggregate form)."""
    c = line.candidate
    if isinstance(c, MeasuredCandidate):  # measured capacity: the model's latencies do not apply
        return
    for k, b in enumerate(c.buckets):
        route = line.routes.get(b, 0.0)
        if route > 0:
            yield c.times[k], min(line.capacity_used, 1.0) * c.capacity_by_bucket[k], route


def predict(res: Resolved, plan: Plan) -> dict[str, dict]:
    """Workload name → {"slo": {...}, "predicted": {"ttft_ms": {"p50",...}, ...}} for online workloads."""
    out: dict[str, dict] = {}
    for w in res.workloads:
        slo = w.spec.slo
        if slo is None:
            continue
        parts = [Component(t, rate, route) for line in plan.deployments if line.candidate.workload == w.name
                 for t, rate, route in _routed(line)]
        out[w.name] = {"slo": {"percentile": slo.percentile, "ttft_ms": slo.ttft_ms, "tpot_ms": slo.tpot_ms,
                               **({"e2e_ms": slo.e2e_ms} if slo.e2e_ms is not None else {})},
                       "predicted": mixture_percentiles(parts)}
    return out


def line_latencies(res: Resolved, plan: Plan) -> dict[str, tuple[float, float, float]]:
    """Candidate id → (TTFT, TPOT, E2E) seconds at the workload's SLO percentile (p50 for batch jobs)
    at the load routed to the line, the worst of its routed buckets."""
    pct = {w.name: (w.spec.slo.percentile if w.spec.slo is not None else 50) / 100.0 for w in res.workloads}
    out = {}
    for line in plan.deployments:
        got = [at_rate(t, rate, pct[line.candidate.workload]) for t, rate, _ in _routed(line)]
        unknown = math.nan if isinstance(line.candidate, MeasuredCandidate) else 0.0
        out[line.candidate.id] = tuple(max((g[k] for g in got), default=unknown) for k in LATENCIES)
    return out


def simulate_plan(res: Resolved, plan: Plan, mixes: dict[str, LengthMix], duration_s: float, seed: int,
                  rate_scale: float = 1.0, eff_for: Callable[[Gpu], Efficiency] | None = None) -> SimulationCheck:
    """Simulate every replica of every online deployment of `plan` at its workload's peak.
    `rate_scale` multiplies every routed rate and `eff_for` replaces the catalogue's efficiency
    factors (the sensitivity report's scenarios: more demand, slower steps, the fleet held fixed)."""
    cat = res.catalog
    eff_for = eff_for or cat.efficiency_for
    results: dict[str, WorkloadResult] = {}
    misses: list[str] = []
    left_out = [f"{line.candidate.id}: measured capacity, not simulated" for line in plan.deployments
                if isinstance(line.candidate, MeasuredCandidate) and line.routes]
    for w in res.workloads:
        slo = w.spec.slo
        if slo is None:
            continue
        groups = []
        for line in plan.deployments:
            c = line.candidate
            if c.workload != w.name or not line.routes or isinstance(c, MeasuredCandidate):
                continue  # a measured deployment runs as measured: not simulated with the model's steps
            replicas = _replicas_at_peak(plan, line, w.name)
            if replicas == 0:  # runs in other hours only
                continue
            d = deployment_of(res, c)
            rs = ReplicaSpec(d, deployment_efficiency(cat, d, eff_for), c.batch, kv_budget_tokens(d), c.chunk_tokens)
            groups.append(ReplicaGroup(c.id, w.name, replicas, rs,
                                       {b: r * c.demand_qps * rate_scale for b, r in sorted(line.routes.items())}))
        if not groups:
            continue
        limits = slo_limits_s(slo)
        r = simulate_workload(groups, mixes[w.name], WorkloadSlo(slo.percentile, limits["ttft"], limits["tpot"], limits["e2e"]), duration_s, seed + w.index)
        results[w.name] = r
        for name, got, limit in simulated_misses(r, slo):
            misses.append(f"workload {w.name}: simulated p{slo.percentile} {name.upper()} {got * 1e3:,.1f} ms > "
                          f"SLO {limit * 1e3:g} ms (+{got / limit - 1:.0%}; tolerance {SIM_TOLERANCE:.0%})")
    return SimulationCheck(duration_s, seed, results, misses, left_out)


def simulated_misses(r: WorkloadResult, slo) -> list[tuple[str, float, float]]:
    """(latency, simulated s, limit s) of each SLO limit the simulated SLO percentile exceeds by more
    than SIM_TOLERANCE. A latency with no sample (TPOT when every answer is one token) misses nothing."""
    simulated_s = {k: r.at_slo_percentile[f"{k}_ms"] / 1e3 for k in LATENCIES}
    return over_limits({k: 0.0 if math.isnan(v) else v for k, v in simulated_s.items()}, slo, SIM_TOLERANCE)


def _replicas_at_peak(plan: Plan, line: DeploymentLine, workload: str) -> int:
    """The line's replicas in its workload's busiest period (all of them without hourly periods)."""
    return replicas_at(plan.solution, line.candidate.id, plan.workload_peak_hours.get(workload), line.replicas)
