"""Check a solved plan against the formulas, not against the solver.

Every deployment is re-evaluated from the catalogue with `estimate` (memory fit at its batch cap,
loaded TTFT and TPOT, throughput); demand coverage, minimum replicas, the placement of every TP
group inside one host, the caps and the cost are recomputed from the plan's own lines. Any
violation is a bug in the planner: `VerificationError` (exit 1) lists them all.
"""

from __future__ import annotations

from planner import perf
from planner.catalog.price_rows import PriceBook
from planner.catalog.resolve import Resolved
from planner.errors import EXIT_BUG, PlannerError
from planner.optimize.milp import EPS_USD_PER_REPLICA_GPU, MilpInput
from planner.optimize.placement import place
from planner.optimize.plan import hosts_at_hour, lines_at_hour
from planner.perf.estimate import Deployment, max_batch, memory_breakdown, timings
from planner.serving.demand import demand_qps
from planner.units import GIB

REL_TOL = 1e-6


class VerificationError(PlannerError):
    """The solved plan breaks a constraint when re-checked against the formulas (a planner bug)."""

    exit_code = EXIT_BUG

    def __init__(self, violations: list[str]):
        self.violations = violations
        super().__init__("the plan failed verification (a bug in planner; please report it):\n" + "\n".join(violations))

    def lines(self) -> list[str]:
        return ["the plan failed verification (a bug in planner; please report it):", *self.violations]


def verify_plan(res: Resolved, inp: MilpInput, plan, book: PriceBook) -> None:
    """Raise VerificationError listing every violated condition of `plan`."""
    bad: list[str] = []
    cat = res.catalog
    spec = res.spec
    workloads = {w.name: w for w in res.workloads}
    share: dict[str, float] = {}
    for line in plan.deployments:
        c = line.candidate
        w = workloads[c.workload]
        d = Deployment(model=w.model, gpu=cat.gpus.rows[c.gpu], precision=cat.precisions.rows[c.precision],
                       kv_precision=cat.precisions.rows[c.kv_precision], tp=c.tp,
                       mem_utilization=spec.planning.mem_utilization, max_num_seqs=spec.planning.max_num_seqs)
        n_in, n_out = w.spec.input_tokens, w.spec.output_tokens
        if c.batch > max_batch(d, n_in + n_out):
            mem = memory_breakdown(d, c.batch, n_in + n_out)
            bad.append(f"{c.id}: batch {c.batch} needs {mem.total / GIB:.2f} GiB per GPU, "
                       f"has {mem.capacity / GIB:.2f} GiB")
        eff = cat.efficiency_for(d.gpu)
        step, pre, tpot, rate = timings(d, eff, c.batch, n_in, n_out)
        ttft = perf.loaded_ttft_s(pre.total_s, step.total_s)
        slo = w.spec.slo
        if slo is not None:
            if ttft > slo.ttft_ms / 1e3 * (1 + REL_TOL):
                bad.append(f"{c.id}: TTFT {ttft * 1e3:.1f} ms > SLO {slo.ttft_ms:g} ms")
            if tpot > slo.tpot_ms / 1e3 * (1 + REL_TOL):
                bad.append(f"{c.id}: TPOT {tpot * 1e3:.2f} ms > SLO {slo.tpot_ms:g} ms")
        capacity = w.max_utilization * rate / n_out
        share[c.id] = capacity / demand_qps(w, ttft + (n_out - 1) * tpot)

    sol = plan.solution
    for hour in range(plan.periods):
        at = f" in hour {hour:02d}" if plan.periods > 1 else ""
        lines = lines_at_hour(plan.deployments, sol, hour)
        hosts = hosts_at_hour(plan.hosts, sol, hour)
        for name, w in workloads.items():
            level = inp.profile.get(name, (1.0,) * plan.periods)[hour]
            covered = sum(d.replicas * share[d.candidate.id] for d in lines if d.candidate.workload == name)
            count = sum(d.replicas for d in lines if d.candidate.workload == name)
            if covered < level * (1.0 - REL_TOL):
                bad.append(f"workload {name}: replicas cover {covered:.4f} of its peak demand{at} (needs {level:g})")
            if count < w.spec.min_replicas:
                bad.append(f"workload {name}: {count} replicas{at} < min_replicas {w.spec.min_replicas}")
        placed = place(lines, hosts, plan.cards)
        if placed.unplaced:
            bad.append(f"{len(placed.unplaced)} replicas do not fit on the GPUs physically in the plan's hosts{at}: "
                       f"{', '.join(sorted(set(placed.unplaced)))}")
        for gid, n in placed.spare_cards.items():
            bad.append(f"{gid}: {n} PCIe cards bought fit no free server slot{at}")
        # Re-check the placement itself: each host holds TP groups of its own GPU type on GPUs it
        # physically has, every replica is placed once, and the cards in the servers are the cards bought.
        tp_of = {d.candidate.id: d.candidate.tp for d in lines}
        gpu_of = {d.candidate.id: d.candidate.gpu for d in lines}
        placed_count: dict[str, int] = {}
        for label, content in placed.hosts:
            h = placed.host_types[label]
            gpus_there = h.slots if h.gpus_included else placed.cards[label]
            used = sum(tp_of[c] for c in content)
            if used > gpus_there or gpus_there > h.slots:
                bad.append(f"{label}: TP groups of {used} GPUs on {gpus_there} GPUs ({h.slots} slots){at}")
            for c in content:
                placed_count[c] = placed_count.get(c, 0) + 1
                if gpu_of[c] != h.gpu:
                    bad.append(f"{label}: holds {c}, a deployment on {gpu_of[c]}, not {h.gpu}{at}")
        for c in placed.unplaced:
            placed_count[c] = placed_count.get(c, 0) + 1
        for d in lines:
            if placed_count.get(d.candidate.id, 0) != d.replicas:
                bad.append(f"{d.candidate.id}: {placed_count.get(d.candidate.id, 0)} replicas placed of {d.replicas}{at}")
        for c, n_cards in plan.cards:
            in_servers = sum(k for label, k in placed.cards.items() if placed.host_types[label].gpu == c.gpu)
            if in_servers + placed.spare_cards.get(c.gpu, 0) != n_cards:
                bad.append(f"{c.gpu}: {n_cards} PCIe cards bought, {in_servers} put in servers{at}")
        for gid, cap in res.available.items():
            installed = sum(h.slots * n for h, n in hosts if h.gpu == gid and h.gpus_included) + \
                sum(n for c, n in plan.cards if c.gpu == gid)
            if installed > cap:
                bad.append(f"{gid}: {installed} GPUs in the plan{at} > gpus.available {cap}")
    b = spec.budget
    if b is not None and b.capex_usd is not None and plan.capex_usd > b.capex_usd * (1 + REL_TOL):
        bad.append(f"capex ${plan.capex_usd:,.0f} > budget.capex_usd ${b.capex_usd:,.0f}")
    if b is not None and b.monthly_usd is not None and plan.monthly_usd > b.monthly_usd * (1 + REL_TOL):
        bad.append(f"monthly ${plan.monthly_usd:,.0f} > budget.monthly_usd ${b.monthly_usd:,.0f}")
    if spec.power_kw_max is not None and plan.power_kw > spec.power_kw_max * (1 + REL_TOL):
        bad.append(f"facility power {plan.power_kw:.2f} kW > power_kw_max {spec.power_kw_max:g} kW")
    replica_gpus = [sum(d.replicas * d.candidate.tp for d in lines_at_hour(plan.deployments, sol, t))
                    for t in range(plan.periods)]
    eps = EPS_USD_PER_REPLICA_GPU * sum(replica_gpus) / plan.periods
    cost = plan.capex_usd + inp.months * plan.monthly_usd
    obj = plan.solution.objective_usd - eps
    if abs(cost - obj) > 1e-6 * max(1.0, abs(cost)) + 1e-3:
        bad.append(f"bill of materials costs ${cost:,.2f} but the solver's objective is ${obj:,.2f}")
    if bad:
        raise VerificationError(bad)
