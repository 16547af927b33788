"""Single points of failure, lost hosts and each workload's mixing and redundancy as JSON records and
warnings (`planner.optimize.failure_domains`, `planner.optimize.policy_rows`), and every warning a
plan carries (default efficiency factors, single points of failure, lost hosts)."""

from __future__ import annotations

import dataclasses

from planner.optimize.failure_domains import host_losses, single_points
from planner.optimize.plan import Outcome, Plan
from planner.report.quality import factor_warnings
from planner.report.spot_out import spot_warnings


def _online(out: Outcome) -> set[str]:
    return {w.name for w in out.resolved.workloads if w.spec.traffic is not None}


def _multi(out: Outcome) -> set[str]:
    return {name for name, mix in out.candidates.mixes.items() if len(mix.buckets) > 1}


def resilience_records(out: Outcome, plan: Plan, losses: list | None = None) -> list[dict]:
    """JSON `resilience`, one record per online workload: the mixing policy and the deployment types
    it runs, the redundancy asked (`n_plus_1`, `zones: N`, `none`, or the default's outcome) and whether
    a spare is planned, the hosts its replicas span, and the hosts whose loss would leave it short
    (`losses`: `host_losses` of the plan, when the caller has them already)."""
    if losses is None:
        losses = host_losses(plan, _online(out), _multi(out))
    rows = []
    for w in out.resolved.workloads:
        if w.spec.traffic is None:
            continue
        mine = [d for d in plan.deployments if d.candidate.workload == w.name and d.replicas > 0]
        asked = w.spec.redundancy
        zones = getattr(asked, "zones", None)
        spare = asked == "n_plus_1" or zones is not None or (asked is None and sum(d.replicas for d in mine) > 1)
        spanned = sorted({label for label, content in plan.placement
                          if any(cid.split(":", 1)[0] == w.name for cid in content)})
        by_hour = [plan.solution.replicas_by_hour.get(d.candidate.id, [d.replicas] * plan.periods) for d in mine]
        types = max((sum(1 for n in hour if n > 0) for hour in zip(*by_hour)), default=0)
        rows.append({"workload": w.name, "mixing": out.resolved.spec.planning.mixing, "deployment_types": types,
                     "redundancy": f"zones: {zones}" if zones else (asked or "default"), "spare_replica": spare,
                     "zones": zones, "hosts_spanned": len(spanned),
                     "host_loss_short": [{"host": h.host, "replicas": h.replicas} for h in losses
                                         if h.workload == w.name]})
    return rows


def spof_records(out: Outcome, plan: Plan) -> list[dict]:
    """JSON `single_points_of_failure` of one plan: {workload, domain, name, replicas}."""
    return [dataclasses.asdict(s) for s in single_points(plan, _online(out))]


def spof_warnings(out: Outcome) -> list[str]:
    """One warning per online workload and plan whose replicas share one host or one provider, and
    one per host whose loss leaves a workload short (unless that host is already its single point)."""
    lines = []
    for p in out.plans:
        losses = host_losses(p, _online(out), _multi(out))
        records = resilience_records(out, p, losses)
        spare = {r["workload"]: r["spare_replica"] for r in records}
        zone_word = {r["workload"]: r["zones"] for r in records if r["zones"]}
        for r in records:
            if r["zones"] and r["hosts_spanned"] < r["zones"]:
                lines.append(f"{r['workload']} ({p.pricing} plan): its replicas span {r['hosts_spanned']} host(s), not the "
                             f"{r['zones']} zones asked: the hosts that could take them are full with other work")
        points = single_points(p, _online(out))
        for s in points:
            what = (f"all {s.replicas} replica{'s' if s.replicas > 1 else ''} on one host ({s.name}): losing it "
                    "stops the service" if s.domain == "host" else
                    f"all {s.replicas} replicas rented from one provider ({s.name}): an outage there stops the service")
            why = ((f"its zones ({zone_word[s.workload]}) cover one lost host" if s.workload in zone_word else
                    "its spare replica (N+1) covers one lost replica") + f", not the whole {s.domain}" if spare.get(s.workload)
                   else "no spare replica is planned (a single replica, or redundancy: none)")
            lines.append(f"{s.workload} ({p.pricing} plan): {what}; {why}")
        hosts = {(s.workload, s.name) for s in points if s.domain == "host"}
        for h in losses:
            if (h.workload, h.host) not in hosts:
                lines.append(f"{h.workload} ({p.pricing} plan): losing host {h.host} takes {h.replicas} of its "
                             "replicas and leaves its demand above the SLO capacity left (N+1 plans for one lost replica)")
    return lines


def plan_warnings(out: Outcome) -> list[str]:
    """Every warning of the outcome's plans, in a fixed order: default factors, single points of failure,
    assumed spot interruption rates."""
    return factor_warnings(out.plans) + spof_warnings(out) + spot_warnings(out)
