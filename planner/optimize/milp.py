"""The fleet MILP, built and solved with OR-Tools MathOpt (HiGHS by default, SCIP as a cross-check).

Formulation (each constraint family has a stable name; the coefficients come from
`planner.optimize.candidates` and `planner.money.costs`, never computed here):

Data
    W                 workloads; min_w their minimum replica counts
    C_w               non-dominated candidates of workload w (planner.optimize.candidates)
    B_w               length buckets of workload w (planner.serving.mix), share_w,b of its requests each
    B_c               the buckets candidate c serves (those up to its memory tier that meet the SLO alone)
    cov_c,b           share of w's demand one replica of c covers if it served only bucket b:
                      max_utilization x capacity_c,b / demand_qps (capacity_c,b: the SLO capacity,
                      planner.serving.queueing); with one bucket, cov_c
    tp_c, g(c)        GPUs per replica and GPU type of candidate c
    H                 host types (planner.money.costs): rented instances, bought servers, servers on hand;
                      slots_h GPUs each, GPU type g(h), capex_h, monthly_h, power_w_h
    G_pcie            GPU types bought as PCIe cards into empty servers; card capex_g, monthly_g, power_w_g
    bays_h, slots_h   bought PCIe server h: cards of g(h) its bays and slot widths take, bays_h = min(bays,
                      slot positions // card width), and those its PSU also powers, slots_h = min(bays_h,
                      (usable PSU W - host W) // card TDP), usable = (PSUs - redundant) x rating (costs.card_fit)
    site_w            `site: office`: watts of the office's circuits (circuits x W each)
    months            1 when renting; horizon_months when buying
    T, level_w,t      periods: T = 1 (one steady peak) or 24 hourly periods t of a traffic profile,
                      level_w,t = w's demand in period t as a fraction of its peak (1 without a profile);
                      hours with the same levels may be merged into one period of weight n_t (the
                      hours it stands for; `optimize.by_hour` says why that is exact), else n_t = 1
Variables (with T > 1, replicas, pcie_replicas and rented instances get one variable per period,
suffixed `,hNN`; bought and owned hosts, cards and racks are the same in every period; every row
below that mentions replicas or instances is written once per period)
    replicas[c]       integer >= 0, <= max(min_w, ceil(sum_{b in B_c} share_w,b / cov_c,b))  (more is never needed)
    route[c,b]        continuous >= 0, for workloads with several buckets: the share of w's peak demand
                      that is bucket b and is sent to c (the router's table)
    slices[c,b]       integer in [0, S], with planning.bucket_slices = S: the bucket's slices sent to c
    pcie_replicas[c]  integer >= 0, of them on PCIe cards (only where g(c) has both pools)
    hosts[h]          integer >= 0 (<= the count on hand for owned servers)
    cards[g]          integer >= 0, PCIe cards bought, g in G_pcie
    owned_full[g]     binary, for GPU types with servers on hand that can serve and hosts or cards to acquire
    racks             integer >= 0, 42U racks for the bought servers (buying only)
Constraints
    demand_coverage[w]      (one bucket) sum_{c in C_w} cov_c replicas[c] >= level_w,t
    bucket_routing[w,b]     (several buckets) sum_{c in C_w, b in B_c} route[c,b] >= share_w,b level_w,t:
                            every bucket's requests are sent somewhere
    replica_load[c]         (several buckets) sum_{b in B_c} route[c,b] / cov_c,b <= replicas[c]: a replica's
                            load is the sum over buckets of rate / capacity at that bucket (the aggregate
                            form of Melange, Griggs et al. 2024). Approximation: a replica serving a mix
                            is taken to share its time between the buckets in proportion to their load,
                            so bucket b at rate r_b sees the latency it would alone at rate u x capacity_b,
                            u = sum_b r_b / capacity_b <= 1; `verify` and the serving simulation check it.
                            With one bucket, route[c] = cov_c replicas[c] at best, and projecting the
                            routes out gives demand_coverage, which is what is built.
    route_slices[c,b]       (planning.bucket_slices = S) route[c,b] = share_w,b level_w,t slices[c,b] / S: a
                            bucket goes in S equal slices, each wholly to one deployment (Melange's
                            slice_factor; with S = 1 and max_utilization 1 the model is Melange's ILP)
    min_replicas[w]         sum_{c in C_w} replicas[c] >= min_w
    pcie_replicas_max[c]    (g(c) has PCIe cards and hosts with their GPUs) pcie_replicas[c] <= replicas[c]:
                            of c's replicas, pcie_replicas[c] run on PCIe cards bought into servers, the
                            rest on hosts whose GPUs come with them (instances, baseboard servers, servers
                            on hand). A TP group's GPUs are all in one host, so the two pools never mix.
                            (Without PCIe cards pcie_replicas = 0; with only PCIe servers, = replicas.)
    tp_packing[g,s]         for s in {1,2,4,8}: sum_{c on g, tp_c >= s} tp_c (replicas[c] - pcie_replicas[c])
                              <= sum_{h on g with its GPUs, slots_h >= s} slots_h hosts[h]
                            TP groups and hosts are powers of two, so these inequalities are exactly
                            the condition for every TP group to fit inside one host (first-fit by
                            decreasing size then packs them; `verify` builds that placement).
    card_packing[g,s]       the same for the PCIe pool, in the bays: sum_{c on g, tp_c >= s} tp_c pcie_replicas[c]
                              <= sum_{bought PCIe server h on g} s floor(bays_h / s) hosts[h]
    server_power_max[g,s]   (g with a server whose PSU binds, slots_h < bays_h) the same with the cards each
                            server powers: ... <= sum_{bought PCIe server h on g} s floor(slots_h / s) hosts[h].
                            Group sizes are powers of two and divide each other, so over every s these rows
                            are exactly the condition for the groups to fit servers of capacity slots_h
                            (largest first, a server's free room stays a multiple of the next size); a
                            500 W host with a 2,000 W PSU powers two 600 W cards: a TP2 group, never TP4.
    cards_cover[g]          (g in G_pcie) cards[g] >= sum_{c on g} tp_c pcie_replicas[c]: every GPU of a
                            group on a PCIe server is a card bought and put in that server
    cards_fit[g]            (g in G_pcie) cards[g] <= sum_{bought PCIe server h on g} slots_h hosts[h]
    owned_first[g]          bought hosts and cards of g only once every owned server of g that can hold
                            a TP group of g is switched on (owned servers smaller than every candidate's TP
                            degree on g cannot serve, so they need not be on):
                            sum_{acquired h on g} hosts[h] + cards[g] <= M_g owned_full[g],
                            sum_{useful owned h on g} hosts[h] >= n_useful_owned_g owned_full[g]
    gpus_available_max[g]   sum_{h on g, GPUs included} slots_h hosts[h] + cards[g] <= available_g
    rack_space              42 x racks >= sum_{bought server h} rack_units_h hosts[h]   (a full-height
                            EIA-310 rack has 42 U; servers on hand are already racked)
    budget_capex_max        capex <= budget.capex_usd
    budget_monthly_max      monthly <= budget.monthly_usd
    power_max               PUE x (sum_h power_w_h hosts[h] + sum_g power_w_g cards[g]) / 1000 <= power_kw_max
                            (physical hosts only: bought and owned servers; cloud instances are not in the facility)
    site_power_max          (site: office) sum_h power_w_h hosts[h] + sum_g power_w_g cards[g] <= site_w: the
                            nameplate draw of the bought and owned servers within the office's circuits
Objective
    minimise  capex + months x monthly + eps / 24 x sum_{c,t} n_t tp_c replicas[c,t]   (1 for 24 with one period)
    capex   = sum_h capex_h hosts[h] + sum_g capex_g cards[g] + rack_usd racks
    monthly = sum_{static h} monthly_h hosts[h] + sum_{rented h,t} monthly_h / T hosts[h,t]
              + sum_g monthly_g cards[g] + rack_monthly_usd racks
              (a rented instance is billed for the periods it runs: n_t/24 of a month each; the
              sum_{rented h,t} term reads monthly_h n_t / 24 hosts[h,t])
    Batch jobs billed by the run (`MilpInput.runs`): rows batch_*, formulas in `optimize.batch_runs`.
    Mixing policy, N+1 and zones: rows mixing_*, spare_*, zone_*, ..., formulas in `optimize.policy_rows`.
    Spot plans (`MilpInput.spot_share`): rows spot_* and batch_spot_share_max, in `optimize.spot_rows`.
    The eps term (1e-4 USD per replica-GPU) only breaks ties: among plans of equal cost it keeps
    the fewest replicas, so a paid-for but unneeded slot does not show up as an extra replica.
    Diagnosis objectives (`objective`): capex, monthly, power_kw, or gpus:<g>, the most GPUs of g
    installed in any period (rows peak_gpus_at[g,t]: peak_gpus[g] >= installed_g,t).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from planner.errors import SolverBug, SolverError
from planner.money.costs import CardCost, HostType
from planner.optimize import batch_runs, policy_rows, spot_rows, warm_start
from planner.optimize.batch_runs import JobWindow
from planner.optimize.candidates import Candidate
from planner.optimize.milp_parts import CONSTRAINT_FAMILIES as _FAMILIES
from planner.optimize.milp_parts import (_ZERO, EPS_USD_PER_REPLICA_GPU, RACK_UNITS, ROUTE_EPS, MilpSolution, bays_of,
                                         check_unique_names, distinct, hourly, replica_upper_bound,
                                         solver_output_to_stderr)

CONSTRAINT_FAMILIES = _FAMILIES
"""Every constraint family (`planner.optimize.milp_parts`), with what it says."""
SOLVERS = ("highs", "scip")
TP_SIZES = (1, 2, 4, 8)

@dataclass
class MilpInput:
    pricing: str
    candidates: list[Candidate]
    min_replicas: dict[str, int]
    """Workload name → minimum replicas (every workload in the problem, in file order)."""
    hosts: list[HostType]
    cards: dict[str, CardCost]
    months: int
    pue: float
    capex_max_usd: float | None = None
    monthly_max_usd: float | None = None
    power_max_kw: float | None = None
    available: dict[str, int] = field(default_factory=dict)
    rack_usd: float | None = None
    """Capex of one rack (buying only; None: racks are not priced)."""
    rack_monthly_usd: float = 0.0
    """Monthly running cost of one rack (its maintenance share)."""
    site_power_max_w: float | None = None
    """`site: office`: watts the office's circuits give (site_power_max); None elsewhere."""
    periods: int = 1
    """1: one steady peak. 24: hourly periods (traffic profiles); rented instances are then chosen
    hour by hour while bought and owned hosts stay fixed."""
    profile: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Workload name → demand per period as a fraction of its peak (absent: the peak every period)."""
    shares: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Workload name → its length buckets' shares (absent or one bucket: demand_coverage rows)."""
    hours: tuple[tuple[int, ...], ...] = ()
    """With hourly periods merged (`optimize.by_hour.merged`): the hours of the day each period
    stands for (its weight in the bill is their count). Empty: period t is hour t alone."""
    slices: int | None = None
    """planning.bucket_slices: each bucket routed in this many whole slices (None: split freely)."""
    objective: str = "cost"
    """cost (the plan's objective), or capex | monthly | power_kw | gpus:<id>: minimise that
    quantity instead (used to tell how far a binding cap would have to move)."""
    runs: dict[str, JobWindow] = field(default_factory=dict)
    """Batch workloads billed by the run (`optimize.batch_runs`): name → window; run rows, no demand rows."""
    hours_per_month: float = 730.0
    """Hours a month (instance $/h = monthly_usd / hours_per_month for batch runs)."""
    mixing: str = "free"
    """planning.mixing: routed | single | free (`optimize.policy_rows`)."""
    redundancy: dict[str, str] = field(default_factory=dict)
    """Workload → n_plus_1 | auto | zones:N: spare-replica or zone rows (`optimize.policy_rows`); absent: none."""
    spot_share: dict[str, float] = field(default_factory=dict)
    """Spot plans: workload name -> rent.spot_max_share (`optimize.spot_rows`); empty otherwise."""

    @property
    def hourly(self) -> bool:
        """Whether periods are hours of the day (24, or alike ones merged): instances chosen per period."""
        return self.periods > 1 or bool(self.hours)

    def level(self, workload: str, t: int) -> float:
        """The workload's demand in period t as a fraction of its peak."""
        return self.profile.get(workload, (1.0,) * self.periods)[t]

    def multi_bucket(self, workload: str) -> bool:
        """Whether `workload` is planned with several length buckets (route variables), not one."""
        return len(self.shares.get(workload, (1.0,))) > 1


def build(inp: MilpInput, run_vars: list | None = None):
    """The MathOpt model and its variables: (model, replicas, hosts, cards, racks or None, routes).

    `replicas[c]` and `hosts[h]` are lists with one entry per period. With one period (the usual
    case) each holds one variable; with hourly periods replicas and rented instances get one
    variable per hour, while a bought or owned host repeats its single variable. Batch runs' variables
    go to `run_vars` (a list, appended), not `replicas`."""
    from ortools.math_opt.python import mathopt

    T = inp.periods
    hours = range(T)
    model = mathopt.Model(name=f"fleet-{inp.pricing}")
    by_w: dict[str, list[Candidate]] = {w: [] for w in inp.min_replicas if w not in inp.runs}
    steady = [c for c in inp.candidates if c.workload not in inp.runs]
    for c in steady:
        by_w[c.workload].append(c)

    weight = [len(hs) for hs in inp.hours] if inp.hours else [1] * T
    day = sum(weight)  # hours the periods stand for: T, or 24 with merged periods

    def suffix(t: int) -> str:
        return f",h{inp.hours[t][0] if inp.hours else t:02d}" if inp.hourly else ""

    ub = {c.id: policy_rows.spare_upper_bound(replica_upper_bound(c, inp.min_replicas[c.workload]),
                                              inp.redundancy.get(c.workload)) for c in steady}
    ub.update({c.id: batch_runs.run_upper_bound(c, inp.runs[c.workload]) for c in inp.candidates
               if c.workload in inp.runs})
    replicas = {c.id: [model.add_integer_variable(lb=0, ub=ub[c.id], name=f"replicas[{c.id}{suffix(t)}]")
                       for t in hours] for c in steady}

    gpus = sorted({c.gpu for c in inp.candidates} | {h.gpu for h in inp.hosts if h.kind == "owned"})
    gpu_demand_ub = {g: sum(c.tp * ub[c.id] for c in inp.candidates if c.gpu == g) for g in gpus}
    hosts: dict[str, list] = {}
    host_of: dict[str, HostType] = {}
    for h in inp.hosts:
        if h.gpu not in gpu_demand_ub:
            continue
        # Acquired hosts: never more than would hold every replica that could run on the GPU.
        # Hosts on hand: up to the count owned (owned_first may need them all switched on).
        hub = h.max_count if h.max_count is not None else math.ceil(gpu_demand_ub[h.gpu] / h.slots)
        if hourly(h, inp):
            hosts[h.id] = [model.add_integer_variable(lb=0, ub=hub, name=f"hosts[{h.id}{suffix(t)}]") for t in hours]
        else:
            hosts[h.id] = [model.add_integer_variable(lb=0, ub=hub, name=f"hosts[{h.id}]")] * T
        host_of[h.id] = h
    cards = {g: model.add_integer_variable(lb=0, ub=gpu_demand_ub[g], name=f"cards[{g}]")
             for g in gpus if g in inp.cards}

    routes: dict[tuple[str, int], list] = {}
    for w, cs in by_w.items():
        if inp.multi_bucket(w):
            for c in cs:
                for b in c.buckets:
                    routes[c.id, b] = [model.add_variable(lb=0.0, name=f"route[{c.id},b{b}{suffix(t)}]") for t in hours]
                    for t in hours if inp.slices else ():
                        k = model.add_integer_variable(lb=0, ub=inp.slices, name=f"slices[{c.id},b{b}{suffix(t)}]")
                        model.add_linear_constraint(lb=0.0, ub=0.0, expr=routes[c.id, b][t] - inp.shares[w][b] * inp.level(
                            w, t) / inp.slices * k, name=f"route_slices[{c.id},b{b}{suffix(t)}]")
        for t in hours:
            if not inp.multi_bucket(w):
                # A workload without candidates keeps an empty, infeasible row (0 >= 1), as the math says.
                model.add_linear_constraint(lb=inp.level(w, t),
                                            expr=sum((c.coverage * replicas[c.id][t] for c in cs), _ZERO),
                                            name=f"demand_coverage[{w}{suffix(t)}]")
            else:
                for b, share in enumerate(inp.shares[w]):
                    model.add_linear_constraint(
                        lb=share * inp.level(w, t), expr=sum((routes[c.id, b][t] for c in cs if b in c.buckets), _ZERO),
                        name=f"bucket_routing[{w},b{b}{suffix(t)}]")
                for c in cs:
                    load = sum(routes[c.id, b][t] / cov for b, cov in zip(c.buckets, c.coverage_by_bucket))
                    model.add_linear_constraint(ub=0.0, expr=load - replicas[c.id][t],
                                                name=f"replica_load[{c.id}{suffix(t)}]")
            if inp.min_replicas[w] > 0:
                model.add_linear_constraint(lb=inp.min_replicas[w], expr=sum((replicas[c.id][t] for c in cs), _ZERO),
                                            name=f"min_replicas[{w}{suffix(t)}]")
    policy_rows.add_rows(model, inp, by_w, replicas, routes, ub, suffix, (hosts, host_of))

    def installed_at(g: str, t: int):
        return sum((h.slots * hosts[h.id][t] for h in host_of.values() if h.gpu == g and h.gpus_included),
                   _ZERO) + (cards.get(g, _ZERO))

    runs = batch_runs.add_rows(model, inp, hosts, host_of, installed_at)
    pcie = {}  # candidate id -> per-period expressions: its replicas on PCIe cards
    for g in gpus:
        g_cands = [c for c in steady if c.gpu == g]
        g_hosts = [h for h in host_of.values() if h.gpu == g]
        with_gpus = [h for h in g_hosts if h.gpus_included]
        pcie_servers = [h for h in g_hosts if not h.gpus_included]
        owned = [h for h in g_hosts if h.kind == "owned"]
        acquired = [h for h in g_hosts if h.kind != "owned"]
        for c in g_cands:
            if g not in cards:
                pcie[c.id] = [_ZERO] * T
            elif not with_gpus:
                pcie[c.id] = replicas[c.id]
            else:
                pcie[c.id] = [model.add_integer_variable(lb=0, ub=ub[c.id], name=f"pcie_replicas[{c.id}{suffix(t)}]")
                              for t in hours]
                for t in hours:
                    model.add_linear_constraint(ub=0.0, expr=pcie[c.id][t] - replicas[c.id][t],
                                                name=f"pcie_replicas_max[{c.id}{suffix(t)}]")
        for t in hours:
            for s in TP_SIZES:
                lhs = [c for c in g_cands if c.tp >= s]
                idle = runs.idle.get((t, g, s), [])
                if not lhs and not idle:
                    continue
                if g not in cards or with_gpus:
                    rhs = sum((h.slots * hosts[h.id][t] for h in with_gpus if h.slots >= s), _ZERO)
                    used = sum((c.tp * (replicas[c.id][t] - pcie[c.id][t]) for c in lhs), _ZERO) + sum(idle, _ZERO)
                    model.add_linear_constraint(ub=0.0, expr=used - rhs, name=f"tp_packing[{g},{s}{suffix(t)}]")
                if g in cards and lhs:
                    used = sum(c.tp * pcie[c.id][t] for c in lhs)
                    rhs = sum((s * (bays_of(h) // s) * hosts[h.id][t] for h in pcie_servers), _ZERO)
                    model.add_linear_constraint(ub=0.0, expr=used - rhs, name=f"card_packing[{g},{s}{suffix(t)}]")
                    if any(h.slots < bays_of(h) for h in pcie_servers):
                        rhs = sum((s * (h.slots // s) * hosts[h.id][t] for h in pcie_servers), _ZERO)
                        model.add_linear_constraint(ub=0.0, expr=used - rhs,
                                                    name=f"server_power_max[{g},{s}{suffix(t)}]")
            if g in cards:
                used = sum((c.tp * pcie[c.id][t] for c in g_cands), _ZERO)
                model.add_linear_constraint(lb=0.0, expr=cards[g] - used, name=f"cards_cover[{g}{suffix(t)}]")
            if g in inp.available:
                installed = sum((h.slots * hosts[h.id][t] for h in with_gpus), _ZERO) + (cards.get(g, _ZERO))
                model.add_linear_constraint(ub=inp.available[g], expr=installed,
                                            name=f"gpus_available_max[{g}{suffix(t)}]")
        if g in cards:
            model.add_linear_constraint(ub=0.0, expr=cards[g] - sum((h.slots * hosts[h.id][0] for h in pcie_servers),
                                                                    _ZERO),
                                        name=f"cards_fit[{g}]")
        smallest_tp = min((c.tp for c in g_cands), default=None)
        useful_owned = [h for h in owned if smallest_tp is not None and h.slots >= smallest_tp]
        if useful_owned and (acquired or g in cards):
            full = model.add_binary_variable(name=f"owned_full[{g}]")
            acquired_vars = [v for h in acquired for v in distinct(hosts[h.id])]
            big_m = sum(v.upper_bound for v in acquired_vars) + (cards[g].upper_bound if g in cards else 0)
            model.add_linear_constraint(
                ub=0.0, expr=sum(acquired_vars, _ZERO) + (cards.get(g, _ZERO)) - big_m * full,
                name=f"owned_first[{g},acquire]")
            model.add_linear_constraint(
                lb=0.0, expr=sum((hosts[h.id][0] for h in useful_owned), _ZERO)
                - sum(h.max_count for h in useful_owned) * full,
                name=f"owned_first[{g},full]")

    spot = spot_rows.add_rows(model, inp, steady, replicas, hosts, host_of, suffix, runs)  # rent.pricing: spot
    (run_vars if run_vars is not None else []).extend([runs, spot])

    def host_cost(attr: str):
        total = _ZERO
        for h in host_of.values():
            unit = getattr(h, attr)
            if hourly(h, inp):
                total = total + sum(unit * weight[t] / day * v for t, v in enumerate(hosts[h.id]))
            else:
                total = total + unit * hosts[h.id][0]
        return total

    capex = host_cost("capex_usd") + sum((inp.cards[g].capex_usd * v for g, v in cards.items()), _ZERO)
    monthly = host_cost("monthly_usd") + sum((inp.cards[g].monthly_usd * v for g, v in cards.items()), _ZERO)
    monthly = monthly + batch_runs.recurring_usd_per_month(inp, runs)
    once = batch_runs.once_usd(inp, runs) + batch_runs.tie_break(runs, {c.id: c for c in inp.candidates})
    racks = None
    bought = [h for h in host_of.values() if h.kind == "server"]
    if inp.rack_usd is not None and bought:
        units = sum(h.server.rack_units * hosts[h.id][0] for h in bought)
        racks = model.add_integer_variable(lb=0, ub=math.ceil(sum(h.server.rack_units * hosts[h.id][0].upper_bound
                                                                   for h in bought) / RACK_UNITS), name="racks")
        model.add_linear_constraint(lb=0.0, expr=RACK_UNITS * racks - units, name="rack_space")
        capex = capex + inp.rack_usd * racks
        monthly = monthly + inp.rack_monthly_usd * racks
    if inp.capex_max_usd is not None:
        model.add_linear_constraint(ub=inp.capex_max_usd, expr=capex, name="budget_capex_max")
    if inp.monthly_max_usd is not None:
        model.add_linear_constraint(ub=inp.monthly_max_usd, expr=monthly, name="budget_monthly_max")
    power_w = sum((h.power_w * hosts[h.id][0] for h in host_of.values() if h.kind != "instance"), _ZERO) + \
        sum((inp.cards[g].power_w * v for g, v in cards.items()), _ZERO)
    if inp.power_max_kw is not None:
        model.add_linear_constraint(ub=inp.power_max_kw * 1000.0, expr=inp.pue * power_w, name="power_max")
    if inp.site_power_max_w is not None:
        model.add_linear_constraint(ub=inp.site_power_max_w, expr=power_w, name="site_power_max")
    eps = EPS_USD_PER_REPLICA_GPU / day * sum((c.tp * weight[t] * v for c in steady
                                               for t, v in enumerate(replicas[c.id])), _ZERO)
    simple = {"cost": capex + inp.months * monthly + once, "capex": capex, "monthly": monthly,
              "power_kw": inp.pue * power_w / 1000.0}
    if inp.objective in simple:
        model.minimize(simple[inp.objective] + eps)
    elif inp.objective.startswith("gpus:"):
        g = inp.objective.split(":", 1)[1]
        peak = model.add_variable(lb=0.0, name=f"peak_gpus[{g}]")
        for t in hours:
            installed = sum((h.slots * hosts[h.id][t] for h in host_of.values() if h.gpu == g and h.gpus_included),
                            _ZERO) + (cards.get(g, _ZERO))
            model.add_linear_constraint(lb=0.0, expr=peak - installed, name=f"peak_gpus_at[{g}{suffix(t)}]")
        model.minimize(peak + eps)
    else:
        raise ValueError(f"unknown objective {inp.objective!r}")
    return model, replicas, hosts, cards, racks, routes


def solve(inp: MilpInput, solver: str = "highs", time_limit_s: float = 60.0) -> MilpSolution:
    """Build and solve; map every solver failure to SolverError (MathOpt reports some input
    errors, e.g. duplicate names, as an AttributeError on a StatusNotOk). Models with several
    length buckets start from `warm_start.hint` (its time counts in `time_limit_s`)."""
    from ortools.math_opt.python import mathopt

    if solver not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}; expected one of {', '.join(SOLVERS)}")
    run_vars: list = []
    model, replicas, hosts, cards, racks, routes = build(inp, run_vars)
    check_unique_names(model)
    n_vars = sum(1 for _ in model.variables())
    n_cons = sum(1 for _ in model.linear_constraints())
    solver_type = {"highs": mathopt.SolverType.HIGHS, "scip": mathopt.SolverType.GSCIP}[solver]
    start = time.perf_counter()
    try:
        with solver_output_to_stderr():
            values = warm_start.hint(inp, model, replicas, build, time_limit_s)
            hints = mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)]
                                                 ) if values else None
            left_s = max(time_limit_s - (time.perf_counter() - start), time_limit_s * warm_start.WARM_START_SHARE)
            params = mathopt.SolveParameters(time_limit=timedelta(seconds=left_s), absolute_gap_tolerance=1e-6,
                                             relative_gap_tolerance=batch_runs.GAP if inp.runs else 1e-9)
            result = mathopt.solve(model, solver_type, params=params, model_params=hints)
    except Exception as exc:  # an error status surfaces as AttributeError: 'StatusNotOk' ... in ortools 9.15
        raise SolverBug(f"internal: {solver} refused the fleet model MathOpt was given ({type(exc).__name__}: "
                        f"{exc}); this is a bug in planner: re-run with --debug and report it") from exc
    seconds = time.perf_counter() - start
    reason = result.termination.reason
    T = mathopt.TerminationReason
    if reason in (T.INFEASIBLE, T.INFEASIBLE_OR_UNBOUNDED):
        return MilpSolution("infeasible", solver, seconds, None, None, None, n_variables=n_vars, n_constraints=n_cons)
    if reason not in (T.OPTIMAL, T.FEASIBLE) or not result.has_primal_feasible_solution():
        raise SolverError(f"{solver} stopped without a plan: {reason.name.lower()} ({result.termination.detail})")
    status = "optimal" if reason == T.OPTIMAL else "feasible"
    obj = result.objective_value()
    bound = result.best_objective_bound()
    if not math.isfinite(bound):
        bound = None
    gap = abs(obj - bound) / max(abs(obj), 1e-9) if bound is not None else None
    values = result.variable_values()

    def val(v) -> int:
        return round(values[v])

    by_hour = {k: [val(v) for v in vs] for k, vs in replicas.items()}
    hourly_ids = {h.id for h in inp.hosts if hourly(h, inp)}
    hourly_hosts = {k: [val(v) for v in vs] for k, vs in hosts.items() if k in hourly_ids}
    static_hosts = {k: val(vs[0]) for k, vs in hosts.items() if k not in hourly_hosts}
    return MilpSolution(
        status=status, solver=solver, seconds=seconds, objective_usd=obj, bound_usd=bound, gap=gap,
        replicas={k: max(v) for k, v in by_hour.items() if max(v) > 0},
        hosts={k: n for k, n in static_hosts.items() if n > 0},
        cards={k: val(v) for k, v in cards.items() if val(v) > 0},
        racks=val(racks) if racks is not None else 0,
        replicas_by_hour={k: v for k, v in by_hour.items() if max(v) > 0} if inp.hourly else {},
        routes={k: [max(values[v], 0.0) for v in vs] for k, vs in routes.items()
                if any(values[v] > ROUTE_EPS for v in vs)},
        hosts_by_hour={k: v for k, v in hourly_hosts.items() if max(v) > 0},
        n_variables=n_vars, n_constraints=n_cons, runs=batch_runs.read(inp, run_vars[0], values),
        spot_replicas=spot_rows.read(run_vars[1], values),
    )

