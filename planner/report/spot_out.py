"""Spot plans in the reports: the deployment table's rental column, the interruption rates a plan
used (with their sources), and a warning where a rate is a planner assumption."""

from __future__ import annotations

from planner.optimize.plan import Outcome, Plan

RENTAL_COLUMN = ("rental", "rental")
"""The deployment table's column in a spot plan: spot, on-demand, or how many of each."""


def with_rental(table: tuple, plan: Plan) -> tuple:
    """The deployment table's columns, with the rental column after replicas in a spot plan."""
    if not any(d.spot_replicas is not None for d in plan.deployments):
        return table
    at = [k for k, _ in table].index("replicas") + 1
    return table[:at] + (RENTAL_COLUMN,) + table[at:]


def spot_hosts(plan: Plan) -> list:
    """The plan's spot host types in use (instances of the plan and of its batch runs)."""
    return plan.spot_hosts


def spot_records(plan: Plan) -> list[dict]:
    """JSON `spot` of a plan: one record per spot host type in use, with the interruption rate,
    the availability it gives a replica, and the rate's source."""
    return [{"host": h.id, "provider": h.spot.provider, "gpu": h.spot.gpu or None,
             "interruptions_per_instance_month": h.spot.interruptions_per_instance_month,
             "restart_minutes": h.spot.restart_minutes, "availability": h.availability, "basis": h.spot.basis,
             "source": h.spot.source, "as_of": h.spot.as_of}
            for h in spot_hosts(plan) if h.spot is not None]


def spot_lines(plan: Plan) -> list[str]:
    """One line per spot rate a plan used: `spot rate aws: ... (source); a replica serves 99.99 % of the time`."""
    seen, out = set(), []
    for h in spot_hosts(plan):
        if h.spot is None or h.spot in seen:
            continue
        seen.add(h.spot)
        out.append(f"spot rate {h.spot.text()}: a spot replica serves {h.availability:.4%} of the time "
                   f"(source: {h.spot.source}; as of {h.spot.as_of})")
    return out


def spot_warnings(out: Outcome) -> list[str]:
    """One warning per plan and assumed spot rate it rests on."""
    lines = []
    for p in out.plans:
        seen = set()
        for h in spot_hosts(p):
            if h.spot is not None and h.spot.assumed and h.spot not in seen:
                seen.add(h.spot)
                lines.append(f"{p.pricing} plan: the spot interruption rate of {h.spot.provider} is a planner "
                             f"assumption ({h.spot.interruptions_per_instance_month:g} interruptions per "
                             f"instance-month, {h.spot.restart_minutes:g} min restart), not a published figure; "
                             "check it against the provider's own history before relying on spot capacity")
    return lines
