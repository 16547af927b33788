"""Mixing policy and N+1 redundancy rows of the fleet MILP (`optimize.milp`), and their re-check.

Mixing (planning.mixing; a deployment type is one candidate: GPU, precision, TP, batch cap, context)
    routed      workload of one bucket: as `single`. Several buckets: binary serves[c,b] per
                (candidate, bucket) it could serve, and
                bucket_served_by[c,b]   route[c,b] <= share_w,b level_w,t serves[c,b]
                mixing_routed[w,b]      sum_c serves[c,b] <= 1
                so each bucket's requests go wholly to one deployment type (bucket_routing asks for
                share_w,b level_w,t, and only one route may be non-zero).
    single      binary uses[c] per candidate, and
                deployment_used[c]      replicas[c] <= ub_c uses[c]
                mixing_single[w]        sum_c uses[c] <= 1
    free        no rows: any mix; the plan's routing table gives each deployment its capacity share.
    A workload with one candidate (or a bucket with one server) gets no rows: nothing to choose.
    With hourly periods the binaries are one per plan, not per hour, when the plan owns or buys
    hosts (hybrid, buy with hosts on hand, merged hours): a workload keeps its types all day. A
    rent-only plan gets them per hour (its instances are launched afresh each hour; this also keeps
    the hour-by-hour decomposition of `optimize.by_hour` exact).

Redundancy (workloads[].redundancy, `MilpInput.redundancy`: workload -> n_plus_1 | auto)
    on[c,t]     binary: candidate c runs in period t;  deployment_on[c,t]: replicas[c,t] <= ub_c on[c,t]
    one bucket  spare_coverage[w,c,t]   sum_c' cov_c' replicas[c',t] - cov_c on[c,t] >= level_w,t
                (one row per candidate: with any one replica of any deployment lost, the rest still
                cover the demand; the router spreads the lost replica's share over the others, which
                is what demand_coverage already assumes of the one-bucket routing)
    buckets     spare_replica[c,t]      sum_b route[c,b,t] / cov_c,b <= replicas[c,t] - on[c,t]
                (every deployment carries one replica beyond its routed load, so the load of a lost
                replica stays on its own deployment type within capacity. Exact under `routed` and
                `single`, where no other deployment may take that bucket; under `free` it is
                sufficient, not necessary: another type serving the bucket could absorb it)
    auto        (the default for online work) the rows above apply when the plan serves the workload
                with more than one replica in period t: binary alone[w,t] with
                one_replica[w,t]        sum_c replicas[c,t] + M alone[w,t] <= 1 + M   (M = sum_c ub_c)
                and + alone[w,t] (buckets) or + cov_c alone[w,t] (one bucket) on the right of the
                spare rows, which alone[w,t] = 1 switches off; a single replica needs no spare.
Zones (workloads[].redundancy {zones: N}, `MilpInput.redundancy`: workload -> zones:N): the replicas
are spread over N failure domains (hosts), any one of which may be lost. zone[c,t] integer: the most
replicas of deployment c one host may hold, and on[c,t] as above:
    zone_size[c,t]          replicas[c,t] - N zone[c,t] <= 0          (ceil(replicas / N) per host at most)
    zone_hosts[c,t]         sum_{h on c's GPU, slots_h >= tp_c} hosts[h,t] - N on[c,t] >= 0
                            (N hosts that can hold c exist wherever c runs)
    zone_replicas_min[w,t]  sum_c replicas[c,t] >= N   (periods with demand)
    one bucket  zone_coverage[w,t]   sum_c cov_c (replicas[c,t] - zone[c,t]) >= level_w,t
                (a lost host takes at most zone[c,t] of each deployment; the rest still cover the demand)
    buckets     zone_replica[c,t]    sum_b route[c,b,t] / cov_c,b <= replicas[c,t] - zone[c,t]
    Placement (`optimize.placement`) spreads each workload's replicas by water-filling, which puts at
    most ceil(replicas / hosts) of a deployment on a host; verify re-checks the placed plan against
    every lost host (`failure_domains.host_losses`) and counts the hosts it spans. The rows ask for N
    hosts of the GPU, not N hosts free of other work: where other workloads fill them, the placement can
    fall short, and the plan says so.
Coefficients: cov_c, cov_c,b and ub_c as in `optimize.milp` (candidates, `replica_upper_bound`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIXING = ("routed", "single", "free")
REDUNDANCY = ("n_plus_1", "auto")
ZONES = "zones:"
"""Prefix of a zoned workload's rule in `MilpInput.redundancy`: `zones:3`."""
_ZERO = 0.0


def zones_of(rule: str | None) -> int | None:
    """N of a `zones:N` rule; None for any other rule (or none)."""
    return int(rule[len(ZONES):]) if rule and rule.startswith(ZONES) else None


def spare_upper_bound(replicas_ub: int, rule: str | None) -> int:
    """A candidate's replica upper bound with its workload's spare rule: one more replica under N+1;
    under zones N, R = u + ceil(u / (N - 1)) keeps R - ceil(R / N) >= u (ceil(R / N) <= R - u since
    u <= (R - u)(N - 1)), and at least N."""
    n = zones_of(rule)
    if n is not None:
        return max(n, replicas_ub + math.ceil(replicas_ub / (n - 1)))
    return replicas_ub + (rule is not None)


def static_types(inp) -> bool:
    """Whether a workload keeps its deployment types all day: the model holds bought or owned hosts."""
    return inp.hourly and any(h.kind != "instance" for h in inp.hosts)


def add_rows(model, inp, by_w: dict, replicas: dict, routes: dict, ub: dict, suffix, host_vars: tuple) -> None:
    """Add the mixing and redundancy rows for every steady workload of `by_w` (name -> candidates);
    `host_vars`: (host type id -> variable per period, host type id -> HostType) as in `optimize.milp`."""
    hosts, host_of = host_vars

    def hosts_for(c, t: int):  # the hosts that could hold a replica of c in period t
        return sum((hosts[h.id][t] for h in host_of.values() if h.gpu == c.gpu and h.slots >= c.tp), _ZERO)

    periods = range(inp.periods)
    static = static_types(inp)
    for w, cs in by_w.items():
        if len(cs) > 1 and (inp.mixing == "single" or (inp.mixing == "routed" and not inp.multi_bucket(w))):
            for t in ([0] if static or not inp.hourly else periods):
                tag = "" if static else suffix(t)
                uses = {c.id: model.add_binary_variable(name=f"uses[{c.id}{tag}]") for c in cs}
                for c in cs:
                    for u in (periods if static else [t]):
                        model.add_linear_constraint(ub=0.0, expr=replicas[c.id][u] - ub[c.id] * uses[c.id],
                                                    name=f"deployment_used[{c.id}{suffix(u)}]")
                model.add_linear_constraint(ub=1.0, expr=sum(uses.values(), _ZERO), name=f"mixing_single[{w}{tag}]")
        elif inp.mixing == "routed" and inp.multi_bucket(w):
            for b, share in enumerate(inp.shares[w]):
                servers = [c for c in cs if b in c.buckets]
                if len(servers) < 2:
                    continue
                for t in ([0] if static or not inp.hourly else periods):
                    tag = "" if static else suffix(t)
                    serves = {c.id: model.add_binary_variable(name=f"serves[{c.id},b{b}{tag}]") for c in servers}
                    for c in servers:
                        for u in (periods if static else [t]):
                            model.add_linear_constraint(
                                ub=0.0, expr=routes[c.id, b][u] - share * inp.level(w, u) * serves[c.id],
                                name=f"bucket_served_by[{c.id},b{b}{suffix(u)}]")
                    model.add_linear_constraint(ub=1.0, expr=sum(serves.values(), _ZERO),
                                                name=f"mixing_routed[{w},b{b}{tag}]")
        if inp.redundancy.get(w) in REDUNDANCY and cs:
            _spare_rows(model, inp, w, cs, replicas, routes, ub, suffix)
        elif zones_of(inp.redundancy.get(w)) and cs:
            _zone_rows(model, inp, w, cs, replicas, routes, ub, suffix, hosts_for)


def _zone_rows(model, inp, w: str, cs: list, replicas: dict, routes: dict, ub: dict, suffix, hosts_for) -> None:
    n = zones_of(inp.redundancy[w])
    for t in range(inp.periods):
        zone = {c.id: model.add_integer_variable(lb=0, ub=ub[c.id], name=f"zone[{c.id}{suffix(t)}]") for c in cs}
        on = {c.id: model.add_binary_variable(name=f"on[{c.id}{suffix(t)}]") for c in cs}
        for c in cs:
            model.add_linear_constraint(ub=0.0, expr=replicas[c.id][t] - ub[c.id] * on[c.id],
                                        name=f"deployment_on[{c.id}{suffix(t)}]")
            model.add_linear_constraint(ub=0.0, expr=replicas[c.id][t] - n * zone[c.id],
                                        name=f"zone_size[{c.id}{suffix(t)}]")
            model.add_linear_constraint(lb=0.0, expr=hosts_for(c, t) - n * on[c.id],
                                        name=f"zone_hosts[{c.id}{suffix(t)}]")
        if inp.level(w, t) > 0:
            model.add_linear_constraint(lb=float(n), expr=sum((replicas[c.id][t] for c in cs), _ZERO),
                                        name=f"zone_replicas_min[{w}{suffix(t)}]")
        if inp.multi_bucket(w):
            for c in cs:
                load = sum(routes[c.id, b][t] / cov for b, cov in zip(c.buckets, c.coverage_by_bucket))
                model.add_linear_constraint(ub=0.0, expr=load - replicas[c.id][t] + zone[c.id],
                                            name=f"zone_replica[{c.id}{suffix(t)}]")
        else:
            model.add_linear_constraint(lb=inp.level(w, t), expr=sum((c.coverage * (replicas[c.id][t] - zone[c.id])
                                                                      for c in cs), _ZERO),
                                        name=f"zone_coverage[{w}{suffix(t)}]")


def _spare_rows(model, inp, w: str, cs: list, replicas: dict, routes: dict, ub: dict, suffix) -> None:
    auto = inp.redundancy[w] == "auto"
    for t in range(inp.periods):
        on = {c.id: model.add_binary_variable(name=f"on[{c.id}{suffix(t)}]") for c in cs}
        for c in cs:
            model.add_linear_constraint(ub=0.0, expr=replicas[c.id][t] - ub[c.id] * on[c.id],
                                        name=f"deployment_on[{c.id}{suffix(t)}]")
        alone = _ZERO
        if auto:
            alone = model.add_binary_variable(name=f"alone[{w}{suffix(t)}]")
            big_m = sum(ub[c.id] for c in cs)
            model.add_linear_constraint(ub=1.0 + big_m, expr=sum((replicas[c.id][t] for c in cs), _ZERO)
                                        + big_m * alone, name=f"one_replica[{w}{suffix(t)}]")
        if inp.multi_bucket(w):
            for c in cs:
                load = sum(routes[c.id, b][t] / cov for b, cov in zip(c.buckets, c.coverage_by_bucket))
                model.add_linear_constraint(ub=0.0, expr=load - replicas[c.id][t] + on[c.id] - alone,
                                            name=f"spare_replica[{c.id}{suffix(t)}]")
        else:
            covered = sum((c.coverage * replicas[c.id][t] for c in cs), _ZERO)
            for c in cs:
                model.add_linear_constraint(lb=inp.level(w, t), expr=covered - c.coverage * on[c.id]
                                            + c.coverage * alone, name=f"spare_coverage[{w},{c.id}{suffix(t)}]")


@dataclass(frozen=True)
class PolicyCheck:
    """A plan re-checked against its mixing policy and redundancy, from its replicas and routes alone."""

    workload: str
    types: int
    """Deployment types the workload runs in the period checked."""
    mixing_ok: bool
    spare_ok: bool | None
    """Whether the demand is still carried with any one replica lost; None: no spare asked (redundancy
    none, or the default with a single replica)."""


def check(workload: str, mixing: str, redundancy: str | None, lines: list[tuple], n_buckets: int,
          level: float, tol: float = 1e-6) -> PolicyCheck:
    """Re-check one workload in one period from `lines`: (candidate, replicas, {bucket: routed share
    of the peak demand}, {bucket: coverage of one replica}) per deployment.

    Mixing: `single` (or `routed` with one bucket) = one deployment with replicas; `routed` = no
    bucket routed to two. Redundancy (`n_plus_1`, or `auto` with more than one replica): with one
    bucket, sum of coverage x replicas less any one replica's coverage >= level; with several, each
    deployment's routed load (sum of route / coverage) <= its replicas - 1. Zones N: at least N
    replicas, and the same with ceil(replicas / N) of every deployment lost instead of one replica."""
    live = [ln for ln in lines if ln[1] > 0]
    if mixing == "single" or (mixing == "routed" and n_buckets <= 1):
        mixing_ok = len(live) <= 1
    elif mixing == "routed":
        mixing_ok = all(sum(1 for ln in live if ln[2].get(b, 0.0) > 1e-9) <= 1 for b in range(n_buckets))
    else:
        mixing_ok = True
    spare_ok = None
    zones = zones_of(redundancy)
    if zones is not None:  # a lost host takes ceil(n / N) replicas of each deployment
        spread = sum(ln[1] for ln in live) >= zones or level <= 0
        kept = lambda n: n - math.ceil(n / zones)  # noqa: E731
        if n_buckets <= 1:
            left = sum(kept(n) * max(cov.values(), default=0.0) for _, n, _, cov in live)
            spare_ok = spread and left >= level * (1 - tol)
        else:
            spare_ok = spread and all(sum(r / cov[b] for b, r in routes.items() if r > 0) <= kept(n) + tol
                                      for _, n, routes, cov in live)
    elif redundancy == "n_plus_1" or (redundancy == "auto" and sum(ln[1] for ln in live) > 1):
        if n_buckets <= 1:
            covered = sum(n * max(cov.values(), default=0.0) for _, n, _, cov in live)
            spare_ok = all(covered - max(cov.values(), default=0.0) >= level * (1 - tol) for _, _, _, cov in live)
        else:
            spare_ok = all(sum(r / cov[b] for b, r in routes.items() if r > 0) <= n - 1 + tol
                           for _, n, routes, cov in live)
    return PolicyCheck(workload, len(live), mixing_ok, spare_ok)
