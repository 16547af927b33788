"""Why a fleet MILP is infeasible when every workload has candidates: which cap binds, and what it
would have to be.

Each cap is dropped in turn (the others kept) and the model re-solved minimising the quantity
that cap limits: the optimum is the least value of that cap under which a plan exists. When no
single cap explains it, all caps are dropped and the cheapest plan's figures are reported.
"""

from __future__ import annotations

from dataclasses import replace

from planner.optimize.by_hour import solve
from planner.optimize.milp import MilpInput
from planner.optimize.milp_parts import eps_usd
from planner.text import usd


def diagnose_caps(inp: MilpInput, solver: str, time_limit_s: float) -> list[str]:
    """One line per binding cap, saying the value it would need."""
    caps = []
    if inp.capex_max_usd is not None:
        caps.append(("budget.capex_usd", {"capex_max_usd": None}, "capex", inp.capex_max_usd, usd))
    if inp.monthly_max_usd is not None:
        caps.append(("budget.monthly_usd", {"monthly_max_usd": None}, "monthly", inp.monthly_max_usd, usd))
    if inp.power_max_kw is not None:
        caps.append(("power_kw_max", {"power_max_kw": None}, "power_kw", inp.power_max_kw, lambda v: f"{v:,.2f} kW"))
    for gid, n in sorted(inp.available.items()):
        rest = {k: v for k, v in inp.available.items() if k != gid}
        caps.append((f"gpus.available.{gid}", {"available": rest}, f"gpus:{gid}", n, lambda v: f"{round(v):d} GPUs"))
    lines = []
    for key, drop, objective, value, fmt in caps:
        sol = solve(replace(inp, objective=objective, **drop), solver, time_limit_s)
        if sol.status == "infeasible":
            continue
        need = sol.objective_usd - eps_usd(inp, sol)
        lines.append(f"{key} binds: it is {fmt(value)}; a plan needs at least {fmt(need)} "
                     f"(the least achievable with the other caps kept)")
    if lines:
        return lines + ["To fix: raise the cap(s) above, or relax the SLOs so cheaper deployments qualify."]
    free = replace(inp, capex_max_usd=None, monthly_max_usd=None, power_max_kw=None, available={})
    sol = solve(free, solver, time_limit_s)
    if sol.status == "infeasible":
        return [("the problem is infeasible even without budget, power and inventory caps "
                "(minimum replicas cannot be placed)")]
    return [
        ("no single cap explains it: several caps bind together. Without any cap the cheapest "
        f"{inp.pricing} plan costs {usd(sol.objective_usd - eps_usd(inp, sol))} "
        f"({'monthly' if inp.pricing == 'rent' else 'capex + running costs over the horizon'})"),
        "To fix: raise the budget, power or inventory caps together.",
    ]
