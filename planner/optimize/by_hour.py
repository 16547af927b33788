"""Rent plans with hourly profiles, solved hour by hour where that is exact.

The fleet MILP (`optimize.milp`) couples its hourly periods only through what stays the same in
every hour or sums over hours:
- bought and owned hosts, PCIe cards and racks (one variable for all hours),
- `owned_first` (it ties acquired hosts to the owned ones, which are static),
- `budget_monthly_max` and `budget_capex_max` (sums over hours), `power_max` (physical hosts only),
- the objectives of the cap diagnosis (capex, power, the peak count of a GPU).
Everything else is written once per hour with that hour's variables: demand rows, routing and load,
min_replicas, tp_packing, gpus_available_max. So when a plan rents only (every host a cloud
instance, nothing bought, owned or carded) and minimises cost, the MILP is T independent problems
plus a sum: its objective is (1/T) x the sum of the hours' objectives (an hour's instances cost
monthly_h / T each; the tie-break term is eps / T per replica-GPU and hour), and an hour's
optimum is the one-period MILP at that hour's demand levels. Hours with the same demand levels
have the same problem, solved once. A monthly budget is checked after: the decomposed plan is the
cheapest possible, so if it fits, it is the coupled optimum too; if it does not, the coupled model
is solved as a whole (it is then infeasible, or its answer differs only by the tie-break term).

Every other model with hourly periods (hybrid, buy with hosts on hand, capped budgets) stays one
coupled model, but hours with the same demand levels are merged into one period that stands for
all of them (`merged`: its rented instances billed for that many hours, `MilpInput.hours`). This is
exact: in any optimal plan of the 24-period model, give every hour of such a group the per-hour
choice (replicas, routes, rented instances) of its cheapest hour. Each hour's rows hold, since the
hours have the same rows and the static part (bought and owned hosts, cards, racks) is unchanged;
the rows that sum over hours (monthly budget) or take their maximum (peak GPUs) only fall; and the
objective does not rise. So an optimum exists that is the same in every hour of a group, and the
merged model, which holds exactly those plans, finds it. It also removes the symmetry between
identical hours that the branch and bound would otherwise explore.

Batch jobs billed by the run (`optimize.batch_runs`) couple the hours of their window: the job's
requests may be done in any of them, on what the plan leaves idle in each. So a plan with such a
job is never solved hour by hour (`exact` is False; the hours are not independent problems), and an
hour inside some job's window is merged with no other hour (giving it the choice of an alike hour
changes the idle GPUs the job counts on there, so the argument above fails). Hours outside every
window still merge as above, exactly: no job row mentions them. A job with no traffic profile in
the file has one period for the plan and its own hour slots (nothing to merge or decompose).
"""

from __future__ import annotations

import dataclasses
import time

from planner.optimize import milp
from planner.optimize.batch_runs import window_hours
from planner.optimize.milp import MilpInput, MilpSolution

REL_TOL = 1e-9
"""Relative slack on the monthly budget when the decomposed plan is checked against it."""


def exact(inp: MilpInput) -> bool:
    """Whether `inp` decomposes by hour exactly (see the module docstring)."""
    return (inp.periods > 1 and inp.objective == "cost" and not inp.cards and inp.capex_max_usd is None
            and all(h.kind == "instance" for h in inp.hosts) and not inp.runs)


def levels(inp: MilpInput) -> list[tuple[float, ...]]:
    """Each period's demand levels, one per workload (in `min_replicas` order)."""
    return [tuple(inp.level(w, t) for w in inp.min_replicas) for t in range(inp.periods)]


def merged(inp: MilpInput) -> MilpInput | None:
    """`inp` with hours of the same demand levels merged into one period each (in order of their
    first hour; one period when all are alike), or None when no two hours are alike (see the module
    docstring for why it is exact)."""
    if inp.periods <= 1 or inp.hours:
        return None
    by_key: dict[tuple, list[int]] = {}
    in_window = window_hours(inp.runs)
    for t, key in enumerate(levels(inp)):
        by_key.setdefault((key, t) if t in in_window else (key,), []).append(t)
    if len(by_key) == inp.periods:
        return None
    groups = list(by_key.values())
    profile = {w: tuple(p[g[0]] for g in groups) for w, p in inp.profile.items()}
    return dataclasses.replace(inp, periods=len(groups), profile=profile, hours=tuple(tuple(g) for g in groups))


def solve(inp: MilpInput, solver: str = "highs", time_limit_s: float = 60.0) -> MilpSolution:
    """`milp.solve(inp)`: hour by hour when `exact(inp)`, else one model with alike hours merged."""
    if not exact(inp):
        return _coupled(inp, solver, time_limit_s)
    start = time.perf_counter()
    T = inp.periods
    levels_by_hour = levels(inp)
    solved: dict[tuple[float, ...], MilpSolution] = {}
    for key in dict.fromkeys(levels_by_hour):  # distinct demand levels, in hour order
        left_s = max(time_limit_s - (time.perf_counter() - start), 1.0)
        one = dataclasses.replace(inp, periods=1, profile={w: (x,) for w, x in zip(inp.min_replicas, key)},
                                  monthly_max_usd=None)
        sol = milp.solve(one, solver, left_s)
        if sol.status == "infeasible":
            return dataclasses.replace(sol, seconds=time.perf_counter() - start)
        solved[key] = sol
    hours = [solved[k] for k in levels_by_hour]
    price = {h.id: h.monthly_usd for h in inp.hosts}
    monthly = sum(price[k] * n for s in hours for k, n in s.hosts.items()) / T
    if inp.monthly_max_usd is not None and monthly > inp.monthly_max_usd * (1.0 + REL_TOL):
        return _coupled(inp, solver, max(time_limit_s - (time.perf_counter() - start), 1.0))
    return _combined(hours, T, solver, time.perf_counter() - start, distinct=list(solved.values()))


def _combined(hours: list[MilpSolution], T: int, solver: str, seconds: float,
              distinct: list[MilpSolution]) -> MilpSolution:
    """The hours' one-period solutions as one solution of the T-period model."""
    objective = sum(s.objective_usd for s in hours) / T
    bounds = [s.bound_usd for s in hours]
    bound = sum(bounds) / T if all(b is not None for b in bounds) else None
    ids = sorted({k for s in hours for k in s.replicas})
    by_hour = {k: [s.replicas.get(k, 0) for s in hours] for k in ids}
    instances = sorted({k for s in hours for k in s.hosts})
    routes = {}
    for key in sorted({k for s in hours for k in s.routes}):
        routes[key] = [s.routes[key][0] if key in s.routes else 0.0 for s in hours]
    return MilpSolution(
        status="optimal" if all(s.status == "optimal" for s in hours) else "feasible",
        solver=solver, seconds=seconds, objective_usd=objective, bound_usd=bound,
        gap=abs(objective - bound) / max(abs(objective), 1e-9) if bound is not None else None,
        replicas={k: max(v) for k, v in by_hour.items()}, hosts={}, cards={}, racks=0,
        replicas_by_hour=by_hour, routes=routes,
        hosts_by_hour={k: [s.hosts.get(k, 0) for s in hours] for k in instances},
        spot_replicas={k: [s.spot_replicas.get(k, [0])[0] for s in hours]
                       for k in sorted({k for s in hours for k in s.spot_replicas})},
        n_variables=sum(s.n_variables for s in distinct), n_constraints=sum(s.n_constraints for s in distinct),
        models=len(distinct),
    )


def _coupled(inp: MilpInput, solver: str, time_limit_s: float) -> MilpSolution:
    """One model, alike hours merged; the solution spread back over the day."""
    small = merged(inp)
    if small is None:
        return milp.solve(inp, solver, time_limit_s)
    sol = milp.solve(small, solver, time_limit_s)
    if sol.status == "infeasible":
        return sol
    period_of = [0] * inp.periods
    for p, hours in enumerate(small.hours):
        for t in hours:
            period_of[t] = p
    def spread(per_period: dict) -> dict:
        return {k: [v[p] for p in period_of] for k, v in per_period.items()}

    return dataclasses.replace(sol, replicas_by_hour=spread(sol.replicas_by_hour),
                               hosts_by_hour=spread(sol.hosts_by_hour), routes=spread(sol.routes),
                               spot_replicas=spread(sol.spot_replicas))
