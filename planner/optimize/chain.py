"""The whole chain: load → resolve → candidates → MILP → solve → verify → plan.

`solve_file()` is the one call a library user needs (`planner.api.plan` wraps it); `planner solve`
renders what it returns.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from planner.catalog.model_error import derated_catalog
from planner.catalog.overrides import prices_for_spec
from planner.catalog.price_rows import PriceBook
from planner.catalog.quality import load_quality
from planner.catalog.prices import load_prices
from planner.catalog.resolve import Resolved, resolve
from planner.catalog.spot import load_spot_rates
from planner.catalog.store import Catalog, load_catalog
from planner.errors import InfeasibleError
from planner.money.bom import bill_of_materials, run_bom_lines
from planner.money.compare import Discounting, compare_plans, hybrid_savings
from planner.money.costs import (
    CardCost,
    HostType,
    RunningRates,
    maintenance_usd_per_month,
    owned_hosts,
    purchase_hosts,
    rental_hosts,
)
from planner.money.spot import spot_share
from planner.money.site import GEFORCE_FIX, GEFORCE_LICENCE, buys_geforce, mounts, racks_priced, site_book, site_power_w
from planner.optimize import batch_runs, by_hour, measured, policy_rows, spot_rows
from planner.optimize import candidates as cand_mod
from planner.optimize.candidates import CandidateSet, Rejection
from planner.optimize.diagnose import diagnose_caps, rent_gaps
from planner.optimize.milp import MilpInput, MilpSolution
from planner.optimize.placement import place
from planner.optimize.plan import (
    OBJECTIVE_PRICINGS,
    DeploymentLine,
    Outcome,
    Plan,
    hosts_at_hour,
    lines_at_hour,
    peak_hour,
    replicas_at,
)
from planner.optimize.serving_check import line_latencies, predict, simulate_plan
from planner.optimize.verify import verify_plan
from planner.spec.loader import LoadedSpec, load_spec
from planner.text import count_of
from planner.units import HOURS_PER_DAY


def solve_file(path: str | Path, solver: str = "highs", time_limit_s: float = 60.0,
               catalog: Catalog | None = None, book: PriceBook | None = None,
               catalog_file: Path | None = None, today: date | None = None,
               simulate_s: float | None = None, seed: int = 0) -> Outcome:
    """Load, resolve and solve a workload file; raise InfeasibleError with a diagnosis when no plan exists.

    `catalog_file` (`--catalog`) is merged over the price tables, then the file's `costs:` applied,
    dated `today` (default: today). `simulate_s`: also simulate every plan for that many seconds of
    peak traffic (seeded by `seed`)."""
    return solve_loaded(load_spec(path), solver, time_limit_s, catalog, book, catalog_file, today, simulate_s, seed)


def solve_loaded(loaded: LoadedSpec, solver: str = "highs", time_limit_s: float = 60.0,
                 catalog: Catalog | None = None, book: PriceBook | None = None,
                 catalog_file: Path | None = None, today: date | None = None,
                 simulate_s: float | None = None, seed: int = 0,
                 progress: Callable[[str], None] | None = None, demand_scale: float = 1.0) -> Outcome:
    """`solve_file` on a loaded file. `progress`, when given, is called with one line per step
    (candidates, each solve, each simulation), for a progress display. `planning.robustness:
    model_error` plans on the catalogue derated by `catalog.model_error`; `demand_scale` multiplies
    every workload's demand (on top of a numeric robustness; the sensitivity report's re-solves)."""
    say = progress or (lambda line: None)
    cat = catalog or load_catalog()
    book = prices_for_spec(book or load_prices(), loaded, cat, catalog_file, today or date.today())
    if loaded.spec.planning.robustness == "model_error":
        cat = derated_catalog(cat)
    res = resolve(loaded, cat)
    if demand_scale != 1.0:
        res = dataclasses.replace(res, workloads=tuple(dataclasses.replace(w, demand_scale=w.demand_scale * demand_scale)
                                                       for w in res.workloads))
    book = site_book(book, res.spec, (today or date.today()).isoformat())
    say(f"candidates: {count_of(len(res.workloads), 'workload')} ...")
    t0 = time.perf_counter()
    cs = measured.generate(res)
    say(f"candidates: {len(cs.kept()):,} kept of {cs.deployments():,} admissible in {time.perf_counter() - t0:.1f} s")
    out = Outcome(resolved=res, candidates=cs, book=book)
    for pricing in OBJECTIVE_PRICINGS[res.spec.objective]:
        inp, rejected = milp_input(res, cs, book, pricing)
        out.pricing_rejections[pricing] = rejected
        _diagnose_missing(res, cs, inp, rejected, pricing, book)
        periods = f", {inp.periods} hourly periods" if inp.periods > 1 else ""
        say(f"solving {pricing}: {count_of(len(inp.candidates), 'deployment')}{periods}, "
            f"{solver}, time limit {time_limit_s:g} s ...")
        sol = by_hour.solve(inp, solver, time_limit_s)  # one model unless hour by hour is exact
        gap = f", gap {sol.gap:.2%}" if sol.status == "feasible" and sol.gap is not None else ""
        cost = f" ${sol.objective_usd:,.0f}" if sol.objective_usd is not None else ""
        say(f"{pricing}: {sol.status}{cost}{gap} in {sol.seconds:.1f} s")
        if sol.status == "infeasible":

            raise InfeasibleError(
                f"no {pricing} plan for {res.spec.name} meets every cap",
                diagnose_caps(inp, solver, time_limit_s),
            )
        plan = build_plan(res, inp, sol, book)

        verify_plan(res, inp, plan, book, cs.mixes)
        plan.predicted = predict(res, plan)
        plan.line_latencies = line_latencies(res, plan)
        if simulate_s is not None:
            say(f"simulating the {pricing} plan: {simulate_s:g} s of peak traffic ...")
            plan.simulation = simulate_plan(res, plan, cs.mixes, simulate_s, seed)
        out.plans.append(plan)
    if res.spec.objective == "compare":
        costs = res.spec.costs
        out.comparison = compare_plans(out.plans, Discounting(costs.discount_rate_per_year, costs.resale_fraction))
    out.hybrid_savings_usd = hybrid_savings(out.plans)
    return out


def milp_input(res: Resolved, cs: CandidateSet, book: PriceBook, pricing: str) -> tuple[MilpInput, list[Rejection]]:
    """The MILP data for one pricing: non-dominated candidates whose GPU has a host to run on."""
    spec = res.spec
    rates = RunningRates.from_book(book)
    gpus = {g.id: g for g in res.gpus}
    all_gpus = res.catalog.gpus.rows
    hosts: list[HostType] = []
    cards: dict[str, CardCost] = {}
    spot = pricing in ("rent", "hybrid") and spec.rent.pricing == "spot"
    if pricing in ("rent", "hybrid"):
        hosts += rental_hosts(list(gpus.values()), book, rates, spec.rent.pricing, list(spec.rent.providers),
                              spec.rent.include_marketplace, spec.gpus.market, load_spot_rates() if spot else None)
    if spot:  # the on-demand pool beside the spot one (`optimize.spot_rows`)
        hosts += rental_hosts(list(gpus.values()), book, rates, "on_demand", list(spec.rent.providers),
                              spec.rent.include_marketplace, spec.gpus.market)
    licence_barred = set()
    if pricing in ("buy", "hybrid"):
        buyable = [g for g in gpus.values() if buys_geforce(spec) or not g.geforce_eula]
        licence_barred = {g.id for g in gpus.values() if g.geforce_eula} - {g.id for g in buyable}
        bought, cards = purchase_hosts(buyable, book, rates, mounts(spec))
        hosts += bought
    hosts = hosts + owned_hosts(dict(all_gpus), res.owned, book, rates)
    largest = {}
    for h in hosts:
        largest[h.gpu] = max(largest.get(h.gpu, 0), h.slots)
    usable, rejected = [], []
    window_s = {w.name: w.batch.deadline_hours * 3600.0 for w in spec.workloads if w.batch is not None}
    for c in cs.kept():
        if c.workload in window_s and c.e2e_s > window_s[c.workload]:
            rejected.append(Rejection(c.workload, c.gpu, c.precision, c.tp, WINDOW,
                                      f"one request takes {c.e2e_s:,.0f} s at batch {c.batch}, the window "
                                      f"{window_s[c.workload]:,.0f} s", c.e2e_s / window_s[c.workload]))
        elif largest.get(c.gpu, 0) >= c.tp:
            usable.append(c)
        else:
            rent_why = f"no cloud offer at {spec.rent.pricing.replace('_', '-')} prices"
            buy_why = "no purchase price or server type"
            what = {"rent": rent_why, "buy": buy_why}.get(pricing, f"{rent_why} and {buy_why}")
            if c.gpu in largest:
                what = f"no {'server' if pricing == 'buy' else 'instance or server'} with {c.tp} GPUs"
            elif c.gpu in licence_barred:
                what = f"not bought into colocation: {GEFORCE_LICENCE}"
            reason = {"rent": "not rentable", "buy": "not buyable"}.get(pricing, "neither rentable nor buyable")
            rejected.append(Rejection(c.workload, c.gpu, c.precision, c.tp, reason, f"{c.gpu}: {what}"))
    used_gpus = {c.gpu for c in usable}
    hosts = [h for h in hosts if h.gpu in used_gpus or h.kind == "owned"]
    budget = spec.budget
    rack = book.rack() if racks_priced(spec) else None
    rack_usd = rack.unit_usd + (book.tor().unit_usd if book.tor() else 0.0) if rack is not None else None
    profile = {w.name: tuple(w.traffic.profile) for w in spec.workloads
               if w.traffic is not None and w.traffic.profile is not None}
    hourly = bool(profile) and pricing in ("rent", "hybrid")
    inp = MilpInput(
        pricing=pricing, candidates=usable,
        min_replicas={w.name: w.min_replicas for w in spec.workloads},
        shares={name: tuple(b.share for b in mix.buckets) for name, mix in cs.mixes.items()},
        hosts=hosts, cards={g: c for g, c in cards.items() if g in used_gpus},
        months=1 if pricing == "rent" else spec.horizon_months, pue=rates.pue,
        capex_max_usd=budget.capex_usd if budget else None,
        monthly_max_usd=budget.monthly_usd if budget else None,
        power_max_kw=spec.power_kw_max, available=dict(res.available),
        rack_usd=rack_usd if pricing != "rent" else None,
        rack_monthly_usd=maintenance_usd_per_month(rack_usd, rates) if rack_usd is not None else 0.0,
        site_power_max_w=site_power_w(spec) if pricing != "rent" else None,
        periods=HOURS_PER_DAY if hourly else 1, profile=profile if hourly else {},
        slices=spec.planning.bucket_slices, mixing=spec.planning.mixing, redundancy=redundancy_of(spec),
        runs=job_windows(res, pricing, rates.hours_per_month), hours_per_month=rates.hours_per_month,
        spot_share={w.name: spot_share(spec.rent.spot_max_share, w.batch is not None) for w in spec.workloads}
        if spot else {},
    )
    if spot:  # a batch job on spot: its restart allowance (`optimize.spot_rows.job_availability`)
        inp.runs = {w: dataclasses.replace(jw, availability=spot_rows.job_availability(
            [c for c in usable if c.workload == w], hosts, rates.hours_per_month)) for w, jw in inp.runs.items()}
    return inp, rejected


def redundancy_of(spec) -> dict[str, str]:
    """Workload → its spare-replica rule for the MILP (`policy_rows`): `n_plus_1` as asked, `zones:N`
    for `{zones: N}`, `auto` for an online workload that leaves it unset; none (absent) for batch work
    and `redundancy: none`."""
    return {w.name: rule_text(w.redundancy) for w in spec.workloads
            if w.kind == "traffic" and w.redundancy != "none"}


def rule_text(redundancy) -> str:
    """A workload's `redundancy` as the MILP's rule: `auto` (unset), `n_plus_1`, `none`, `zones:N`."""
    if redundancy is None:
        return "auto"
    if isinstance(redundancy, str):
        return redundancy
    return f"{policy_rows.ZONES}{redundancy.zones}"


WINDOW = "window too short"
"""Rejection reason of a batch job's deployment whose one request takes longer than the job's window."""


def job_windows(res: Resolved, pricing: str, hours_per_month: float) -> dict[str, batch_runs.JobWindow]:
    """Batch workloads billed by the run (rent and hybrid plans; a buy plan's bought capacity costs
    the same used or idle, so its jobs keep the steady rows, sized over the deadline)."""
    if pricing not in ("rent", "hybrid"):
        return {}
    return {w.name: batch_runs.JobWindow(hours=w.batch.deadline_hours, start_hour=w.batch.start_hour,
                                         schedule=w.batch.schedule,
                                         runs_per_month=batch_runs.runs_per_month(w.batch.schedule, hours_per_month))
            for w in res.spec.workloads if w.batch is not None}


def _diagnose_missing(res: Resolved, cs: CandidateSet, inp: MilpInput, priced_out: list[Rejection], pricing: str,
                      book: PriceBook) -> None:
    """Raise InfeasibleError when some workload has no candidate left, with counts and the nearest miss;
    when deployments meet the SLO but none can be rented, why the catalogue offers none (`rent_gaps`)."""
    have = {c.workload for c in inp.candidates}
    lines = []
    for w in res.workloads:
        if w.name in have:
            continue
        rej = cs.rejections_for(w.name)
        counts = cand_mod.reason_counts(rej)
        priced = [r for r in priced_out if r.workload == w.name and r.reason != WINDOW]
        short = [r for r in priced_out if r.workload == w.name and r.reason == WINDOW]
        kept = [c for c in cs.kept() if c.workload == w.name and not any(r.gpu == c.gpu for r in short)]
        parts = [f"{k} {v}" for k, v in counts.items()] + ([f"{WINDOW} {len(short)}"] if short else [])
        if priced:
            parts.append(f"{priced[0].reason} {len(priced)}")
        lines.append(f"workload {w.name} ({w.model.id}): no {pricing} candidate; rejected by reason: " + ", ".join(parts))
        fixes: list[str] = []
        every_gpu = False
        if kept and priced:
            gpus = sorted({r.gpu for r in priced})
            verb = "meets" if len(kept) == 1 else "meet"
            lines.append(f"  {count_of(len(kept), 'deployment')} {verb} the SLO but none is {priced[0].reason.split()[-1]}: "
                         f"GPUs {', '.join(gpus[:8])}{' ...' if len(gpus) > 8 else ''}")
            barred = sorted({r.gpu for r in priced if GEFORCE_LICENCE in r.detail})
            if barred:
                lines.append(f"  GeForce cards ({', '.join(barred)}) are not bought into a colocation site: "
                             f"{GEFORCE_LICENCE}; to fix: {GEFORCE_FIX}")
            if pricing == "rent":
                rent = res.spec.rent
                gaps, fixes, every_gpu = rent_gaps(gpus, book, rent.pricing, list(rent.providers),
                                                   rent.include_marketplace, res.spec.gpus.market)
                lines += [f"  {gap}" for gap in gaps]
        if short:
            miss = cand_mod.nearest_miss(short)
            lines.append(f"  batch window {w.spec.batch.deadline_hours:g} h is too short for every deployment: "
                         f"nearest {miss.gpu} {miss.precision} tp{miss.tp}: {miss.detail} ({miss.miss_ratio:.2f}x)")
            fixes = [f"a longer batch.deadline_hours (at least {miss.miss_ratio * w.spec.batch.deadline_hours:.3g} h)"]
        for reason in ("memory", "TTFT", "TPOT", "fleet too large"):
            miss = cand_mod.nearest_miss([r for r in rej if r.reason == reason])
            if miss is not None:
                lines.append(f"  nearest {reason} miss: {miss.gpu} {miss.precision} tp{miss.tp}: {miss.detail} "
                             f"({miss.miss_ratio:.2f}x the limit)")
        if fixes and every_gpu:
            lines.append(f"  To fix: {'; '.join(fixes)}; the SLO is not the cause (`planner candidates {res.loaded.path}` "
                         "lists the deployments that meet it).")
        elif fixes:
            lines.append(f"  To fix: {'; '.join(fixes)}; or relax the SLO, allow more GPUs or precisions "
                         f"(`planner candidates {res.loaded.path}`).")
        else:
            lines.append(f"  To fix: relax the SLO, allow more GPUs or precisions, or run `planner candidates {res.loaded.path}`.")
    if lines:
        raise InfeasibleError(f"no {pricing} plan for {res.spec.name}: some workloads have no candidate", lines)


def busiest_periods(inp: MilpInput) -> dict[str, int]:
    """Workload → the period of its highest demand (the earliest of equals; 0 with one period)."""
    return {w: max(range(inp.periods), key=lambda t: (inp.level(w, t), -t))
            for w in inp.min_replicas}


def peak_routes(inp: MilpInput, sol: MilpSolution) -> dict[str, dict[int, float]]:
    """Candidate id → bucket → share of its workload's peak demand routed to it, in the workload's
    busiest period. Workloads of several buckets: the solver's routes, a bucket routed beyond its
    demand scaled down to it. One bucket: the demand split
    over the workload's replicas in proportion to their coverage (what demand_coverage implies)."""
    by_id = {c.id: c for c in inp.candidates}
    out: dict[str, dict[int, float]] = {}
    busiest = busiest_periods(inp)
    for (cid, b), per_period in sol.routes.items():
        value = per_period[busiest[by_id[cid].workload]]
        if value > 0:
            out.setdefault(cid, {})[b] = value
    # bucket_routing is a >= row: where the replicas have room the solver may route more than a
    # bucket's demand at no cost. The router's table sends the demand, so scale such a bucket's
    # routes down to it (each deployment keeps its proportion; loads only fall).
    sent: dict[tuple[str, int], float] = {}
    for cid, routes in out.items():
        for b, v in routes.items():
            sent[by_id[cid].workload, b] = sent.get((by_id[cid].workload, b), 0.0) + v
    for cid, routes in out.items():
        w = by_id[cid].workload
        for b in routes:
            demand = inp.shares[w][b] * inp.level(w, busiest[w])
            if sent[w, b] > demand > 0:
                routes[b] *= demand / sent[w, b]
    # One bucket: each line's covered share at the workload's busiest period, normalised to 1.
    covered = {cid: replicas_at(sol, cid, busiest[c.workload], n) * c.coverage
               for cid, n in sol.replicas.items() if not inp.multi_bucket((c := by_id[cid]).workload)}
    total: dict[str, float] = {}
    for cid, v in covered.items():
        total[by_id[cid].workload] = total.get(by_id[cid].workload, 0.0) + v
    for cid, v in covered.items():
        c = by_id[cid]
        if total[c.workload] > 0:
            out[cid] = {c.buckets[0]: v / total[c.workload]}
    return out


def build_plan(res: Resolved, inp: MilpInput, sol: MilpSolution, book: PriceBook) -> Plan:
    """Turn a MILP solution into a plan: deployments, hosts, placement, bill of materials, costs."""

    by_id = {c.id: c for c in inp.candidates}
    lines = []
    workload_order = {w.name: w.index for w in res.workloads}
    w_model = {w.name: w.model for w in res.workloads}
    w_engine = {w.name: w.engine for w in res.workloads}
    routes = peak_routes(inp, sol)
    for cid, n in sol.replicas.items():
        c = by_id[cid]
        r = routes.get(cid, {})
        load = sum(r.get(b, 0.0) / cov for b, cov in zip(c.buckets, c.coverage_by_bucket))
        spot = min(n, max(sol.spot_replicas.get(cid, [0]))) if inp.spot_share else None
        lines.append(DeploymentLine(c, n, r, load / n if n > 0 else 0.0, spot))
    lines.sort(key=lambda d: (workload_order[d.candidate.workload], d.candidate.id))
    host_by_id = {h.id: h for h in inp.hosts}
    static = {**sol.hosts}
    peak_hosts = {k: max(v) for k, v in sol.hosts_by_hour.items()}
    hosts = sorted(((host_by_id[k], n) for k, n in {**static, **peak_hosts}.items()),
                   key=lambda t: (t[0].gpu, t[0].kind, t[0].id))
    cards = sorted(((inp.cards[g], n) for g, n in sol.cards.items()), key=lambda t: t[0].gpu)
    hour = peak_hour(sol, by_id)
    placed = place(lines_at_hour(lines, sol, hour), hosts_at_hour(hosts, sol, hour), cards)
    bom, capex, monthly, power_kw = bill_of_materials(inp.pricing, hosts, cards, sol.racks, book, res.catalog,
                                                      hourly_instances=sol.hosts_by_hour)
    runs = run_bom_lines(sol.runs, host_by_id, res.catalog)
    bom += runs
    monthly += sum(line.total_usd for line in runs if line.cost_kind == "monthly")
    once = sum(line.total_usd for line in runs if line.cost_kind == "once")
    return Plan(pricing=inp.pricing, solution=sol, deployments=lines, hosts=hosts, cards=cards, placement=placed.hosts,
                placement_cards=placed.cards,
                bom=bom, capex_usd=capex, monthly_usd=monthly, horizon_months=res.spec.horizon_months,
                power_kw=power_kw, periods=inp.periods, peak_hour=hour if inp.periods > 1 else None,
                workload_peak_hours=busiest_periods(inp) if inp.periods > 1 else {}, once_usd=once,
                spot_hosts=sorted({h for h, n in hosts if h.is_spot and n > 0} | {host_by_id[k] for r in sol.runs.values()
                                  for k in r.run_hosts if host_by_id[k].is_spot}, key=lambda h: h.id),
                quality={d.candidate.id: load_quality().figure(w_model[d.candidate.workload], d.candidate.precision)
                         for d in lines},
                factors={d.candidate.id: (g.family, res.catalog.factors_fitted(g), f.engine, f.basis)
                         for d in lines for g in [res.catalog.gpu(d.candidate.gpu)]
                         for f in [res.catalog.engine_factors_for(w_engine[d.candidate.workload])]})
