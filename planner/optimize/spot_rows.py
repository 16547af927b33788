"""Spot capacity in the fleet MILP: two rental pools, spot capacity counted at its availability,
and the spot share cap (`rent.pricing: spot`).

A spot plan rents from two pools of the same catalogue: spot host types (`HostType.is_spot`, priced
at spot, each with its provider's interruption rate) and on-demand host types. Hooked into
`optimize.milp.build` after its own rows, whose coefficients it edits where a spot replica differs.

Data
    a_c               availability of a spot replica of c: the lowest `HostType.availability` of the
                      spot host types of g(c) with slots >= tp_c (`money.spot.spot_availability`:
                      1 / (1 + lambda lost_h)); c has no spot variable when none can hold it
    kappa_c           capacity weight of one replica of c: cov_c with one bucket; with several, the
                      share of w's demand it carries on its own buckets' mix,
                      1 / sum_{b in B_c} (share_w,b / S_c) / cov_c,b, S_c = sum_{b in B_c} share_w,b
    share_w           `rent.spot_max_share` (default 0.5 online, 1.0 batch; `money.spot.spot_share`)
Variables
    spot_replicas[c]  integer >= 0, of c's replicas those on spot instances
Constraints
    spot_replicas_max[c]    spot_replicas[c] <= replicas[c] (and pcie_replicas_max gains + spot_replicas[c]:
                            a replica is on a PCIe card, a spot instance or another host, never two)
    demand_coverage[w]      gains - (1 - a_c) cov_c spot_replicas[c]: a spot replica counts at a_c
    replica_load[c]         gains + (1 - a_c) spot_replicas[c]: load <= replicas - (1 - a_c) spot_replicas
    tp_packing[g,s]         on-demand hosts only: the spot host types' terms are dropped, and
                            - tp_c spot_replicas[c] added for tp_c >= s (the on-demand pool packs the rest)
    spot_packing[g,s]       sum_{c on g, tp_c >= s} tp_c spot_replicas[c] <= sum_{spot h on g, slots_h >= s}
                            slots_h hosts[h]: the spot pool's TP groups fit its instances (tp_packing's
                            power-of-two argument, in the spot pool alone)
    spot_share_max[w]       (share_w < 1) sum_{c in C_w} kappa_c spot_replicas[c] <= share_w sum_{c in C_w}
                            kappa_c replicas[c]: at most that share of w's capacity is on spot
    batch_spot_share_max[w] (a batch job billed by the run, share_w < 1) sum_{spot h, k} slots_h
                            run_hosts[w,h,k] <= share_w sum_{c, k} tp_c run_replicas[c,k]: at most that
                            share of the GPU-hours the run uses are rented spot (where batch_runs pools
                            alike slots, their pooled instance-hours and replica-hours stand in)
Idle GPUs offered to batch jobs (`idle_use`) are the on-demand pool's. A batch job's restart
allowance is its `JobWindow.availability` (`optimize.batch_runs`), set by `job_availability`.
"""

from __future__ import annotations

import math

from planner.money.costs import HostType
from planner.money.spot import batch_lost_hours, interruptions_per_hour, spot_availability
from planner.optimize import policy_rows
from planner.optimize.milp_parts import distinct

TP_SIZES = (1, 2, 4, 8)


def replica_availability(spot_hosts: list[HostType], tp: int) -> float | None:
    """a_c: the lowest availability of the spot host types that hold a TP group of `tp` (None: none does)."""
    fits = [h.availability for h in spot_hosts if h.slots >= tp]
    return min(fits) if fits else None


def replica_upper_bound(c, min_replicas: int, availability: float) -> int:
    """Replicas of c an optimal spot plan never exceeds: max(min_w, ceil(load / a_c)), load =
    sum_b share_b / cov_c,b (with n on-demand and m spot replicas covering load, n + m =
    ceil(n + (load - n) / a) <= ceil(load / a))."""
    load = sum(s / cov for s, cov in zip(c.shares, c.coverage_by_bucket))
    return max(min_replicas, math.ceil(load / availability - 1e-9))


def capacity_weight(c) -> float:
    """kappa_c: the share of its workload's demand one replica carries on its own buckets' mix."""
    total = sum(c.shares)
    return 1.0 / sum(s / total / cov for s, cov in zip(c.shares, c.coverage_by_bucket))


def job_availability(candidates: list, hosts: list[HostType], hours_per_month: float) -> float:
    """A batch job's restart allowance a_w: the lowest, over the spot host types of its candidates'
    GPUs, of 1 / (1 + lambda (restart_minutes / 60 + e2e_s / 3600)), e2e_s the longest request of
    its candidates on that GPU (1.0 without spot hosts). Its capacity counts at a_w."""
    out = 1.0
    for h in hosts:
        e2e = [c.e2e_s for c in candidates if c.gpu == h.gpu and c.tp <= h.slots]
        if h.is_spot and h.spot is not None and e2e:
            lam = interruptions_per_hour(h.spot.interruptions_per_instance_month, hours_per_month)
            out = min(out, spot_availability(lam, batch_lost_hours(h.spot.restart_minutes, max(e2e))))
    return out


def add_rows(model, inp, steady: list, replicas: dict, hosts: dict, host_of: dict, suffix, runs) -> dict:
    """Add the spot variables and rows, and edit milp's rows for them; candidate id -> spot_replicas
    per period ({} when the plan has no spot host type)."""
    spot_hosts = [h for h in host_of.values() if h.is_spot]
    if not spot_hosts:
        return {}
    zero = 0.0
    rows = {r.name: r for r in model.linear_constraints()}
    periods = range(inp.periods)
    spot: dict[str, list] = {}
    avail: dict[str, float] = {}
    grown: dict[str, int] = {}  # GPU -> GPUs the replicas' upper bounds grew by
    for c in steady:
        a = replica_availability([h for h in spot_hosts if h.gpu == c.gpu], c.tp)
        if a is None:
            continue
        avail[c.id] = a
        ub = policy_rows.spare_upper_bound(replica_upper_bound(c, inp.min_replicas[c.workload], a),
                                           inp.redundancy.get(c.workload))  # N+1 spare or zones
        grown[c.gpu] = grown.get(c.gpu, 0) + c.tp * max(0, ub - round(replicas[c.id][0].upper_bound))
        for v in replicas[c.id]:
            v.upper_bound = max(v.upper_bound, ub)
        spot[c.id] = [model.add_integer_variable(lb=0, ub=ub, name=f"spot_replicas[{c.id}{suffix(t)}]")
                      for t in periods]
        for t in periods:
            model.add_linear_constraint(ub=0.0, expr=spot[c.id][t] - replicas[c.id][t],
                                        name=f"spot_replicas_max[{c.id}{suffix(t)}]")
            if (row := rows.get(f"pcie_replicas_max[{c.id}{suffix(t)}]")) is not None:
                row.set_coefficient(spot[c.id][t], 1.0)
            if (row := rows.get(f"demand_coverage[{c.workload}{suffix(t)}]")) is not None:
                row.set_coefficient(spot[c.id][t], -(1.0 - a) * c.coverage)
            if (row := rows.get(f"replica_load[{c.id}{suffix(t)}]")) is not None:
                row.set_coefficient(spot[c.id][t], 1.0 - a)
    for h in host_of.values():  # acquired hosts: room for the grown bounds
        if grown.get(h.gpu) and h.max_count is None:
            for v in distinct(hosts[h.id]):
                v.upper_bound = v.upper_bound + math.ceil(grown[h.gpu] / h.slots)
    for g in sorted({h.gpu for h in spot_hosts}):
        g_spot = [h for h in spot_hosts if h.gpu == g]
        g_cands = [c for c in steady if c.gpu == g and c.id in spot]
        for t in periods:
            for s in TP_SIZES:
                lhs = [c for c in g_cands if c.tp >= s]
                if (row := rows.get(f"tp_packing[{g},{s}{suffix(t)}]")) is not None:
                    for h in g_spot:
                        row.set_coefficient(hosts[h.id][t], 0.0)
                    for c in lhs:
                        row.set_coefficient(spot[c.id][t], -float(c.tp))
                if lhs:
                    used = sum(c.tp * spot[c.id][t] for c in lhs)
                    room = sum((h.slots * hosts[h.id][t] for h in g_spot if h.slots >= s), zero)
                    model.add_linear_constraint(ub=0.0, expr=used - room, name=f"spot_packing[{g},{s}{suffix(t)}]")
    for w, share in inp.spot_share.items():
        cs = [c for c in steady if c.workload == w]
        if share >= 1.0 or not any(c.id in spot for c in cs):
            continue
        for t in periods:
            on_spot = sum((capacity_weight(c) * spot[c.id][t] for c in cs if c.id in spot), zero)
            every = sum((capacity_weight(c) * replicas[c.id][t] for c in cs), zero)
            model.add_linear_constraint(ub=0.0, expr=on_spot - share * every, name=f"spot_share_max[{w}{suffix(t)}]")
    for w in inp.runs:
        share = inp.spot_share.get(w, 1.0)
        rented = [(h, vs) for (job, hid), vs in runs.hosts.items() if job == w and (h := host_of[hid]).is_spot]
        rented += [(h, list(vs.values())) for (job, hid), vs in runs.pooled_hosts.items()
                   if job == w and (h := host_of[hid]).is_spot]  # instance-hours pooled over alike slots
        if share >= 1.0 or not rented:
            continue
        used = sum((c.tp * v for c in inp.candidates if c.workload == w
                    for v in [*runs.replicas.get(c.id, []), *runs.rented.get(c.id, {}).values(),
                              *runs.idle_hours.get(c.id, {}).values()]), zero)
        on_spot = sum((h.slots * v for h, vs in rented for v in vs), zero)
        model.add_linear_constraint(ub=0.0, expr=on_spot - share * used, name=f"batch_spot_share_max[{w}]")
    return spot


def read(spot: dict, values) -> dict[str, list[int]]:
    """Candidate id -> spot replicas per period, where any."""
    out = {cid: [round(values[v]) for v in vs] for cid, vs in spot.items()}
    return {k: v for k, v in out.items() if max(v) > 0}
