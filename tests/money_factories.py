"""Plan cost summaries for the rent-or-buy tests: what `planner.money.compare` reads of a plan."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Cost:
    """A plan's cost summary, as `planner.money.compare` reads it."""

    pricing: str
    capex_usd: float
    monthly_usd: float
    horizon_months: int = 36


def rent(monthly: float, horizon: int = 36) -> Cost:
    return Cost("rent", 0.0, monthly, horizon)


def buy(capex: float, monthly: float, horizon: int = 36) -> Cost:
    return Cost("buy", capex, monthly, horizon)
