"""A rent-or-buy comparison (`planner compare`, `objective: compare`) as text rows and JSON keys,
shared by the terminal, Markdown and JSON renderers.
"""
from __future__ import annotations

from planner.money.compare import Comparison, depreciation_usd_per_month
from planner.optimize.plan import Plan
from planner.report.format import signed_usd

EVERY_MONTH_UP_TO = 60
"""Horizons up to this many months list every month in the cumulative table; longer ones every 3rd."""


def add_comparison(record: dict, cmp: Comparison) -> dict:
    """Extend a solve JSON record (`planner.report.records.outcome_record`) in place with the
    comparison: each buy plan's `cost.depreciation_usd_per_month`, and top-level
    `break_even_month` (null when never within the horizon), `rent_utilization_threshold` and
    `cumulative_usd: {"rent": [...], "buy": [...]}` (US$, months 0..horizon). Only adds keys."""
    for plan in record["plans"]:
        if plan["pricing"] == "buy":
            plan["cost"]["depreciation_usd_per_month"] = cmp.buy_depreciation_usd_per_month
    record["break_even_month"] = cmp.break_even_month
    record["rent_utilization_threshold"] = cmp.rent_utilization_threshold
    record["cumulative_usd"] = {"rent": list(cmp.cumulative_rent_usd), "buy": list(cmp.cumulative_buy_usd)}
    return record


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


def side_by_side_rows(cmp: Comparison, timings: bool = False) -> list[tuple[str, str, str]]:
    """(what, rent, buy) rows of the two plans; solver seconds only with `timings`."""
    r, b, n = cmp.rent, cmp.buy, cmp.horizon_months
    return [
        ("GPUs", gpu_mix(r), gpu_mix(b)),
        ("deployments", _deployments(r), _deployments(b)),
        ("capex", signed_usd(r.capex_usd), signed_usd(b.capex_usd)),
        ("monthly", signed_usd(r.monthly_usd), signed_usd(b.monthly_usd)),
        (f"total over {n} months", signed_usd(cmp.cumulative_rent_usd[-1]), signed_usd(cmp.cumulative_buy_usd[-1])),
        ("depreciation per month", signed_usd(depreciation_usd_per_month(r)), signed_usd(cmp.buy_depreciation_usd_per_month)),
        ("facility power", f"{r.power_kw:.2f} kW", f"{b.power_kw:.2f} kW"),
        ("solver", _solver_status(r, timings), _solver_status(b, timings)),
    ]


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


def cumulative_rows(cmp: Comparison) -> list[tuple[str, str, str, str, str]]:
    """(month, rent, buy, buy - rent, cheaper so far) for `table_months`."""
    rows = []
    for m in table_months(cmp):
        rent, buy = cmp.cumulative_rent_usd[m], cmp.cumulative_buy_usd[m]
        cheaper = "buy" if buy < rent else "rent" if rent < buy else "tie"
        if m == cmp.break_even_month:
            cheaper += " (break-even)"
        rows.append((str(m), signed_usd(rent), signed_usd(buy), signed_usd(buy - rent), cheaper))
    return rows


def break_even_text(cmp: Comparison) -> str:
    n, m = cmp.horizon_months, cmp.break_even_month
    gap = cmp.rent.monthly_usd - cmp.buy.monthly_usd
    if m is not None:
        return (f"break-even: month {m} (capex {signed_usd(cmp.buy.capex_usd)} / {signed_usd(gap)} per month saved by "
                f"buying = {(cmp.buy.capex_usd - cmp.rent.capex_usd) / gap:.2f} months, rounded up)")
    if gap <= 0:
        why = (f"renting costs {signed_usd(cmp.rent.monthly_usd)} per month, buying {signed_usd(cmp.buy.monthly_usd)}: "
               "buying never pays back")
    else:
        why = (f"buying saves {signed_usd(gap)} per month; paying back {signed_usd(cmp.buy.capex_usd)} capex takes "
               f"{(cmp.buy.capex_usd - cmp.rent.capex_usd) / gap:.1f} months")
    return f"break-even: never within the {n}-month horizon ({why})"


def threshold_text(cmp: Comparison) -> list[str]:
    """Two lines: u* with its formula filled in, and what it means."""
    u, n = cmp.rent_utilization_threshold, cmp.horizon_months
    if u == float("inf"):
        return ["rent utilisation threshold: none (the rent plan costs nothing per month)"]
    capex = cmp.buy.capex_usd - cmp.rent.capex_usd
    formula = (f"rent utilisation threshold: {u:.3f} = (capex {signed_usd(capex)} + {n} x {signed_usd(cmp.buy.monthly_usd)} "
               f"buy monthly) / ({n} x {signed_usd(cmp.rent.monthly_usd)} rent monthly)")
    if u > 1:
        meaning = "above 1: renting pay-per-use is cheaper even when the rented fleet runs all month"
    else:
        meaning = (f"renting pay-per-use is cheaper when the rented fleet is used less than {u:.1%} of the time; "
                   "above that, buying is")
    return [formula, meaning]


def verdict(cmp: Comparison) -> str:
    n = cmp.horizon_months
    rent, buy = cmp.cumulative_rent_usd[-1], cmp.cumulative_buy_usd[-1]
    if abs(rent - buy) < 0.5:
        return f"over {n} months: renting and buying both cost {signed_usd(rent)}"
    return (f"over {n} months: rent {signed_usd(rent)}, buy {signed_usd(buy)}; {'buying' if buy < rent else 'renting'} "
            f"is cheaper by {signed_usd(abs(rent - buy))}")
