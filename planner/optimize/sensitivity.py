"""The sensitivity report (`planner solve --sensitivity`): how far a plan is from missing its SLO.

A cost-minimal plan has no slack beyond `max_utilization`, and the performance model has an error
of its own (`planner validate`). For each plan, with its fleet held fixed (the same deployments,
replicas and routing), the serving simulation (`serving_check.simulate_plan`) is run in each
scenario of `SCENARIOS`:

- `nominal`: the demand the file states, the model's step times (what `--simulate` shows, but
  without `planning.robustness`: a plan sized for 1.5 x the demand, or on derated speeds, is
  checked against the demand and speeds it was hedging);
- `demand x1.2`, `demand x1.5`: every workload's routed rate x 1.2 or x 1.5;
- `performance x0.8`: every step time / 0.8 (efficiency factors x 0.8 and step overhead / 0.8,
  `catalog.model_error.scaled_efficiency`), about the p90 one-sided error of the model on the
  measured rows (`catalog/model_error.csv`: 0.75-0.79 for the fitted families).

Each scenario also re-solves the file in that world (demand x m through `demand_scale`; slower
steps through a scaled catalogue), giving what a plan sized for it would cost.

The *breaking demand multiplier* is the least m in [1, BREAK_CAP] at which the fixed fleet, at
the model's step times and m x the demand, misses an SLO: some workload's simulated SLO percentile
more than `SIM_TOLERANCE` (10 %) over its limit, the rule `--simulate` reports misses by. It is
found by geometric bisection from the bracket the scenarios give, to a relative width of
BREAK_TOLERANCE (1 %); the answer is the bracket's upper end (a multiplier seen to miss). Every
simulation uses the same seed, so the arrival stream at m is, draw for draw, the one at 1 compressed
in time, up to the block sizes its generator draws in; bisection assumes one crossing, which holds
unless the attainment is within the sampling noise of the limit over a range of m.

Simulations run SENSITIVITY_DURATION_S seconds of peak traffic by default (2 minutes, the first
tenth warm-up), not the 10 minutes of `--simulate`: a dozen run per plan, and past the breaking
point a queue that grows by (m - m*) x rate requests per second passes any SLO within seconds.
Batch jobs have no SLO and are not simulated (their demand is scaled in the re-solves).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from planner.catalog.model_error import scaled_catalog
from planner.catalog.price_rows import PriceBook
from planner.catalog.store import Catalog
from planner.errors import InfeasibleError, SolverError
from planner.optimize.chain import solve_loaded
from planner.optimize.plan import Outcome, Plan
from planner.optimize.serving_check import SimulationCheck, simulate_plan
from planner.spec.loader import LoadedSpec

SCENARIOS = (("nominal", 1.0, 1.0), ("demand x1.2", 1.2, 1.0), ("demand x1.5", 1.5, 1.0),
             ("performance x0.8", 1.0, 0.8))
"""(name, demand multiplier, performance multiplier) of each scenario, in report order."""
BREAK_CAP = 4.0
"""Largest demand multiplier searched: a fleet that still meets its SLOs at 4 x its demand is
reported as `> 4` (null)."""
BREAK_TOLERANCE = 0.01
"""The search stops when the bracket's upper end is within this fraction of its lower end."""
SENSITIVITY_DURATION_S = 120.0
"""Simulated seconds of peak traffic per scenario (see the module docstring for why not 600)."""


@dataclass
class Resolve:
    """The file re-solved in a scenario's world: the cost of the plan of the same pricing, or why none."""

    status: str
    """`optimal`, `feasible`, `infeasible` or `no plan` (a solver limit)."""
    monthly_usd: float | None = None
    capex_usd: float | None = None
    total_usd: float | None = None
    reason: str | None = None


@dataclass
class Scenario:
    name: str
    demand: float
    performance: float
    fleet_fixed: SimulationCheck
    resolved: Resolve | None
    """None for `nominal` (the plan itself)."""

    @property
    def meets_slo(self) -> bool:
        return not self.fleet_fixed.misses


@dataclass
class BreakSearch:
    multiplier: float | None
    """Least demand multiplier seen to miss an SLO (to BREAK_TOLERANCE); 1.0 when the fleet misses
    at the stated demand; None when it meets every SLO at BREAK_CAP."""
    low: float
    """Largest multiplier seen to meet every SLO (the bracket's lower end)."""
    cap: float = BREAK_CAP
    tolerance: float = BREAK_TOLERANCE
    simulations: int = 0
    first_miss: list[str] = field(default_factory=list)
    """The misses at `multiplier`, in the words of `--simulate`."""


@dataclass
class Sensitivity:
    duration_s: float
    seed: int
    scenarios: list[Scenario]
    breaking: BreakSearch
    seconds: float = 0.0


@dataclass
class World:
    """What the re-solves need to solve the file as the plan was solved."""

    loaded: LoadedSpec
    catalog: Catalog
    """The nominal catalogue (calibration overlay applied, not derated by `planning.robustness`)."""
    solver: str = "highs"
    time_limit_s: float = 60.0
    book: PriceBook | None = None
    catalog_file: Path | None = None
    today: date | None = None


def run(out: Outcome, world: World, duration_s: float = SENSITIVITY_DURATION_S, seed: int = 0,
        progress: Callable[[str], None] | None = None) -> None:
    """Set `plan.sensitivity` on every plan of `out` (scenarios, re-solves and the break search)."""
    say = progress or (lambda line: None)
    t0 = time.perf_counter()
    resolves: dict[str, Outcome | Resolve] = {}
    for name, demand, performance in SCENARIOS[1:]:
        say(f"sensitivity: re-solving for {name} ...")
        resolves[name] = _resolve(world, demand, performance)
    for plan in out.plans:
        say(f"sensitivity ({plan.pricing}): simulating {len(SCENARIOS)} scenarios and searching the breaking demand ...")
        scenarios = []
        for name, demand, performance in SCENARIOS:
            check = fleet_fixed(out, plan, world.catalog, demand, performance, duration_s, seed)
            found = resolves.get(name)
            scenarios.append(Scenario(name, demand, performance, check,
                                      None if found is None else _plan_cost(found, plan.pricing)))
        breaking = breaking_multiplier(
            lambda m: fleet_fixed(out, plan, world.catalog, m, 1.0, duration_s, seed),
            known={s.demand: s.fleet_fixed.misses for s in scenarios if s.performance == 1.0})
        plan.sensitivity = Sensitivity(duration_s, seed, scenarios, breaking)
    seconds = time.perf_counter() - t0
    for plan in out.plans:
        plan.sensitivity.seconds = seconds
    say(f"sensitivity: done in {seconds:.1f} s")


def fleet_fixed(out: Outcome, plan: Plan, nominal: Catalog, demand: float, performance: float, duration_s: float,
                seed: int) -> SimulationCheck:
    """Simulate `plan`'s fleet at `demand` x the stated demand with every step time / `performance`,
    on the nominal catalogue's factors."""
    res = out.resolved
    robust = res.workloads[0].demand_scale if res.workloads else 1.0  # routed rates include robustness
    cat = nominal if performance == 1.0 else scaled_catalog(nominal, _every_family(nominal, performance))
    return simulate_plan(res, plan, out.candidates.mixes, duration_s, seed, rate_scale=demand / robust,
                         eff_for=cat.efficiency_for)


def breaking_multiplier(check: Callable[[float], SimulationCheck], known: dict[float, list[str]] | None = None,
                        cap: float = BREAK_CAP, tolerance: float = BREAK_TOLERANCE) -> BreakSearch:
    """The least m in [1, cap] whose `check(m)` has misses, by geometric bisection (see the module
    docstring). `known`: multipliers already simulated → their misses (they narrow the first
    bracket and are not simulated again)."""
    seen = dict(known or {})
    runs = 0

    def misses(m: float) -> bool:
        nonlocal runs
        if m not in seen:
            runs += 1
            seen[m] = list(check(m).misses)
        return bool(seen[m])

    if misses(1.0):
        return BreakSearch(1.0, 1.0, cap, tolerance, runs, seen[1.0])
    missed = [m for m, miss in seen.items() if miss and m <= cap]
    if not missed and not misses(cap):
        return BreakSearch(None, cap, cap, tolerance, runs)
    hi = min(missed) if missed else cap
    lo = max(m for m, miss in seen.items() if not miss and m < hi)
    while hi / lo > 1.0 + tolerance:
        mid = math.sqrt(lo * hi)
        if misses(mid):
            hi = mid
        else:
            lo = mid
    return BreakSearch(hi, lo, cap, tolerance, runs, seen[hi])


def _every_family(cat: Catalog, speed: float) -> dict[str, float]:
    return {g.family: speed for g in cat.gpus.rows.values()}


def _resolve(world: World, demand: float, performance: float) -> Outcome | Resolve:
    cat = world.catalog if performance == 1.0 else scaled_catalog(world.catalog, _every_family(world.catalog, performance))
    try:
        return solve_loaded(world.loaded, world.solver, world.time_limit_s, cat, world.book, world.catalog_file,
                            world.today, demand_scale=demand)
    except InfeasibleError as exc:
        return Resolve("infeasible", reason=str(exc))
    except SolverError as exc:
        return Resolve("no plan", reason=str(exc))


def _plan_cost(found: Outcome | Resolve, pricing: str) -> Resolve:
    if isinstance(found, Resolve):
        return found
    p = next((p for p in found.plans if p.pricing == pricing), None)
    if p is None:
        return Resolve("no plan", reason=f"no {pricing} plan")
    return Resolve(p.solution.status, p.monthly_usd, p.capex_usd, p.total_usd)
