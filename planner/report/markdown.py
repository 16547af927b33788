"""Markdown reports of a plan (`plan.md`) and of a rent-or-buy comparison (`compare.md`).
"""
from __future__ import annotations

import datetime as dt

from planner.money.compare import Comparison
from planner.optimize.plan import Outcome
from planner.report.comparison import (
    break_even_text,
    cumulative_caption,
    cumulative_rows,
    cumulative_title,
    depreciation_caption,
    side_by_side_rows,
    threshold_text,
    verdict,
)
from planner.report.currency import Currency, currency_line, plan_currency, rate_staleness
from planner.report.failure_out import plan_warnings
from planner.report.format import fmt_cell
from planner.report.spot_out import spot_lines, with_rental
from planner.report.records import (
    DEPLOY_TABLE,
    STALE_AFTER_DAYS,
    BOM_MONEY,
    BOM_TABLE,
    DEPLOY_CAPTION,
    bom_records,
    PROMISE_CAPTION,
    PROMISE_TABLE,
    deployment_rows,
    promise_rows,
    simulation_lines,
    plan_title,
    price_dates,
    solver_line,
)
from planner.report.sensitivity_out import (
    SENSITIVITY_CAPTION,
    SENSITIVITY_TABLE,
    robustness_line,
    sensitivity_lines,
    sensitivity_rows,
)
from planner.report.unit_costs import UNIT_CAPTION, UNIT_MONEY, UNIT_TABLE, unit_cost_rows


def outcome_markdown(out: Outcome, timings: bool, today: dt.date) -> str:
    spec = out.resolved.spec
    cur = plan_currency(out)
    usd = cur.whole
    lines = [f"# {spec.name}", "", spec.description.strip(), "", f"Objective: {spec.objective}.", ""]
    if (robust := robustness_line(out)) is not None:
        lines += [_sentence(robust), ""]
    for p in out.plans:
        lines += [f"## {plan_title(p, cur)}", "", "### Deployments", ""]
        lines += _md_table(with_rental(DEPLOY_TABLE, p), deployment_rows(p))
        lines += ["", _sentence(DEPLOY_CAPTION)]
        lines += ["", *(_sentence(x) for x in spot_lines(p))] if spot_lines(p) else []
        promise = promise_rows(out, p)
        if promise:
            lines += ["", f"SLO percentiles ({p.pricing}):", ""] + _md_table(PROMISE_TABLE, promise)
            lines += ["", _sentence(PROMISE_CAPTION)]
        sim = simulation_lines(p)
        if sim:
            lines += [""] + sim
        sens = sensitivity_rows(out, p)
        if sens:
            lines += ["", "### Sensitivity", ""] + _md_table(SENSITIVITY_TABLE, sens)
            lines += ["", _sentence(SENSITIVITY_CAPTION), ""] + [_sentence(t.strip()) for t in sensitivity_lines(p, timings)]
        lines += ["", "### Bill of materials", ""]
        lines += _md_table(cur.headers(BOM_TABLE, BOM_MONEY), cur.rows(bom_records(p), BOM_MONEY))
        lines += ["", "### Unit costs", ""] + _md_table(cur.headers(UNIT_TABLE, UNIT_MONEY),
                                                       cur.rows(unit_cost_rows(out, p), UNIT_MONEY))
        lines += ["", _sentence(cur.caption(UNIT_CAPTION))]
        lines += ["", (f"Capex {usd(p.capex_usd)}; monthly {usd(p.monthly_usd)}; {p.horizon_months}-month total "
                  f"{usd(p.total_usd)}; facility power {p.power_kw:.2f} kW."), "", solver_line(p, timings, cur) + ".", ""]
    cmp = out.comparison
    if cmp is not None:
        lines += ["## Rent or buy", "",
                  *(_sentence(t) for t in (break_even_text(cmp, cur), *threshold_text(cmp, cur))), ""]
    lines += _dates(out, cur, today)
    return "\n".join(lines).rstrip() + "\n"


def _dates(out: Outcome, cur: Currency, today: dt.date) -> list[str]:
    """The oldest price, the currency's rate, and their staleness warnings, as lines."""
    lines = []
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        lines.append(f"Oldest price used: {prices['oldest_as_of']}.")
    if prices["warning"]:
        lines.append(f"**Warning:** {prices['warning']}.")
    line = currency_line(cur)
    if line:
        lines += ["", _sentence(line)]
    stale = rate_staleness(cur, today, STALE_AFTER_DAYS)
    if stale:
        lines.append(f"**Warning:** {stale}.")
    lines += [f"**Warning:** {w}." for w in plan_warnings(out)]
    return lines


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _md_table(cols, rows: list[dict]) -> list[str]:

    out = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(fmt_cell(r.get(k)).replace("|", "/") for k, _ in cols) + " |")
    return out


def comparison_markdown(out: Outcome, cmp: Comparison, timings: bool, today: dt.date) -> str:
    """The `planner compare --format markdown` report."""

    spec = out.resolved.spec
    cur = plan_currency(out)

    def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(c.replace("|", "/").replace("\n", "<br>") for c in row) + " |" for row in rows]
        return lines

    lines = [f"# {spec.name}: rent or buy", "", spec.description.strip(), "", "## Plans", ""]
    lines += table(("", "rent", "buy"), side_by_side_rows(cmp, timings, cur))
    lines += ["", _sentence(depreciation_caption(cmp)), "",
              f"## {cumulative_title(cmp)}", "", _sentence(f"{cumulative_caption(cmp, 'months')}, {cur.words()}"), ""]
    lines += table(("month", "rent", "buy", "buy - rent", "cheaper"), cumulative_rows(cmp, cur))
    lines += ["", _sentence(verdict(cmp, cur)), "", _sentence(break_even_text(cmp, cur)), "",
              *(_sentence(line) for line in threshold_text(cmp, cur)), ""]
    lines += _dates(out, cur, today)
    return "\n".join(lines).rstrip() + "\n"
