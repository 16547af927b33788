"""Why no plan exists.

`diagnose_caps`: the fleet MILP is infeasible although every workload has candidates: which cap
binds, and what it would have to be. Each cap is dropped in turn (the others kept) and the model
re-solved minimising the quantity that cap limits: the optimum is the least value of that cap under
which a plan exists. When no single cap explains it, all caps are dropped and the cheapest plan's
figures are reported.

`rent_gaps`: deployments meet the SLO but none can be rented: why the catalogue offers none of
their GPUs (no offer at all, none in the market, from the providers, outside the marketplace, or
none priced at the plan's tier), and the fix for each cause; the SLO is not one.
"""

from __future__ import annotations

from dataclasses import replace

from planner.catalog.price_rows import PRICING_TIERS, PriceBook
from planner.money.costs import usable_offers
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
    if inp.site_power_max_w is not None:  # objective power_kw is PUE x kW; the office's wall counts nameplate W
        caps.append(("office.circuits x office.circuit_w", {"site_power_max_w": None}, "power_kw",
                     inp.site_power_max_w * inp.pue / 1000.0, lambda v, pue=inp.pue: f"{v * 1000.0 / pue:,.0f} W"))
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
    free = replace(inp, capex_max_usd=None, monthly_max_usd=None, power_max_kw=None, available={}, site_power_max_w=None)
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


RENT_GAP_CAUSES = ("no offer", "market", "providers", "marketplace", "tier")
"""Why a GPU has no rentable offer, in the order they are tested (the first that applies)."""


def rent_gap(gpu_id: str, book: PriceBook, tier: str, providers: list[str], include_marketplace: bool,
             market: str) -> str | None:
    """The first cause of RENT_GAP_CAUSES that leaves `gpu_id` without an offer priced at `tier`, or
    None when an offer is (the GPU is then too large for its instances, or rentable)."""
    offers = [o for o in book.offers if o.gpu == gpu_id]
    if not offers:
        return "no offer"
    if market != "any" and all(o.market != market for o in offers):
        return "market"
    if not usable_offers({gpu_id}, book, providers, True, market):
        return "providers"
    usable = usable_offers({gpu_id}, book, providers, include_marketplace, market)
    if not usable:
        return "marketplace"
    if all(o.usd_per_gpu_hour(tier) is None for o in usable):
        return "tier"
    return None


def _names(gpus: list[str]) -> str:
    return ", ".join(gpus[:8]) + (" ..." if len(gpus) > 8 else "")


def rent_gaps(gpu_ids: list[str], book: PriceBook, tier: str, providers: list[str], include_marketplace: bool,
              market: str) -> tuple[list[str], list[str], bool]:
    """(one line per cause found among `gpu_ids`, the fixes for them, whether the SLO is out of the
    question) for GPUs without a rentable offer. A GPU with none of RENT_GAP_CAUSES has offers priced
    at the tier that are too small for the deployments' TP ("size"): a looser SLO may allow a
    smaller TP, so relaxing it stays among the fixes."""
    by_cause: dict[str, list[str]] = {}
    for gid in sorted(set(gpu_ids)):
        cause = rent_gap(gid, book, tier, providers, include_marketplace, market) or "size"
        by_cause.setdefault(cause, []).append(gid)
    lines, fixes = [], []
    for cause in (*RENT_GAP_CAUSES, "size"):
        gpus = by_cause.get(cause)
        if not gpus:
            continue
        names = _names(gpus)
        if cause == "no offer":
            lines.append(f"the catalogue has no cloud offer of the allowed GPUs ({names})")
            fixes.append("add offers with --catalog FILE (cloud_offers:)")
        elif cause == "market":
            lines.append(f"no catalogue offer of the allowed GPUs ({names}) is rented in the {market} market "
                         "(gpus.market)")
            fixes.append(f"add {market}-market offers with --catalog FILE (cloud_offers: ... market: {market}) "
                         "or set gpus.market: any")
        elif cause == "providers":
            lines.append(f"no catalogue offer of the allowed GPUs ({names}) is from rent.providers "
                         f"({', '.join(providers)})")
            fixes.append("allow more rent.providers")
        elif cause == "marketplace":
            lines.append(f"the allowed GPUs ({names}) have only marketplace offers")
            fixes.append("set rent.include_marketplace: true")
        elif cause == "tier":
            offers = usable_offers(set(gpus), book, providers, include_marketplace, market)
            priced = [t for t in PRICING_TIERS if any(o.usd_per_gpu_hour(t) is not None for o in offers)]
            lines.append(f"no catalogue offer has a {tier} price for the allowed GPUs ({names}); "
                         f"their offers are priced {', '.join(priced)}")
            fixes.append(f"give the price in the workload file, costs.rent_usd_per_gpu_hour: "
                         f"{{{gpus[0]}: <USD per GPU-hour>}} (the per-GPU rental price at rent.pricing {tier}, "
                         "applied to every catalogue offer of the GPU), or choose another rent.pricing")
        else:
            lines.append(f"the {tier} offers of the allowed GPUs ({names}) have too few GPUs per instance for "
                         "these deployments' tensor-parallel size")
            fixes.append("add larger instances with --catalog FILE")
    return lines, fixes, "size" not in by_cause
