"""Single points of failure as JSON records and warnings (`planner.optimize.failure_domains`), and
every warning a plan carries (default efficiency factors, single points of failure)."""

from __future__ import annotations

import dataclasses

from planner.optimize.failure_domains import single_points
from planner.optimize.plan import Outcome, Plan
from planner.report.quality import factor_warnings
from planner.report.spot_out import spot_warnings


def _online(out: Outcome) -> set[str]:
    return {w.name for w in out.resolved.workloads if w.spec.traffic is not None}


def spof_records(out: Outcome, plan: Plan) -> list[dict]:
    """JSON `single_points_of_failure` of one plan: {workload, domain, name, replicas}."""
    return [dataclasses.asdict(s) for s in single_points(plan, _online(out))]


def spof_warnings(out: Outcome) -> list[str]:
    """One warning per online workload and plan whose replicas share one host or one provider."""
    lines = []
    for p in out.plans:
        for s in single_points(p, _online(out)):
            what = (f"all {s.replicas} replica{'s' if s.replicas > 1 else ''} on one host ({s.name}): losing it "
                    "stops the service" if s.domain == "host" else
                    f"all {s.replicas} replicas rented from one provider ({s.name}): an outage there stops the service")
            lines.append(f"{s.workload} ({p.pricing} plan): {what}; no redundancy is planned (min_replicas and "
                         "the placement decide where replicas go)")
    return lines


def plan_warnings(out: Outcome) -> list[str]:
    """Every warning of the outcome's plans, in a fixed order: default factors, single points of failure,
    assumed spot interruption rates."""
    return factor_warnings(out.plans) + spof_warnings(out) + spot_warnings(out)
