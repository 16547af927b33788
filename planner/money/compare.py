"""Rent or buy: cumulative cost, break-even month, utilisation threshold, depreciation.

Pure functions of two plans' cost summaries (`capex_usd`, `monthly_usd`, `horizon_months`,
`pricing`), so they work on a `planner.plan.Plan` or on anything shaped like one. All money is
US dollars, all times whole months.

The cost model (the one the MILP optimises):

- a plan costs its capex once, at month 0 (a rent plan has none), then its monthly cost
  (rent, energy, colocation, maintenance) at the end of every month;
- cumulative cost after m months = capex + m x monthly.

Money over time (`Discounting`, from `costs.discount_rate_per_year` and `costs.resale_fraction`):

- monthly discount rate r = (1 + r_year)^(1/12) - 1, discount factor v = 1 / (1 + r);
- capex at month 0, not discounted; each monthly cost at the END of its month, so month k's
  payment is worth monthly x v^k today;
- resale: `resale_fraction` x capex received at the end of the horizon month H, worth
  resale_fraction x capex x v^H today, and counted only from month H on (none before);
- present value after m months PV(m) = capex + monthly x a(m) - [m = H] x resale_fraction x capex
  x v^H, with a(m) = sum_{k=1..m} v^k = (1 - v^m) / r (a(m) = m when r = 0);
- the net present value (NPV) of a plan's cost over the horizon is PV(H).

With rate 0 and resale 0 every figure is the undiscounted one above, computed the same way.

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


@dataclass(frozen=True)
class Discounting:
    """How money over time is valued (module docstring): a yearly discount rate and the share of
    capex recovered by selling the hardware at the end of the horizon."""

    rate_per_year: float = 0.0
    """Discount rate, fraction per year (0.1 = 10 %/year), >= 0."""
    resale_fraction: float = 0.0
    """Share of capex recovered at the end of the horizon, fraction in [0, 1]."""

    def __post_init__(self) -> None:
        if not (self.rate_per_year >= 0 and math.isfinite(self.rate_per_year)):
            raise ValueError(f"rate_per_year must be a finite number >= 0 (got {self.rate_per_year})")
        if not 0 <= self.resale_fraction <= 1:
            raise ValueError(f"resale_fraction must be in [0, 1] (got {self.resale_fraction})")

    @property
    def active(self) -> bool:
        """Whether anything differs from the undiscounted model (a rate or a resale share)."""
        return self.rate_per_year > 0 or self.resale_fraction > 0

    @property
    def rate_per_month(self) -> float:
        """r = (1 + r_year)^(1/12) - 1, fraction per month (12 compounded months give r_year)."""
        return (1.0 + self.rate_per_year) ** (1.0 / 12.0) - 1.0

    def factor(self, month: int) -> float:
        """v^m = (1 + r)^-m: what one dollar paid at the end of month m is worth at month 0."""
        return (1.0 + self.rate_per_month) ** -month

    def annuity(self, months: int) -> float:
        """a(m) = sum_{k=1..m} v^k = (1 - v^m) / r: the present value of 1 US$ paid at the end of
        each of `months` months, in months (exactly `months` when the rate is 0)."""
        r = self.rate_per_month
        if r == 0:
            return float(months)
        return (1.0 - self.factor(months)) / r


UNDISCOUNTED = Discounting()
"""Rate 0, no resale: the plain cumulative-cost model."""


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


def cumulative_costs(plan: PlanCost, months: int, money: Discounting = UNDISCOUNTED) -> list[float]:
    """Cumulative cost of a plan at the end of each month 0..`months`, at present value when
    `money` discounts.

    Formula: cost(m) = capex + m x monthly for m = 0, 1, ..., months. The capex is paid at
    month 0, so a buy plan starts at its capex; a rent plan has capex 0 and is m x monthly.
    Discounted: PV(m) = capex + monthly x a(m), less the resale (resale_fraction x capex x v^H)
    at the last month m = `months` = H, the horizon (see the module docstring).

    Args:
        plan: a plan (`capex_usd` in US$, `monthly_usd` in US$/month).
        months: last month (the horizon when resale counts), whole months >= 0.
        money: the discount rate and resale share; default none.

    Returns:
        `months + 1` cumulative costs, US dollars; index m is the cost after m months.
    """
    if months < 0:
        raise ValueError(f"months must be >= 0 (got {months})")
    if money.rate_per_year == 0:
        out = [plan.capex_usd + m * plan.monthly_usd for m in range(months + 1)]
    else:
        out = [plan.capex_usd + plan.monthly_usd * money.annuity(m) for m in range(months + 1)]
    if money.resale_fraction > 0:
        out[-1] -= resale_present_usd(plan, months, money)
    return out


def resale_usd(plan: PlanCost, money: Discounting) -> float:
    """What selling the plan's hardware at the end of the horizon brings: resale_fraction x capex, US$."""
    return money.resale_fraction * plan.capex_usd


def resale_present_usd(plan: PlanCost, horizon: int, money: Discounting) -> float:
    """`resale_usd` received at the end of month `horizon`, at present value: x v^H, US$."""
    return resale_usd(plan, money) * money.factor(horizon)


def npv_usd(plan: PlanCost, horizon: int, money: Discounting = UNDISCOUNTED) -> float:
    """Net present value of the plan's cost over `horizon` months, US$:
    capex + monthly x a(H) - resale_fraction x capex x v^H (the last `cumulative_costs` value;
    capex + H x monthly with rate 0 and no resale)."""
    return cumulative_costs(plan, horizon, money)[-1]


def break_even_month(rent: PlanCost, buy: PlanCost, horizon: int, money: Discounting = UNDISCOUNTED) -> int | None:
    """First whole month m >= 1 at which buying has cost no more than renting, within the horizon.

    The buy plan's cumulative cost is capex + m x buy_monthly, the rent plan's m x rent_monthly
    (see `cumulative_costs`). Buying catches up only when it is cheaper per month; then

        m* = max(1, ceil(capex / (rent_monthly - buy_monthly)))

    where capex is the buy plan's capex, US$ (less the rent plan's, which is 0), and the
    monthly costs are US$/month. Worked example: capex $24,000, buy $1,000/month, rent
    $3,000/month: m* = ceil(24,000 / 2,000) = 12 (at month 12 both have cost $36,000).

    Discounted (`money`, present values as in `cumulative_costs`): buying has caught up at month
    m when capex <= gap x a(m), i.e. v^m <= 1 - r x capex / gap, so

        m* = max(1, ceil(-ln(1 - r x capex / gap) / ln(1 + r)))

    with r the monthly rate; never when r x capex >= gap (the savings, however long, are worth
    less than the capex today). When that m* is past the horizon, the resale still counts at the
    horizon month H: m* = H when PV_buy(H) <= PV_rent(H) there.

    Args:
        rent: the rent plan.
        buy: the buy plan.
        horizon: months the comparison covers (the workload's `horizon_months`).
        money: the discount rate and resale share; default none.

    Returns:
        m* in months when 1 <= m* <= horizon; None when buying does not catch up within the
        horizon, and always when rent_monthly <= buy_monthly (buying never pays back; a tie
        throughout is not a break-even, and a resale recovers at most the capex).
    """
    gap = rent.monthly_usd - buy.monthly_usd
    if gap <= 0:
        return None
    months = payback_months(rent, buy, money)
    if math.isfinite(months):
        m = max(1, math.ceil(months - EPS_MONTHS))
        if m <= horizon:
            return m
    if money.resale_fraction > 0 and npv_usd(buy, horizon, money) <= npv_usd(rent, horizon, money):
        return horizon
    return None


def payback_months(rent: PlanCost, buy: PlanCost, money: Discounting = UNDISCOUNTED) -> float:
    """Months (fractional) for buying's monthly savings to repay its extra capex, before rounding
    up and without the resale: capex / gap, or -ln(1 - r x capex / gap) / ln(1 + r) discounted
    (see `break_even_month`); infinity when buying saves nothing per month or, discounted, when
    r x capex >= gap."""
    gap = rent.monthly_usd - buy.monthly_usd
    if gap <= 0:
        return math.inf
    capex = buy.capex_usd - rent.capex_usd
    r = money.rate_per_month
    if r == 0:
        return capex / gap
    left = 1.0 - r * capex / gap
    return -math.log(left) / math.log1p(r) if left > 0 else math.inf


def rent_utilization_threshold(rent: PlanCost, buy: PlanCost, horizon: int,
                               money: Discounting = UNDISCOUNTED) -> float:
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

    Discounted (`money`): every month's payment at present value and the resale deducted,

        u* = (capex x (1 - resale_fraction x v^H) + a(H) x buy_monthly) / (a(H) x rent_monthly)

    i.e. NPV(buy) over the present value of renting all month throughout the horizon.

    Args:
        rent: the rent plan.
        buy: the buy plan.
        horizon: months, >= 1.
        money: the discount rate and resale share; default none.

    Returns:
        u*, a fraction (dimensionless); infinity when the rent plan costs nothing per month.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 month (got {horizon})")
    months = money.annuity(horizon) if money.rate_per_year > 0 else horizon
    kept = 1.0 - money.resale_fraction * money.factor(horizon) if money.resale_fraction > 0 else 1.0
    rent_total = months * rent.monthly_usd
    buy_total = (buy.capex_usd - rent.capex_usd) * kept + months * buy.monthly_usd
    if rent_total <= 0:
        return math.inf
    return buy_total / rent_total


def depreciation_usd_per_month(plan: PlanCost, resale_fraction: float = 0.0) -> float:
    """Straight-line depreciation of the plan's capex over its horizon, US$/month.

    Formula: (capex - salvage) / horizon_months, the salvage value being resale_fraction x capex
    (default 0: no salvage value). A rent plan has capex 0 and so no depreciation.
    """
    if resale_fraction == 0:
        return plan.capex_usd / plan.horizon_months
    return plan.capex_usd * (1.0 - resale_fraction) / plan.horizon_months


@dataclass(frozen=True)
class Comparison:
    """A rent plan and a buy plan compared over `horizon_months`."""

    rent: PlanCost
    buy: PlanCost
    horizon_months: int
    cumulative_rent_usd: list[float]
    """`cumulative_costs(rent, horizon_months, money)`, US$, months 0..horizon (present values
    when `money` discounts)."""
    cumulative_buy_usd: list[float]
    """`cumulative_costs(buy, horizon_months, money)`, US$, months 0..horizon."""
    break_even_month: int | None
    """`break_even_month(rent, buy, horizon_months, money)`: months, or None when never within it."""
    rent_utilization_threshold: float
    """`rent_utilization_threshold(rent, buy, horizon_months, money)`: fraction, may exceed 1."""
    buy_depreciation_usd_per_month: float
    """`depreciation_usd_per_month(buy, money.resale_fraction)`, US$/month."""
    money: Discounting = UNDISCOUNTED
    """The discount rate and resale share the figures use."""

    @property
    def npv_rent_usd(self) -> float:
        """NPV of the rent plan over the horizon, US$ (its undiscounted total without discounting)."""
        return self.cumulative_rent_usd[-1]

    @property
    def npv_buy_usd(self) -> float:
        """NPV of the buy plan over the horizon, resale deducted, US$."""
        return self.cumulative_buy_usd[-1]

    @property
    def cheaper(self) -> str:
        """"buy" or "rent": the plan with the lower cost at the end of the horizon (rent on a tie)."""
        return "buy" if self.cumulative_buy_usd[-1] < self.cumulative_rent_usd[-1] else "rent"


def compare(rent: PlanCost, buy: PlanCost, horizon: int | None = None,
            money: Discounting = UNDISCOUNTED) -> Comparison:
    """Compare a rent plan with a buy plan over `horizon` months (default: the buy plan's),
    valuing money over time as `money` says (default: undiscounted, no resale)."""
    if rent.pricing != "rent" or buy.pricing != "buy":
        raise ValueError(f"compare(rent, buy) got pricings {rent.pricing!r} and {buy.pricing!r}")
    n = buy.horizon_months if horizon is None else horizon
    return Comparison(
        rent=rent, buy=buy, horizon_months=n,
        cumulative_rent_usd=cumulative_costs(rent, n, money), cumulative_buy_usd=cumulative_costs(buy, n, money),
        break_even_month=break_even_month(rent, buy, n, money),
        rent_utilization_threshold=rent_utilization_threshold(rent, buy, n, money),
        buy_depreciation_usd_per_month=depreciation_usd_per_month(buy, money.resale_fraction),
        money=money,
    )


def hybrid_savings(plans: Sequence[PlanCost]) -> dict[str, float] | None:
    """What the hybrid plan saves over the horizon against all-rent and all-buy, USD (negative:
    it costs more); None without a hybrid plan."""
    by = {p.pricing: p for p in plans}
    if "hybrid" not in by:
        return None
    h = by["hybrid"].total_usd
    return {k: by[k].total_usd - h for k in ("rent", "buy") if k in by}


def compare_plans(plans: Sequence[PlanCost], money: Discounting = UNDISCOUNTED) -> Comparison | None:
    """The comparison of the first rent and the first buy plan in `plans` (as `objective: compare`
    solves them, `Outcome.plans`), or None when either is missing."""
    rent = next((p for p in plans if p.pricing == "rent"), None)
    buy = next((p for p in plans if p.pricing == "buy"), None)
    if rent is None or buy is None:
        return None
    return compare(rent, buy, money=money)
