"""Check a solved plan against the formulas, not against the solver.

Every deployment is re-evaluated from the catalogue (memory fit of its batch cap at its memory
tier; each routed bucket's SLO capacity and its SLO-percentile TTFT, TPOT and E2E at the load the
plan routes to it, from `serving.queueing`), except a measured one (`optimize.measured`), whose
capacities are its table's; demand coverage or bucket routing (in whole slices with
planning.bucket_slices) and replica load,
minimum replicas, the placement of every TP group inside one host, the caps and the cost are
recomputed from the plan's own lines. The serving simulation (`serving.simulate`, `--simulate`)
checks the queueing approximation itself. Any
violation is a bug in the planner: `VerificationError` (exit 1) lists them all.
"""

from __future__ import annotations

from planner.catalog.price_rows import PriceBook
from planner.catalog.resolve import Resolved
from planner.errors import EXIT_BUG, PlannerError
from planner.money.costs import server_problems
from planner.money.site import site_power_w
from planner.optimize import batch_runs, policy_rows
from planner.optimize.milp import MilpInput
from planner.optimize.measured import MeasuredCandidate
from planner.optimize.milp_parts import EPS_USD_PER_REPLICA_GPU
from planner.optimize.placement import place
from planner.optimize.plan import DeploymentLine, hosts_at_hour, lines_at_hour
from planner.optimize.slo import at_rate, deployment_of, mean_response_s, over_limits, slo_capacity_qps
from planner.perf.engines import deployment_efficiency
from planner.perf.estimate import max_batch, memory_breakdown
from planner.serving import queueing
from planner.serving.demand import demand_qps
from planner.serving.mix import LengthMix
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


def verify_plan(res: Resolved, inp: MilpInput, plan, book: PriceBook, mixes: dict[str, LengthMix]) -> None:
    """Raise VerificationError listing every violated condition of `plan`."""
    bad: list[str] = []
    cat = res.catalog
    spec = res.spec
    workloads = {w.name: w for w in res.workloads}
    cover: dict[tuple[str, int], float] = {}
    for line in plan.deployments:
        c = line.candidate
        w = workloads[c.workload]
        mix = mixes[w.name]
        if isinstance(c, MeasuredCandidate):  # its capacity is the table's: nothing of the model to re-check
            for b, cap_b in zip(c.buckets, c.capacity_by_bucket):
                cover[c.id, b] = cap_b / c.demand_qps
            continue
        d = deployment_of(res, c)
        eff = deployment_efficiency(cat, d)
        if c.batch > max_batch(d, c.context_tokens):
            mem = memory_breakdown(d, c.batch, c.context_tokens)
            bad.append(f"{c.id}: batch {c.batch} of {c.context_tokens}-token contexts needs {mem.total / GIB:.2f} "
                       f"GiB per GPU, has {mem.capacity / GIB:.2f} GiB")
        slo = w.spec.slo
        chunk = d.chunk_tokens
        times, planned = [], []
        for b in c.buckets:
            bk = mix.buckets[b]
            if bk.max_context_tokens > c.context_tokens:
                bad.append(f"{c.id}: serves bucket {b} of {bk.max_context_tokens}-token contexts, above its "
                           f"{c.context_tokens}-token memory tier")
            times.append(queueing.bucket_times(d, eff, bk.input_tokens, bk.output_tokens, c.batch, chunk))
            planned.append(w.max_utilization * slo_capacity_qps(times[-1], slo))
        if slo is not None:
            # The SLO percentile at the load the plan routes here: each bucket as if alone at the
            # same share of its capacity (the MILP's aggregate form).
            for b, t, cap_b in zip(c.buckets, times, planned):
                if b not in line.routes:
                    continue
                got = at_rate(t, min(line.capacity_used, 1.0) * cap_b, slo.percentile / 100.0)
                for name, value, limit in over_limits(got, slo, REL_TOL):
                    bad.append(f"{c.id}: bucket {b} p{slo.percentile} {name.upper()} {value * 1e3:.1f} ms > "
                               f"SLO {limit * 1e3:g} ms")
        dem = demand_qps(w, mean_response_s(times, planned, [mix.buckets[b].share for b in c.buckets]))
        for b, cap_b in zip(c.buckets, planned):
            cover[c.id, b] = cap_b / dem

    sol = plan.solution
    for hour in range(plan.periods):
        at = f" in hour {hour:02d}" if plan.periods > 1 else ""
        lines = lines_at_hour(plan.deployments, sol, hour)
        hosts = hosts_at_hour(plan.hosts, sol, hour)
        for name, w in workloads.items():
            if name in inp.runs:
                continue  # billed by the run: checked by _check_runs
            level = inp.level(name, hour)
            mine = [d for d in lines if d.candidate.workload == name]
            count = sum(d.replicas for d in mine)
            if not inp.multi_bucket(name):
                covered = sum(d.replicas * cover[d.candidate.id, d.candidate.buckets[0]] for d in mine)
                if covered < level * (1.0 - REL_TOL):
                    bad.append(f"workload {name}: replicas cover {covered:.4f} of its peak demand{at} (needs {level:g})")
            else:
                for b, bucket_share in enumerate(inp.shares[name]):
                    routed = sum(sol.routes.get((d.candidate.id, b), [0.0] * plan.periods)[hour] for d in mine)
                    for d in mine if inp.slices and level > 0 else ():
                        k = sol.routes.get((d.candidate.id, b), [0.0] * plan.periods)[hour] * inp.slices / (bucket_share * level)
                        if abs(k - round(k)) > 1e-6:
                            bad.append(f"{d.candidate.id}: bucket {b} gets {k:.4f} of its {inp.slices} slices{at}")
                    if routed < bucket_share * level * (1.0 - REL_TOL) - 1e-9:
                        bad.append(f"workload {name}: bucket {b} routes {routed:.4f} of the peak demand{at} "
                                   f"(needs {bucket_share * level:.4f})")
                for d in mine:
                    load = sum(sol.routes.get((d.candidate.id, b), [0.0] * plan.periods)[hour] / cover[d.candidate.id, b]
                               for b in d.candidate.buckets)
                    if load > d.replicas * (1.0 + REL_TOL) + 1e-9:
                        bad.append(f"{d.candidate.id}: routed load {load:.4f} replicas > {d.replicas} replicas{at}")
            if count < w.spec.min_replicas:
                bad.append(f"workload {name}: {count} replicas{at} < min_replicas {w.spec.min_replicas}")
            bad += [f"workload {name}: {why}{at}" for why in _policy(inp, sol, name, mine, cover, hour)]
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
            if h.kind == "server":  # can it be built: bays, slot widths, slot power, PSU (from the catalogue)
                bad += [f"{label}: {why}{at}" for why in server_problems(h.server, res.catalog.gpus.rows[h.gpu], gpus_there)]
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
    site_w = site_power_w(spec)
    if site_w is not None and plan.power_kw * 1000.0 / inp.pue > site_w * (1 + REL_TOL):
        bad.append(f"servers draw {plan.power_kw * 1000.0 / inp.pue:,.0f} W > the office's {site_w:,.0f} W "
                   f"({spec.office.circuits} x {spec.office.circuit_w:g} W circuits)")
    replica_gpus = [sum(d.replicas * d.candidate.tp for d in lines_at_hour(plan.deployments, sol, t))
                    for t in range(plan.periods)]
    eps = EPS_USD_PER_REPLICA_GPU * sum(replica_gpus) / plan.periods + batch_runs.tie_break_usd(plan.runs)
    bad += _check_runs(inp, plan)
    cost = plan.capex_usd + inp.months * plan.monthly_usd + plan.once_usd
    obj = plan.solution.objective_usd - eps
    if abs(cost - obj) > 1e-6 * max(1.0, abs(cost)) + 1e-3:
        bad.append(f"bill of materials costs ${cost:,.2f} but the solver's objective is ${obj:,.2f}")
    if bad:
        raise VerificationError(bad)


def _policy(inp: MilpInput, sol, name: str, mine: list[DeploymentLine], cover: dict, hour: int) -> list[str]:
    """The workload's mixing policy and spare replica in one period (`policy_rows.check`), and, when it
    keeps its types all day, no more types over the day than the policy allows in an hour."""
    lines = [(d.candidate, d.replicas, {b: v[hour] for b in d.candidate.buckets
                                        if (v := sol.routes.get((d.candidate.id, b)))},
              {b: cover[d.candidate.id, b] for b in d.candidate.buckets}) for d in mine]
    n_buckets = len(inp.shares.get(name, (1.0,)))
    pc = policy_rows.check(name, inp.mixing, inp.redundancy.get(name), lines, n_buckets, inp.level(name, hour))
    bad = [] if pc.mixing_ok else [f"{pc.types} deployment types break mixing: {inp.mixing}"]
    if pc.spare_ok is False:
        bad.append(f"no spare replica: losing one replica (zones: one host's share) leaves the demand above its SLO "
                   f"capacity (redundancy {inp.redundancy[name]})")
    day = {cid for cid, v in sol.replicas_by_hour.items() if cid.startswith(f"{name}:") and max(v) > 0}
    if hour == 0 and policy_rows.static_types(inp) and n_buckets <= 1 and inp.mixing != "free" and len(day) > 1:
        bad.append(f"{len(day)} deployment types over the day break mixing: {inp.mixing}")
    return bad


def _check_runs(inp: MilpInput, plan) -> list[str]:
    """Batch jobs billed by the run: every bucket done within the window, each slot's work within what
    its replicas do in that slot, and in each slot the job's replicas placed (first fit, as the
    plan's) together with the plan's own on the plan's hosts in that hour plus the run's instances."""
    bad = []
    by_id = {c.id: c for c in inp.candidates}
    host_by_id = {h.id: h for h, _ in plan.hosts} | {h.id: h for h in inp.hosts}
    period = batch_runs.period_of_hour(inp)
    for name, run in plan.runs.items():
        w = run.window
        done = sum(sum(v) for v in run.work.values())
        if done < 1.0 - REL_TOL - 1e-9:
            bad.append(f"batch {name}: {done:.4f} of the job done within its {w.hours:g} h window")
        for k in range(w.slots):
            lines = []
            for cid, n in run.replicas.items():
                c = by_id[cid]
                can = n[k] * w.fraction(k) * max(c.coverage_by_bucket) / w.hours
                if run.work[cid][k] > can * (1.0 + REL_TOL) + 1e-9:
                    bad.append(f"batch {name}: {cid} does {run.work[cid][k]:.4f} of the job in slot {k}, "
                               f"its {n[k]} replicas {can:.4f}")
                if n[k]:
                    lines.append(DeploymentLine(c, n[k], {}, 0.0))
            hour = period[w.hour_of_day(k)]
            count = {h.id: n for h, n in hosts_at_hour(plan.hosts, plan.solution, hour)}
            for hid, n in run.run_hosts.items():
                count[hid] = count.get(hid, 0) + n[k]
            hosts = [(host_by_id[h], n) for h, n in sorted(count.items()) if n > 0]
            placed = place(lines_at_hour(plan.deployments, plan.solution, hour) + lines, hosts, plan.cards)
            if placed.unplaced:
                bad.append(f"batch {name}: in slot {k} (hour {w.hour_of_day(k):02d}) {len(placed.unplaced)} replicas "
                           f"do not fit: {', '.join(sorted(set(placed.unplaced)))}")
    return bad
