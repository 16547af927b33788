"""The whole chain: load → resolve → candidates → MILP → solve → verify → plan.

`solve_file()` is the one call a library user needs; `planner solve` renders what it returns.
A `Plan` holds the deployments, the hosts with the replicas placed on them, the bill of
materials (every priced line with its catalogue source and date) and the cost summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from planner import candidates as cand_mod
from planner.candidates import Candidate, CandidateSet, Rejection
from planner.catalog import Catalog, load_catalog
from planner.costs import (
    CardCost,
    HostType,
    RunningRates,
    maintenance_usd_per_month,
    owned_hosts,
    purchase_hosts,
    rental_hosts,
)
from planner.errors import InfeasibleError
from planner.loader import LoadedSpec, load_spec
from planner.milp import MilpInput, MilpSolution
from planner.milp import solve as solve_milp
from planner.prices import PriceBook, load_prices
from planner.resolve import Resolved, resolve

OBJECTIVE_PRICINGS = {"rent": ("rent",), "buy": ("buy",), "compare": ("rent", "buy")}


@dataclass(frozen=True)
class DeploymentLine:
    """Replicas of one candidate in a plan."""

    candidate: Candidate
    replicas: int
    utilization: float
    """Share of the replicas' raw capacity the workload's demand uses."""

    @property
    def capacity_qps(self) -> float:
        return self.replicas * self.candidate.capacity_qps


@dataclass(frozen=True)
class BomLine:
    item: str
    category: str
    quantity: float
    unit: str
    unit_usd: float
    total_usd: float
    cost_kind: str
    """capex | monthly"""
    source: str
    as_of: str


@dataclass
class Plan:
    pricing: str
    solution: MilpSolution
    deployments: list[DeploymentLine]
    hosts: list[tuple[HostType, int]]
    cards: list[tuple[CardCost, int]]
    placement: list[tuple[str, list[str]]]
    """(host label #k, candidate ids placed on it, one per replica)."""
    bom: list[BomLine]
    capex_usd: float
    monthly_usd: float
    horizon_months: int
    power_kw: float
    """Facility power of the physical hosts (nameplate x PUE); 0 when everything is rented."""

    @property
    def total_usd(self) -> float:
        return self.capex_usd + self.horizon_months * self.monthly_usd


@dataclass
class Outcome:
    """What `solve_file` returns."""

    resolved: Resolved
    candidates: CandidateSet
    book: PriceBook
    plans: list[Plan] = field(default_factory=list)
    pricing_rejections: dict[str, list[Rejection]] = field(default_factory=dict)


def solve_file(path: str | Path, solver: str = "highs", time_limit_s: float = 60.0,
               catalog: Catalog | None = None, book: PriceBook | None = None) -> Outcome:
    """Load, resolve and solve a workload file; raise InfeasibleError with a diagnosis when no plan exists."""
    return solve_loaded(load_spec(path), solver, time_limit_s, catalog, book)


def solve_loaded(loaded: LoadedSpec, solver: str = "highs", time_limit_s: float = 60.0,
                 catalog: Catalog | None = None, book: PriceBook | None = None) -> Outcome:
    cat = catalog or load_catalog()
    book = book or load_prices()
    res = resolve(loaded, cat)
    cs = cand_mod.generate(res)
    out = Outcome(resolved=res, candidates=cs, book=book)
    for pricing in OBJECTIVE_PRICINGS[res.spec.objective]:
        inp, rejected = milp_input(res, cs, book, pricing)
        out.pricing_rejections[pricing] = rejected
        _diagnose_missing(res, cs, inp, rejected, pricing)
        sol = solve_milp(inp, solver, time_limit_s)
        if sol.status == "infeasible":
            from planner.diagnose import diagnose_caps

            raise InfeasibleError(
                f"no {pricing} plan for {res.spec.name} meets every cap",
                diagnose_caps(inp, solver, time_limit_s),
            )
        plan = build_plan(res, inp, sol, book)
        from planner.verify import verify_plan

        verify_plan(res, inp, plan, book)
        out.plans.append(plan)
    return out


def milp_input(res: Resolved, cs: CandidateSet, book: PriceBook, pricing: str) -> tuple[MilpInput, list[Rejection]]:
    """The MILP data for one pricing: non-dominated candidates whose GPU has a host to run on."""
    spec = res.spec
    rates = RunningRates.from_book(book)
    gpus = {g.id: g for g in res.gpus}
    all_gpus = res.catalog.gpus.rows
    if pricing == "rent":
        hosts = rental_hosts(list(gpus.values()), book, rates, spec.rent.pricing, list(spec.rent.providers),
                             spec.rent.include_marketplace)
        cards: dict[str, CardCost] = {}
    else:
        hosts, cards = purchase_hosts(list(gpus.values()), book, rates)
    hosts = hosts + owned_hosts(dict(all_gpus), res.owned, book, rates)
    largest = {}
    for h in hosts:
        largest[h.gpu] = max(largest.get(h.gpu, 0), h.slots)
    usable, rejected = [], []
    for c in cs.kept():
        if largest.get(c.gpu, 0) >= c.tp:
            usable.append(c)
        else:
            what = (f"no cloud offer at {spec.rent.pricing.replace('_', '-')} prices" if pricing == "rent"
                    else "no purchase price or server type")
            if c.gpu in largest:
                what = f"no {'instance' if pricing == 'rent' else 'server'} with {c.tp} GPUs"
            rejected.append(Rejection(c.workload, c.gpu, c.precision, c.tp, f"not {'rentable' if pricing == 'rent' else 'buyable'}",
                                      f"{c.gpu}: {what}"))
    used_gpus = {c.gpu for c in usable}
    hosts = [h for h in hosts if h.gpu in used_gpus or h.kind == "owned"]
    budget = spec.budget
    rack = book.rack()
    inp = MilpInput(
        pricing=pricing, candidates=usable,
        min_replicas={w.name: w.min_replicas for w in spec.workloads},
        hosts=hosts, cards={g: c for g, c in cards.items() if g in used_gpus},
        months=1 if pricing == "rent" else spec.horizon_months, pue=rates.pue,
        capex_max_usd=budget.capex_usd if budget else None,
        monthly_max_usd=budget.monthly_usd if budget else None,
        power_max_kw=spec.power_kw_max, available=dict(res.available),
        rack_usd=rack.unit_usd if rack is not None and pricing == "buy" else None,
        rack_monthly_usd=maintenance_usd_per_month(rack.unit_usd, rates) if rack is not None else 0.0,
    )
    return inp, rejected


def _diagnose_missing(res: Resolved, cs: CandidateSet, inp: MilpInput, priced_out: list[Rejection], pricing: str) -> None:
    """Raise InfeasibleError when some workload has no candidate left, with counts and the nearest miss."""
    have = {c.workload for c in inp.candidates}
    lines = []
    for w in res.workloads:
        if w.name in have:
            continue
        rej = cs.rejections_for(w.name)
        counts = cand_mod.reason_counts(rej)
        priced = [r for r in priced_out if r.workload == w.name]
        kept = [c for c in cs.kept() if c.workload == w.name]
        parts = [f"{k} {v}" for k, v in counts.items()]
        if priced:
            parts.append(f"{priced[0].reason} {len(priced)}")
        lines.append(f"workload {w.name} ({w.model.id}): no {pricing} candidate; rejected by reason: " + ", ".join(parts))
        if kept and priced:
            gpus = sorted({r.gpu for r in priced})
            lines.append(f"  {len(kept)} deployments meet the SLO but none is {priced[0].reason.split()[-1]}: "
                         f"GPUs {', '.join(gpus[:8])}{' ...' if len(gpus) > 8 else ''}")
        for reason in ("memory", "TTFT", "TPOT"):
            miss = cand_mod.nearest_miss([r for r in rej if r.reason == reason])
            if miss is not None:
                lines.append(f"  nearest {reason} miss: {miss.gpu} {miss.precision} tp{miss.tp}: {miss.detail} "
                             f"({miss.miss_ratio:.2f}x the limit)")
        lines.append(f"  To fix: relax the SLO, allow more GPUs or precisions, or run `planner candidates {res.loaded.path}`.")
    if lines:
        raise InfeasibleError(f"no {pricing} plan for {res.spec.name}: some workloads have no candidate", lines)


def build_plan(res: Resolved, inp: MilpInput, sol: MilpSolution, book: PriceBook) -> Plan:
    """Turn a MILP solution into a plan: deployments, hosts, placement, bill of materials, costs."""
    from planner.bom import bill_of_materials, place

    by_id = {c.id: c for c in inp.candidates}
    lines = []
    workload_order = {w.name: w.index for w in res.workloads}
    raw_cover: dict[str, float] = {}
    for cid, n in sol.replicas.items():
        c = by_id[cid]
        raw_cover[c.workload] = raw_cover.get(c.workload, 0.0) + n * c.coverage / c.max_utilization
    for cid, n in sol.replicas.items():
        c = by_id[cid]
        lines.append(DeploymentLine(c, n, 1.0 / raw_cover[c.workload] if raw_cover[c.workload] > 0 else 0.0))
    lines.sort(key=lambda d: (workload_order[d.candidate.workload], d.candidate.id))
    host_by_id = {h.id: h for h in inp.hosts}
    hosts = sorted(((host_by_id[k], n) for k, n in sol.hosts.items()), key=lambda t: (t[0].gpu, t[0].kind, t[0].id))
    cards = sorted(((inp.cards[g], n) for g, n in sol.cards.items()), key=lambda t: t[0].gpu)
    placement, _ = place(lines, hosts)  # verify_plan re-places and reports anything left over
    bom, capex, monthly, power_kw = bill_of_materials(inp.pricing, hosts, cards, sol.racks, book, res.catalog)
    return Plan(pricing=inp.pricing, solution=sol, deployments=lines, hosts=hosts, cards=cards, placement=placement,
                bom=bom, capex_usd=capex, monthly_usd=monthly, horizon_months=res.spec.horizon_months,
                power_kw=power_kw)


def round_up(x: float) -> int:
    return math.ceil(x - 1e-9)
