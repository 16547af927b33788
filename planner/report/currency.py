"""The plan's currency (`currency:` in the workload file): US dollar figures converted when rendering.

Every computation stays in US dollars; a renderer converts an amount only as it prints it, at the
catalogue's dated rate (`catalog/exchange_rates.csv`, `units_per_usd`): amount = usd x rate. The
rate is stated with its source and date, and it goes stale like a price (a warning past
`planner.report.records.STALE_AFTER_DAYS`, which the renderers pass in). With `currency: USD` (the default) every figure prints
exactly as before: `$18,399`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planner.errors import CatalogError, Problem
from planner.optimize.plan import Outcome

SYMBOLS = {"USD": "$", "EUR": "€", "CNY": "CN¥"}
"""What a figure is prefixed with (CLDR's English symbols; CN¥, since ¥ alone is also the yen)."""


@dataclass(frozen=True)
class Currency:
    """A currency to print money in and its rate per US dollar."""

    code: str
    """ISO 4217 code: USD, CNY or EUR."""
    rate_per_usd: float
    """Units of `code` per US dollar (1 for USD)."""
    source: str = ""
    as_of: str | None = None
    """ISO date of the rate (None for USD)."""

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.code, self.code + " ")

    @property
    def is_usd(self) -> bool:
        return self.code == "USD"

    def amount(self, usd: float) -> float:
        """`usd` US dollars in this currency: usd x rate_per_usd."""
        return usd if self.is_usd else usd * self.rate_per_usd

    def whole(self, usd: float) -> str:
        """Whole units with thousands separators, as `planner.text.usd` prints dollars: "CN¥128,534"."""
        return f"{self.symbol}{self.amount(usd):,.0f}"

    def signed(self, usd: float) -> str:
        """As `planner.report.format.signed_usd`: "-€1,000" for a negative amount, no "-0"."""
        v = self.amount(usd)
        return f"-{self.symbol}{-v:,.0f}" if v < -0.5 else f"{self.symbol}{abs(v):,.0f}"

    def words(self) -> str:
        """"US dollars", or the code ("CNY") for the others, for captions and axis labels."""
        return "US dollars" if self.is_usd else self.code

    def caption(self, text: str) -> str:
        """A caption with its `$` signs as the symbol."""
        return text if self.is_usd else text.replace("$", self.symbol)

    def headers(self, columns: Sequence[tuple[str, str]], keys: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """Table columns with the `$` of the money columns' headers (`keys`) replaced by the symbol."""
        keys = set(keys)
        return tuple((k, h.replace("$", self.symbol) if k in keys and not self.is_usd else h) for k, h in columns)

    def rows(self, rows: Iterable[dict], keys: Iterable[str]) -> list[dict]:
        """Records with the numbers under `keys` (US$) converted."""
        keys = tuple(keys)
        return [{**r, **{k: self.amount(r[k]) for k in keys if isinstance(r.get(k), (int, float))
                         and not isinstance(r.get(k), bool)}} for r in rows]


USD = Currency("USD", 1.0)


def plan_currency(out: Outcome) -> Currency:
    """The currency the workload file asks for, with its catalogue rate (USD: no rate needed).

    Raises:
        CatalogError: the price catalogue (a `--catalog` file included) has no rate for it.
    """
    code = out.resolved.spec.currency
    if code == "USD":
        return USD
    rate = out.book.rates.get(code)
    if rate is None:
        raise CatalogError(Problem(f"no exchange rate for {code!r}", file="catalog/exchange_rates.csv",
                                   key="currency", expected="a row for " + code))
    return Currency(code, rate.units_per_usd, rate.source, rate.as_of)


def rate_staleness(cur: Currency, today: dt.date, stale_after_days: int) -> str | None:
    """A warning when the rate is older than `stale_after_days` (the prices' threshold,
    `planner.report.records.STALE_AFTER_DAYS`), else None."""
    if cur.is_usd or not cur.as_of:
        return None
    age = (today - dt.date.fromisoformat(cur.as_of)).days
    if age <= stale_after_days:
        return None
    return (f"the {cur.code} exchange rate is from {cur.as_of}, {age // 30} months before {today.isoformat()}: "
            "rates move; check it before you quote these figures")


def currency_record(cur: Currency, today: dt.date, stale_after_days: int) -> dict:
    """The JSON `currency` block: code, rate_per_usd, source, as_of and a staleness warning (or null)."""
    return {"code": cur.code, "rate_per_usd": cur.rate_per_usd, "source": cur.source, "as_of": cur.as_of,
            "warning": rate_staleness(cur, today, stale_after_days),
            "rule": f"amount in {cur.code} = amount in USD x rate_per_usd; the _usd fields stay in US dollars"}


def currency_line(cur: Currency) -> str | None:
    """"money in CNY at 6.9858 CNY per USD (as of 2026-01-27; source)", or None for USD."""
    if cur.is_usd:
        return None
    return (f"money in {cur.code} ({cur.symbol}) at {cur.rate_per_usd:g} {cur.code} per USD, as of {cur.as_of}; "
            f"computed in US dollars, converted for printing; rate: {cur.source}")


def add_currency(record: dict, cur: Currency, today: dt.date, stale_after_days: int) -> dict:
    """Extend a solve JSON record in place (only when the currency is not USD): top-level `currency`,
    each plan's `cost.in_currency` (capex, monthly, total, depreciation_per_month in that
    currency) and, with a comparison, `cumulative_in_currency` and `npv_in_currency`. Only adds keys."""
    if cur.is_usd:
        return record
    record["currency"] = currency_record(cur, today, stale_after_days)
    for plan in record["plans"]:
        c = plan["cost"]
        plan["cost"]["in_currency"] = {
            "code": cur.code, "capex": cur.amount(c["capex_usd"]), "monthly": cur.amount(c["monthly_usd"]),
            "total": cur.amount(c["total_usd"]), "depreciation_per_month": cur.amount(c["depreciation_usd_per_month"]),
        }
    if "cumulative_usd" in record:
        record["cumulative_in_currency"] = {k: [cur.amount(v) for v in vals] for k, vals in record["cumulative_usd"].items()}
    if "npv_usd" in record:
        record["npv_in_currency"] = {k: cur.amount(v) for k, v in record["npv_usd"].items()}
    return record
