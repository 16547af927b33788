"""A rent-or-buy comparison (`planner compare`, `objective: compare`) as text rows and JSON keys,
shared by the terminal, Markdown and JSON renderers.
"""
from __future__ import annotations

import math

from planner.money.compare import (
    Comparison,
    Discounting,
    depreciation_usd_per_month,
    payback_months,
    resale_present_usd,
    resale_usd,
)
from planner.optimize.plan import Plan
from planner.report.currency import USD, Currency

EVERY_MONTH_UP_TO = 60
"""Horizons up to this many months list every month in the cumulative table; longer ones every 3rd."""


def add_comparison(record: dict, cmp: Comparison) -> dict:
    """Extend a solve JSON record (`planner.report.records.outcome_record`) in place with the
    comparison: each buy plan's `cost.depreciation_usd_per_month`, and top-level
    `break_even_month` (null when never within the horizon), `rent_utilization_threshold` and
    `cumulative_usd: {"rent": [...], "buy": [...]}` (US$, months 0..horizon). With a discount rate
    or a resale share (`cmp.money.active`) these are present values, and `npv_usd: {"rent", "buy"}`
    and `discounting` (the rate, the resale, the convention) are added. Only adds keys."""
    for plan in record["plans"]:
        if plan["pricing"] == "buy":
            plan["cost"]["depreciation_usd_per_month"] = cmp.buy_depreciation_usd_per_month
    record["break_even_month"] = cmp.break_even_month
    record["rent_utilization_threshold"] = cmp.rent_utilization_threshold
    record["cumulative_usd"] = {"rent": list(cmp.cumulative_rent_usd), "buy": list(cmp.cumulative_buy_usd)}
    m = cmp.money
    if m.active:
        n = cmp.horizon_months
        record["npv_usd"] = {"rent": cmp.npv_rent_usd, "buy": cmp.npv_buy_usd}
        record["discounting"] = {
            "rate_per_year": m.rate_per_year, "annuity_months": m.annuity(n), "factor_at_horizon": m.factor(n),
            "resale_fraction": m.resale_fraction, "resale_usd": resale_usd(cmp.buy, m),
            "resale_present_usd": resale_present_usd(cmp.buy, n, m),
            "convention": CONVENTION,
        }
    return record


CONVENTION = ("monthly rate r = (1 + rate_per_year)^(1/12) - 1; capex at month 0, monthly costs at the end of each "
              "month, resale at the end of the horizon month H; annuity_months = sum of (1 + r)^-k for k = 1..H, "
              "factor_at_horizon = (1 + r)^-H; cumulative_usd, break_even_month, rent_utilization_threshold and "
              "npv_usd are present values")
"""The discounting convention in one sentence (JSON `discounting.convention`)."""


def money_words(m: Discounting, horizon: int) -> str:
    """"present value at 10 %/year, resale 20 % of capex at month 36" ("" when undiscounted)."""
    parts = []
    if m.rate_per_year > 0:
        parts.append(f"present value at {100 * m.rate_per_year:g} %/year")
    if m.resale_fraction > 0:
        parts.append(f"resale {100 * m.resale_fraction:g} % of capex at month {horizon}")
    return ", ".join(parts)


def cumulative_title(cmp: Comparison) -> str:
    """"Cumulative cost", with the discounting when there is any."""
    words = money_words(cmp.money, cmp.horizon_months)
    return "Cumulative cost" + (f" ({words})" if words else "")


def cumulative_caption(cmp: Comparison, months: str = "m") -> str:
    """How the cumulative table is computed, in one line (`months`: the word for the month count)."""
    m, n = cmp.money, cmp.horizon_months
    text = f"capex at month 0 + {months} x monthly"
    if m.rate_per_year > 0:
        text = (f"capex at month 0 + monthly paid at the end of each month, discounted at "
                f"{100 * m.rate_per_month:.4f} %/month = (1 + {m.rate_per_year:g})^(1/12) - 1")
    if m.resale_fraction > 0:
        text += f"; month {n} less the resale ({100 * m.resale_fraction:g} % of capex" + (
            ", discounted)" if m.rate_per_year > 0 else ")")
    return text


def depreciation_caption(cmp: Comparison) -> str:
    """The Plans table's caption: how depreciation (and, with discounting, the NPV) is computed."""
    f = cmp.money.resale_fraction
    if f == 0:
        text = "depreciation: straight line, capex / horizon, no salvage value"
    else:
        text = f"depreciation: straight line, (capex - {100 * f:g} % resale) / horizon"
    if cmp.money.active:
        text += f"; NPV: {money_words(cmp.money, cmp.horizon_months)}"
    return text


def gpu_mix(plan: Plan) -> str:
    """GPUs the plan's replicas use, by type: "2x h100-sxm-80gb, 1x l4-24gb" (replicas x TP)."""
    counts: dict[str, int] = {}
    for d in plan.deployments:
        counts[d.candidate.gpu] = counts.get(d.candidate.gpu, 0) + d.replicas * d.candidate.tp
    return ", ".join(f"{n}x {g}" for g, n in sorted(counts.items()))


def _deployments(plan: Plan) -> str:
    return "\n".join(f"{d.candidate.workload}: {d.replicas}x {d.candidate.gpu} {d.candidate.precision} TP{d.candidate.tp}"
                     for d in plan.deployments)


def _solver_status(plan: Plan, timings: bool) -> str:
    s = plan.solution
    text = s.status if s.status == "optimal" or s.gap is None else f"{s.status} (gap {s.gap:.2%})"
    return f"{s.solver} {text}" + (f" in {s.seconds:.2f} s" if timings else "")


def side_by_side_rows(cmp: Comparison, timings: bool = False, cur: Currency = USD) -> list[tuple[str, str, str]]:
    """(what, rent, buy) rows of the two plans; solver seconds only with `timings`; money in `cur`.
    With discounting, also each plan's NPV (and the resale); the total stays undiscounted."""
    r, b, n, m = cmp.rent, cmp.buy, cmp.horizon_months, cmp.money
    rows = [
        ("GPUs", gpu_mix(r), gpu_mix(b)),
        ("deployments", _deployments(r), _deployments(b)),
        ("capex", cur.signed(r.capex_usd), cur.signed(b.capex_usd)),
        ("monthly", cur.signed(r.monthly_usd), cur.signed(b.monthly_usd)),
        (f"total over {n} months", cur.signed(r.capex_usd + n * r.monthly_usd), cur.signed(b.capex_usd + n * b.monthly_usd)),
    ]
    if m.resale_fraction > 0:
        rows.append((f"resale at month {n}", cur.signed(resale_usd(r, m)), cur.signed(resale_usd(b, m))))
    if m.active:
        rows.append((f"NPV over {n} months", cur.signed(cmp.npv_rent_usd), cur.signed(cmp.npv_buy_usd)))
    rows += [
        ("depreciation per month", cur.signed(depreciation_usd_per_month(r, m.resale_fraction)),
         cur.signed(cmp.buy_depreciation_usd_per_month)),
        ("facility power", f"{r.power_kw:.2f} kW", f"{b.power_kw:.2f} kW"),
        ("solver", _solver_status(r, timings), _solver_status(b, timings)),
    ]
    return rows


def depreciation_words(plan: Plan, cmp: Comparison | None, cur: Currency = USD) -> str:
    """"; straight-line depreciation $511/month (no salvage value)" for a plan with capex ("" without);
    the buy plan of a comparison with a resale share depreciates to its salvage value."""
    if plan.capex_usd <= 0:
        return ""
    f = cmp.money.resale_fraction if cmp is not None and plan is cmp.buy else 0.0
    salvage = "no salvage value" if f == 0 else f"salvage value {100 * f:g} % of capex"
    return f"; straight-line depreciation {cur.whole(depreciation_usd_per_month(plan, f))}/month ({salvage})"


def table_months(cmp: Comparison) -> list[int]:
    """Months the cumulative table lists: every month up to a 60-month horizon, else every 3rd
    (with the break-even month and the last month always in)."""
    n = cmp.horizon_months
    if n <= EVERY_MONTH_UP_TO:
        return list(range(n + 1))
    months = set(range(0, n + 1, 3)) | {n}
    if cmp.break_even_month is not None:
        months.add(cmp.break_even_month)
    return sorted(months)


def cumulative_rows(cmp: Comparison, cur: Currency = USD) -> list[tuple[str, str, str, str, str]]:
    """(month, rent, buy, buy - rent, cheaper so far) for `table_months` (present values when discounted)."""
    rows = []
    for m in table_months(cmp):
        rent, buy = cmp.cumulative_rent_usd[m], cmp.cumulative_buy_usd[m]
        cheaper = "buy" if buy < rent else "rent" if rent < buy else "tie"
        if m == cmp.break_even_month:
            cheaper += " (break-even)"
        rows.append((str(m), cur.signed(rent), cur.signed(buy), cur.signed(buy - rent), cheaper))
    return rows


def break_even_text(cmp: Comparison, cur: Currency = USD) -> str:
    n, m, money = cmp.horizon_months, cmp.break_even_month, cmp.money
    gap = cmp.rent.monthly_usd - cmp.buy.monthly_usd
    capex = cmp.buy.capex_usd - cmp.rent.capex_usd
    if money.active:
        return _discounted_break_even_text(cmp, cur)
    if m is not None:
        return (f"break-even: month {m} (capex {cur.signed(cmp.buy.capex_usd)} / {cur.signed(gap)} per month saved by "
                f"buying = {capex / gap:.2f} months, rounded up)")
    if gap <= 0:
        why = (f"renting costs {cur.signed(cmp.rent.monthly_usd)} per month, buying {cur.signed(cmp.buy.monthly_usd)}: "
               "buying never pays back")
    else:
        why = (f"buying saves {cur.signed(gap)} per month; paying back {cur.signed(cmp.buy.capex_usd)} capex takes "
               f"{capex / gap:.1f} months")
    return f"break-even: never within the {n}-month horizon ({why})"


def _discounted_break_even_text(cmp: Comparison, cur: Currency) -> str:
    n, m, money = cmp.horizon_months, cmp.break_even_month, cmp.money
    gap = cmp.rent.monthly_usd - cmp.buy.monthly_usd
    capex = cmp.buy.capex_usd - cmp.rent.capex_usd
    words = money_words(money, n)
    months = payback_months(cmp.rent, cmp.buy, money)
    if m is not None:
        how = (f"the resale at month {n} tips it" if not months <= n else
               f"capex {cur.signed(capex)} repaid by {cur.signed(gap)} per month saved in {months:.2f} months"
               + (" at present value" if money.rate_per_year > 0 else "") + ", rounded up")
        return f"break-even ({words}): month {m} ({how})"
    if gap <= 0:
        why = (f"renting costs {cur.signed(cmp.rent.monthly_usd)} per month, buying {cur.signed(cmp.buy.monthly_usd)}: "
               "buying never pays back")
    elif not math.isfinite(months):
        why = (f"buying saves {cur.signed(gap)} per month, but at present value no number of months of it repays "
               f"{cur.signed(capex)} capex")
    else:
        why = f"buying saves {cur.signed(gap)} per month; repaying {cur.signed(capex)} capex takes {months:.1f} months"
    return f"break-even ({words}): never within the {n}-month horizon ({why})"


def threshold_text(cmp: Comparison, cur: Currency = USD) -> list[str]:
    """Two lines: u* with its formula filled in, and what it means."""
    u, n, money = cmp.rent_utilization_threshold, cmp.horizon_months, cmp.money
    if u == float("inf"):
        return ["rent utilisation threshold: none (the rent plan costs nothing per month)"]
    capex = cmp.buy.capex_usd - cmp.rent.capex_usd
    if money.active:
        a = money.annuity(n)
        formula = (f"rent utilisation threshold: {u:.3f} = NPV buy {cur.signed(cmp.npv_buy_usd - cmp.rent.capex_usd)} / "
                   f"({a:.2f} x {cur.signed(cmp.rent.monthly_usd)} rent monthly), {money_words(money, n)}")
        if money.rate_per_year > 0:
            formula += f"; {a:.2f} = the present value of 1 paid at the end of each of {n} months"
    else:
        formula = (f"rent utilisation threshold: {u:.3f} = (capex {cur.signed(capex)} + {n} x "
                   f"{cur.signed(cmp.buy.monthly_usd)} buy monthly) / ({n} x {cur.signed(cmp.rent.monthly_usd)} rent monthly)")
    if u > 1:
        meaning = "above 1: renting pay-per-use is cheaper even when the rented fleet runs all month"
    else:
        meaning = (f"renting pay-per-use is cheaper when the rented fleet is used less than {u:.1%} of the time; "
                   "above that, buying is")
    return [formula, meaning]


def verdict(cmp: Comparison, cur: Currency = USD) -> str:
    n = cmp.horizon_months
    words = money_words(cmp.money, n)
    over = f"over {n} months" + (f" ({words})" if words else "")
    rent, buy = cmp.cumulative_rent_usd[-1], cmp.cumulative_buy_usd[-1]
    if abs(rent - buy) < 0.5:
        return f"{over}: renting and buying both cost {cur.signed(rent)}"
    return (f"{over}: rent {cur.signed(rent)}, buy {cur.signed(buy)}; {'buying' if buy < rent else 'renting'} "
            f"is cheaper by {cur.signed(abs(rent - buy))}")
