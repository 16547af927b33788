"""Spot capacity as a risk: what share of a spot replica's time is lost to interruptions.

A spot instance is interrupted at a rate of lambda interruptions per instance-hour (the catalogue's
`interruptions_per_instance_month` / hours_per_month, `planner.catalog.spot`); after each, the
replica serves nothing for `lost_h` hours (the restart minutes / 60: a replacement instance,
boot and weights loaded). Up-times between interruptions average 1 / lambda hours, so one cycle is
1 / lambda + lost_h hours of which lost_h are down (a renewal process):

    interruptions_per_hour   lambda = interruptions_per_instance_month / hours_per_month   [1/h]
    lost_fraction            f = lambda lost_h / (1 + lambda lost_h)                        [share of time]
    spot_availability        a = 1 - f = 1 / (1 + lambda lost_h)

A spot replica's capacity counts at a in the fleet MILP (`optimize.spot_rows`). A batch job on spot
also redoes the requests in flight when it is interrupted: at most one request's end-to-end time
of work per replica, so its lost hours per interruption are restart_minutes / 60 + e2e_s / 3600
(`batch_lost_hours`), and its needed capacity grows by 1 / a (the restart allowance).

Worked example (AWS row, band >20 % taken as 0.25 a month, 10 min restart): lambda = 0.25 / 730 =
3.42e-4 /h, lambda lost_h = 5.71e-5, a = 0.99994. An assumed one interruption per instance-day
(30.4 a month), 10 min: lambda = 1/24, lambda lost_h = 1/144, a = 144 / 145 = 0.99310.
"""

from __future__ import annotations

SECONDS_PER_HOUR = 3600.0
MINUTES_PER_HOUR = 60.0


def interruptions_per_hour(interruptions_per_instance_month: float, hours_per_month: float) -> float:
    """lambda, interruptions per instance-hour: the monthly figure / hours per month (730)."""
    return interruptions_per_instance_month / hours_per_month


def lost_fraction(interruptions_per_h: float, lost_h: float) -> float:
    """Expected share of a spot replica's time lost: lambda lost_h / (1 + lambda lost_h)."""
    x = interruptions_per_h * lost_h
    return x / (1.0 + x)


def spot_availability(interruptions_per_h: float, lost_h: float) -> float:
    """Share of its time a spot replica serves: 1 / (1 + lambda lost_h)."""
    return 1.0 - lost_fraction(interruptions_per_h, lost_h)


def restart_hours(restart_minutes: float) -> float:
    """Hours a replica is down after an interruption: restart minutes / 60."""
    return restart_minutes / MINUTES_PER_HOUR


def batch_lost_hours(restart_minutes: float, e2e_s: float) -> float:
    """A batch replica's hours lost per interruption: the restart, and the requests in flight redone
    (at most one request's end-to-end time): restart_minutes / 60 + e2e_s / 3600."""
    return restart_hours(restart_minutes) + e2e_s / SECONDS_PER_HOUR


SPOT_SHARE_ONLINE = 0.5
"""Default `rent.spot_max_share` of an online workload: at most half its capacity on spot instances."""
SPOT_SHARE_BATCH = 1.0
"""Default `rent.spot_max_share` of a batch job: all of it (its restart allowance covers interruptions)."""


def spot_share(spot_max_share: float | None, batch: bool) -> float:
    """A workload's spot share cap: `rent.spot_max_share`, or the default (batch 1.0, online 0.5)."""
    if spot_max_share is not None:
        return spot_max_share
    return SPOT_SHARE_BATCH if batch else SPOT_SHARE_ONLINE
