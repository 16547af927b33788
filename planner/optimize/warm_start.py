"""A first plan for the fleet MILP to start from, when its relaxation spreads requests thin.

With several length buckets per workload, the LP relaxation routes each bucket's requests over many
deployments, a fraction of a replica each; rounding that gives a fleet many times the optimum's
cost, and on fleets of many workloads the solvers' own heuristics find little better within a
minute (fleet-20 with 8 buckets per workload: $14.6M/month after 15 s against a bound of $48.9k).
A good start comes cheap: solve the relaxation, keep only the deployments it uses (118 of 3,060
there), solve that small MILP to optimality (under a second: $73.2k), and hand its plan to the full
model as a solution hint (HiGHS then reaches $56.9k in 30 s). The hint is a feasible plan of the
full model (every other deployment at zero), so the answer is never worse than it, and the
solver's bound still proves how far from optimal the answer is. The two first steps run on HiGHS
whichever solver is asked for the full model; their time counts in its limit.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

WARM_START_SHARE = 0.25
"""Of the solve's time limit, the most the relaxation and the restricted MILP may each take."""
USED_EPS = 1e-9
"""A deployment with more relaxed replicas than this in some period is kept in the restricted MILP."""


def hint(inp, model, replicas: dict, build, time_limit_s: float):
    """Variable values of a feasible plan of `model` (built from `inp` by `build`, with `replicas`
    its candidate → per-period replica variables), or None when the model has no multi-bucket
    workload, the relaxation uses every candidate, or either step finds nothing in time."""
    from ortools.math_opt.python import mathopt

    if not any(len(shares) > 1 for shares in inp.shares.values()):
        return None
    params = mathopt.SolveParameters(time_limit=timedelta(seconds=time_limit_s * WARM_START_SHARE))
    integers = [v for v in model.variables() if v.integer]
    for v in integers:
        v.integer = False
    try:
        relaxed = mathopt.solve(model, mathopt.SolverType.HIGHS, params=params)
    finally:
        for v in integers:
            v.integer = True
    if relaxed.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    values = relaxed.variable_values()
    used = [c for c in inp.candidates if c.id not in replicas  # batch runs' candidates are all kept
            or any(values[v] > USED_EPS for v in replicas[c.id])]
    if len(used) == len(inp.candidates):
        return None
    small, *_ = build(dataclasses.replace(inp, candidates=used))
    start = mathopt.solve(small, mathopt.SolverType.HIGHS, params=params)
    if not start.has_primal_feasible_solution():
        return None
    by_name = {v.name: x for v, x in start.variable_values().items()}
    return {v: by_name.get(v.name, 0.0) for v in model.variables()}
