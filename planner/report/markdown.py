"""Markdown reports of a plan (`plan.md`) and of a rent-or-buy comparison (`compare.md`).
"""
from __future__ import annotations

import datetime as dt

from planner.money.compare import Comparison
from planner.optimize.plan import Outcome
from planner.report.comparison import (
    break_even_text,
    cumulative_rows,
    side_by_side_rows,
    threshold_text,
    verdict,
)
from planner.report.format import fmt_cell
from planner.report.quality import factor_warnings
from planner.report.records import (
    BOM_TABLE,
    DEPLOY_CAPTION,
    DEPLOY_TABLE,
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
from planner.report.unit_costs import UNIT_CAPTION, UNIT_TABLE, unit_cost_rows
from planner.text import usd


def outcome_markdown(out: Outcome, timings: bool, today: dt.date) -> str:
    spec = out.resolved.spec
    lines = [f"# {spec.name}", "", spec.description.strip(), "", f"Objective: {spec.objective}.", ""]
    if (robust := robustness_line(out)) is not None:
        lines += [_sentence(robust), ""]
    for p in out.plans:
        lines += [f"## {plan_title(p)}", "", "### Deployments", ""]
        lines += _md_table(DEPLOY_TABLE, deployment_rows(p))
        lines += ["", _sentence(DEPLOY_CAPTION)]
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
        lines += _md_table(BOM_TABLE, bom_records(p))
        lines += ["", "### Unit costs", ""] + _md_table(UNIT_TABLE, unit_cost_rows(out, p))
        lines += ["", _sentence(UNIT_CAPTION)]
        lines += ["", (f"Capex {usd(p.capex_usd)}; monthly {usd(p.monthly_usd)}; {p.horizon_months}-month total "
                  f"{usd(p.total_usd)}; facility power {p.power_kw:.2f} kW."), "", solver_line(p, timings) + ".", ""]
    cmp = out.comparison
    if cmp is not None:
        lines += ["## Rent or buy", "", *(_sentence(t) for t in (break_even_text(cmp), *threshold_text(cmp))), ""]
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        lines.append(f"Oldest price used: {prices['oldest_as_of']}.")
    if prices["warning"]:
        lines.append(f"**Warning:** {prices['warning']}.")
    lines += [f"**Warning:** {w}." for w in factor_warnings(out.plans)]
    return "\n".join(lines).rstrip() + "\n"


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

    def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(c.replace("|", "/").replace("\n", "<br>") for c in row) + " |" for row in rows]
        return lines

    lines = [f"# {spec.name}: rent or buy", "", spec.description.strip(), "", "## Plans", ""]
    lines += table(("", "rent", "buy"), side_by_side_rows(cmp, timings))
    lines += ["", "Depreciation: straight line, capex / horizon, no salvage value.", "",
              "## Cumulative cost", "", "Capex at month 0 + months x monthly, US dollars.", ""]
    lines += table(("month", "rent", "buy", "buy - rent", "cheaper"), cumulative_rows(cmp))
    lines += ["", _sentence(verdict(cmp)), "", _sentence(break_even_text(cmp)), "",
              *(_sentence(line) for line in threshold_text(cmp)), ""]
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        lines.append(f"Oldest price used: {prices['oldest_as_of']}.")
    if prices["warning"]:
        lines.append(f"**Warning:** {prices['warning']}.")
    return "\n".join(lines).rstrip() + "\n"
