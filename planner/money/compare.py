"""Rent or buy: cumulative cost, break-even month, utilisation threshold, depreciation.

Pure functions of two plans' cost summaries (`capex_usd`, `monthly_usd`, `horizon_months`,
`pricing`), so they work on a `planner.plan.Plan` or on anything shaped like one. All money is
US dollars, all times whole months.

The cost model (the one the MILP optimises):

- a plan costs its capex once, at month 0 (a rent plan has none), then its monthly cost
  (rent, energy, colocation, maintenance) at the end of every month;
- cumulative cost after m months = capex + m x monthly.

`planner compare` renders a `Comparison`; the JSON contract of `planner solve` carries the same
figures for `objective: compare` (`planner.plan_report.outcome_record`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

EPS_MONTHS = 1e-9
"""Slack in the closed form's ceil, so a break-even that falls exactly on a month boundary is
not pushed a month later by floating-point noise."""


class PlanCost(Protocol):
    """What the functions here read from a plan (`planner.plan.Plan` has these)."""

    pricing: str
    """"rent" or "buy"."""
    capex_usd: float
    """One-off purchase cost, US dollars (0 for a rent plan)."""
    monthly_usd: float
    """Running cost, US dollars per month."""
    horizon_months: int
    """Months the bought hardware is used."""


def cumulative_costs(plan: PlanCost, months: int) -> list[float]:
    """Cumulative cost of a plan at the end of each month 0..`months`.

    Formula: cost(m) = capex + m x monthly for m = 0, 1, ..., months. The capex is paid at
    month 0, so a buy plan starts at its capex; a rent plan has capex 0 and is m x monthly.

    Args:
        plan: a plan (`capex_usd` in US$, `monthly_usd` in US$/month).
        months: last month, whole months >= 0.

    Returns:
        `months + 1` cumulative costs, US dollars; index m is the cost after m months.
    """
    if months < 0:
        raise ValueError(f"months must be >= 0 (got {months})")
    return [plan.capex_usd + m * plan.monthly_usd for m in range(months + 1)]


def break_even_month(rent: PlanCost, buy: PlanCost, horizon: int) -> int | None:
    """First whole month m >= 1 at which buying has cost no more than renting, within the horizon.

    The buy plan's cumulative cost is capex + m x buy_monthly, the rent plan's m x rent_monthly
    (see `cumulative_costs`). Buying catches up only when it is cheaper per month; then

        m* = max(1, ceil(capex / (rent_monthly - buy_monthly)))

    where capex is the buy plan's capex, US$ (less the rent plan's, which is 0), and the
    monthly costs are US$/month. Worked example: capex $24,000, buy $1,000/month, rent
    $3,000/month: m* = ceil(24,000 / 2,000) = 12 (at month 12 both have cost $36,000).

    Args:
        rent: the rent plan.
        buy: the buy plan.
        horizon: months the comparison covers (the workload's `horizon_months`).

    Returns:
        m* in months when 1 <= m* <= horizon; None when buying does not catch up within the
        horizon, and always when rent_monthly <= buy_monthly (buying never pays back; a tie
        throughout is not a break-even).
    """
    gap = rent.monthly_usd - buy.monthly_usd
    if gap <= 0:
        return None
    capex = buy.capex_usd - rent.capex_usd
    m = max(1, math.ceil(capex / gap - EPS_MONTHS))
    return m if m <= horizon else None


def rent_utilization_threshold(rent: PlanCost, buy: PlanCost, horizon: int) -> float:
    """Utilisation below which renting is cheaper than buying over the horizon.

    Model: the rented fleet is pay-per-use. At utilisation u (the share of each month it is
    actually rented, 0..1) renting costs u x rent_monthly per month, while the bought fleet
    costs its capex plus buy_monthly every month whatever its use (with hourly traffic profiles the
    rent plan's monthly cost is already scaled hour by hour; u applies on top). Over `horizon` months the
    two cost the same at

        u* = (capex + horizon x buy_monthly) / (horizon x rent_monthly)

    (capex US$, monthly costs US$/month, horizon months). Below u* renting is cheaper. u* is
    reported as is: above 1 it means renting wins even at full use. Worked example: capex
    $24,000, buy $1,000/month, rent $3,000/month, 36 months: u* = (24,000 + 36,000) /
    108,000 = 0.556.

    Args:
        rent: the rent plan.
        buy: the buy plan.
        horizon: months, >= 1.

    Returns:
        u*, a fraction (dimensionless); infinity when the rent plan costs nothing per month.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 month (got {horizon})")
    rent_total = horizon * rent.monthly_usd
    buy_total = buy.capex_usd - rent.capex_usd + horizon * buy.monthly_usd
    if rent_total <= 0:
        return math.inf
    return buy_total / rent_total


def depreciation_usd_per_month(plan: PlanCost) -> float:
    """Straight-line depreciation of the plan's capex over its horizon, US$/month.

    Formula: capex / horizon_months, with no salvage (resale) value at the end of the horizon.
    A rent plan has capex 0 and so no depreciation.
    """
    return plan.capex_usd / plan.horizon_months


@dataclass(frozen=True)
class Comparison:
    """A rent plan and a buy plan compared over `horizon_months`."""

    rent: PlanCost
    buy: PlanCost
    horizon_months: int
    cumulative_rent_usd: list[float]
    """`cumulative_costs(rent, horizon_months)`, US$, months 0..horizon."""
    cumulative_buy_usd: list[float]
    """`cumulative_costs(buy, horizon_months)`, US$, months 0..horizon."""
    break_even_month: int | None
    """`break_even_month(rent, buy, horizon_months)`: months, or None when never within it."""
    rent_utilization_threshold: float
    """`rent_utilization_threshold(rent, buy, horizon_months)`: fraction, may exceed 1."""
    buy_depreciation_usd_per_month: float
    """`depreciation_usd_per_month(buy)`, US$/month."""

    @property
    def cheaper(self) -> str:
        """"buy" or "rent": the plan with the lower cost at the end of the horizon (rent on a tie)."""
        return "buy" if self.cumulative_buy_usd[-1] < self.cumulative_rent_usd[-1] else "rent"


def compare(rent: PlanCost, buy: PlanCost, horizon: int | None = None) -> Comparison:
    """Compare a rent plan with a buy plan over `horizon` months (default: the buy plan's)."""
    if rent.pricing != "rent" or buy.pricing != "buy":
        raise ValueError(f"compare(rent, buy) got pricings {rent.pricing!r} and {buy.pricing!r}")
    n = buy.horizon_months if horizon is None else horizon
    return Comparison(
        rent=rent, buy=buy, horizon_months=n,
        cumulative_rent_usd=cumulative_costs(rent, n), cumulative_buy_usd=cumulative_costs(buy, n),
        break_even_month=break_even_month(rent, buy, n),
        rent_utilization_threshold=rent_utilization_threshold(rent, buy, n),
        buy_depreciation_usd_per_month=depreciation_usd_per_month(buy),
    )


def hybrid_savings(plans: Sequence[PlanCost]) -> dict[str, float] | None:
    """What the hybrid plan saves over the horizon against all-rent and all-buy, USD (negative:
    it costs more); None without a hybrid plan."""
    by = {p.pricing: p for p in plans}
    if "hybrid" not in by:
        return None
    h = by["hybrid"].total_usd
    return {k: by[k].total_usd - h for k in ("rent", "buy") if k in by}


def compare_plans(plans: Sequence[PlanCost]) -> Comparison | None:
    """The comparison of the first rent and the first buy plan in `plans` (as `objective: compare`
    solves them, `Outcome.plans`), or None when either is missing."""
    rent = next((p for p in plans if p.pricing == "rent"), None)
    buy = next((p for p in plans if p.pricing == "buy"), None)
    if rent is None or buy is None:
        return None
    return compare(rent, buy)
