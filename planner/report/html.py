"""`report.html`: one self-contained page per solve (`--out DIR`), readable in any browser with no
network access: the plan's tables, the bill of materials with its sources, and the charts of
`planner.report.html_charts` as inline SVG.

Everything the page shows comes from the same records as the terminal, Markdown and JSON
renderers; every piece of text from the workload file or the catalogue goes through
`html.escape`. No scripts, no external style sheets, fonts or images, no links out (sources are
printed as text). Deterministic: the same outcome, date and `timings` give the same bytes.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence

from planner.money.compare import Comparison
from planner.optimize.plan import Outcome, Plan
from planner.report import html_charts
from planner.report.comparison import (
    EVERY_MONTH_UP_TO,
    break_even_text,
    cumulative_caption,
    cumulative_rows,
    cumulative_title,
    depreciation_caption,
    depreciation_words,
    side_by_side_rows,
    threshold_text,
    verdict,
)
from planner.report.currency import Currency, currency_line, plan_currency, rate_staleness
from planner.report.failure_out import plan_warnings
from planner.report.format import fmt_cell
from planner.report.spot_out import with_rental
from planner.report.records import (
    DEPLOY_TABLE,
    STALE_AFTER_DAYS,
    BOM_MONEY,
    BOM_TABLE,
    DEPLOY_CAPTION,
    PROMISE_CAPTION,
    PROMISE_TABLE,
    bom_records,
    candidate_summary,
    deployment_rows,
    plan_title,
    price_dates,
    promise_rows,
    simulation_lines,
    solver_line,
    workload_records,
)
from planner.report.sensitivity_out import SENSITIVITY_CAPTION, SENSITIVITY_TABLE, sensitivity_lines, sensitivity_rows
from planner.report.unit_costs import UNIT_CAPTION, UNIT_MONEY, UNIT_TABLE, unit_cost_rows
from planner.text import count_of

REPORT_FILE = "report.html"

NUMBER = re.compile(r"-?\$?[0-9][0-9,]*(\.[0-9]+)?%?")

CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --zebra: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       margin: 0 auto; padding: 1.5rem; max-width: 1200px; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p { margin: .4rem 0; }
.description { color: var(--muted); max-width: 60rem; white-space: pre-line; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 1rem 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: .5rem .8rem; margin: .8rem 0; }
.note { color: var(--muted); font-size: .9rem; }
.scroll { overflow-x: auto; margin: .5rem 0; }
table { border-collapse: collapse; font-size: .8rem; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: .8rem; padding-top: .3rem; }
th, td { border: 1px solid var(--line); padding: .2rem .45rem; vertical-align: top; text-align: left; }
td { white-space: nowrap; }
th { background: var(--zebra); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.source { white-space: normal; word-break: break-all; min-width: 14rem; color: var(--muted); }
td.item { white-space: normal; min-width: 18rem; }
td.pre { white-space: pre-line; }
figure.chart { margin: 1rem 0; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart figcaption { color: var(--muted); font-size: .8rem; }
details { margin: .5rem 0; }
summary { cursor: pointer; color: var(--muted); }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .8rem; }
@media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; } figure.chart { break-inside: avoid; } }
""".strip()


def esc(text: object) -> str:
    """Text for HTML: `&`, `<`, `>` and both quotes escaped."""
    return html.escape(str(text), quote=True)


def outcome_html(out: Outcome, timings: bool, today: dt.date, source: str | None = None) -> str:
    """The whole page. `source`: the workload file as the user named it (default: the path the
    outcome was loaded from); `timings`: solver seconds in the solver lines (off for identical
    bytes between runs); `today`: the report's date, also the staleness date of the prices."""
    spec = out.resolved.spec
    source = out.resolved.loaded.path if source is None else source
    charts = html_charts.have_matplotlib()
    cur = plan_currency(out)
    usd = cur.whole
    body = [_header(out, today, source), _summary(out, cur)]
    if not charts:
        body.append(f'<p class="note">{esc(html_charts.CHARTS_MISSING)}.</p>')
    if out.plans and charts:
        body.append(_figure(html_charts.cost_breakdown_svg(out.plans, spec.name, cur),
                            "Capex and monthly cost of each plan, by bill-of-materials category; "
                            "the bar ends are the plan's totals."))
    if out.comparison is not None:
        body.append(_comparison(out.comparison, spec.name, timings, charts, cur))
    if out.hybrid_savings_usd is not None:
        body.append("<p>Hybrid saves " + ", ".join(f"{esc(usd(v))} over all-{esc(k)}" for k, v in
                                                    out.hybrid_savings_usd.items())
                    + f" across {spec.horizon_months} months (negative: costs more).</p>")
    for p in out.plans:
        body.append(_plan(out, p, timings, charts, cur))
    body.append(_candidates(out))
    body.append(f"<footer>Written by planner from {esc(source)} on {today.isoformat()}. Every figure traces to a "
                "formula, a catalogue row (source and as-of date in the bill of materials) or a measurement; "
                "--format json gives the same plan for programs.</footer>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(spec.name)}: deployment plan</title>",
        f"<style>\n{CSS}\n</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
    ]) + "\n"


def _header(out: Outcome, today: dt.date, source: str) -> str:
    spec = out.resolved.spec
    prices = price_dates(out.plans, today)
    statuses = sorted({p.solution.status for p in out.plans})
    solvers = sorted({p.solution.solver for p in out.plans})
    facts = [
        ("problem file", source),
        ("date", today.isoformat()),
        ("objective", f"{spec.objective}, {count_of(len(spec.workloads), 'workload')}, "
                      f"{spec.horizon_months}-month horizon"),
        ("solver status", f"{', '.join(statuses) or '-'} ({', '.join(solvers) or '-'})"),
        ("prices as of", f"oldest used {prices['oldest_as_of']}; each bill-of-materials line gives its own date"
                         if prices["oldest_as_of"] else "no dated prices used"),
    ]
    parts = [f"<header>\n<h1>{esc(spec.name)}</h1>"]
    if spec.description.strip():
        parts.append(f'<p class="description">{esc(spec.description.strip())}</p>')
    parts.append('<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>")
    if prices["warning"]:
        parts.append(f'<p class="warning"><strong>Warning:</strong> {esc(prices["warning"])}.</p>')
    parts += [f'<p class="warning"><strong>Warning:</strong> {esc(w)}.</p>' for w in plan_warnings(out)]
    cur = plan_currency(out)
    if (line := currency_line(cur)) is not None:
        parts.append(f"<p>{esc(_sentence(line))}</p>")
    if (stale := rate_staleness(cur, today, STALE_AFTER_DAYS)) is not None:
        parts.append(f'<p class="warning"><strong>Warning:</strong> {esc(stale)}.</p>')
    parts.append("</header>")
    return "\n".join(parts)


def _summary(out: Outcome, cur: Currency) -> str:
    """One row per plan: status, capex, monthly, total, power."""
    usd = cur.whole
    rows = [(p.pricing, p.solution.status, usd(p.capex_usd), usd(p.monthly_usd), usd(p.total_usd),
             f"{p.power_kw:.2f}") for p in out.plans]
    horizon = out.resolved.spec.horizon_months
    return "<h2>Plans</h2>\n" + _text_table(
        ("plan", "status", "capex", "monthly", f"total over {horizon} months", "facility kW"), rows,
        numeric=(2, 3, 4, 5))


def _comparison(cmp: Comparison, name: str, timings: bool, charts: bool, cur: Currency) -> str:
    parts = ["<h2>Rent or buy</h2>",
             _text_table(("", "rent", "buy"), side_by_side_rows(cmp, timings, cur),
                         caption=depreciation_caption(cmp), pre=True)]
    if charts:
        how = ("capex at month 0 plus months x monthly" if not cmp.money.active
               else cumulative_caption(cmp, "months"))
        parts.append(_figure(html_charts.cumulative_svg(cmp, name, cur),
                             _sentence(f"{cumulative_title(cmp)}: {how}, {cur.words()}")))
    parts += [f"<p>{esc(_sentence(t))}</p>" for t in (verdict(cmp, cur), break_even_text(cmp, cur),
                                                       *threshold_text(cmp, cur))]
    step = "" if cmp.horizon_months <= EVERY_MONTH_UP_TO else ", every 3rd month"
    parts.append(f"<details><summary>{esc(cumulative_title(cmp))} by month{step}</summary>\n"
                 + _text_table(("month", "rent", "buy", "buy - rent", "cheaper"), cumulative_rows(cmp, cur),
                               numeric=(0, 1, 2, 3), caption=cumulative_caption(cmp))
                 + "\n</details>")
    return "\n".join(parts)


def _plan(out: Outcome, p: Plan, timings: bool, charts: bool, cur: Currency) -> str:
    usd = cur.whole
    name = out.resolved.spec.name
    parts = [f'<section id="plan-{esc(p.pricing)}">', f"<h2>{esc(plan_title(p, cur))}</h2>", "<h3>Deployments</h3>",
             _table(with_rental(DEPLOY_TABLE, p), deployment_rows(p), DEPLOY_CAPTION)]
    if charts and (svg := html_charts.fleet_by_hour_svg(p, name)) is not None:
        parts += ["<h3>Fleet by hour</h3>",
                  _figure(svg, "Hosts in use each hour: rented instances scale with the traffic profile; bought "
                               "and owned hosts run every hour.")]
    promise = promise_rows(out, p)
    if promise:
        parts.append("<h3>SLO percentiles</h3>")
        if charts and (svg := html_charts.latency_svg(p, workload_records(out, p), name)) is not None:
            parts.append(_figure(svg, "Predicted (filled) and simulated (hollow) p50, p90 and p99 per workload; "
                                      "the red bar is the SLO limit, which holds at the workload's SLO percentile."))
        parts.append(_table(PROMISE_TABLE, promise, PROMISE_CAPTION))
    parts += [f"<p>{esc(line)}</p>" for line in simulation_lines(p)]
    sens = sensitivity_rows(out, p)
    if sens:
        parts += [f'<h3 id="sensitivity-{esc(p.pricing)}">Sensitivity</h3>',
                  _table(SENSITIVITY_TABLE, sens, SENSITIVITY_CAPTION)]
        parts += [f"<p>{esc(_sentence(line.strip()))}</p>" for line in sensitivity_lines(p, timings)]
    parts += ["<h3>Bill of materials</h3>", _table(cur.headers(BOM_TABLE, BOM_MONEY), cur.rows(bom_records(p), BOM_MONEY),
                                                  None, text_columns=("item", "source"))]
    parts += ["<h3>Unit costs</h3>", _table(cur.headers(UNIT_TABLE, UNIT_MONEY), cur.rows(unit_cost_rows(out, p), UNIT_MONEY),
                                           cur.caption(UNIT_CAPTION))]
    dep = depreciation_words(p, out.comparison, cur)
    parts.append(f"<p>Cost: capex {esc(usd(p.capex_usd))}, monthly {esc(usd(p.monthly_usd))}, "
                 f"{p.horizon_months}-month total {esc(usd(p.total_usd))}; facility power {p.power_kw:.2f} kW"
                 f"{esc(dep)}.</p>")
    parts.append(f"<p>{esc(_sentence(solver_line(p, timings, cur)))}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _candidates(out: Outcome) -> str:
    s = candidate_summary(out.candidates)
    by_reason = ", ".join(f"{k} {v}" for k, v in s["rejected_by_reason"].items()) or "none"
    return (f'<p class="note">Candidates: {s["admissible"]:,} admissible deployments '
            f'({s["admissible_batch_caps"]:,} batch caps), {s["dominated_dropped"]:,} dominated dropped before the '
            f'MILP, {s["kept"]:,} kept; rejected {s["rejected"]:,} ({esc(by_reason)}).</p>')


def _figure(svg: str, caption: str) -> str:
    return f'<figure class="chart">\n{svg}\n<figcaption>{esc(caption)}</figcaption>\n</figure>'


def _table(cols: Sequence[tuple[str, str]], rows: list[dict], caption: str | None,
           text_columns: tuple[str, ...] = ()) -> str:
    """A table of records; `cols` are (key, header) pairs. Numbers right-aligned in the terminal's
    formats (`fmt_cell`); cells of `text_columns` get their key as class (`item`, `source`: widths and wrapping)."""
    head = "".join(f"<th>{esc(h)}</th>" for _, h in cols)
    body = []
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            cls = key if key in text_columns else "num" if _numeric(v) else ""
            cells.append(f'<td class="{cls}">{esc(fmt_cell(v))}</td>' if cls else f"<td>{esc(fmt_cell(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return _wrap(head, body, caption)


def _text_table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: tuple[int, ...] = (),
                caption: str | None = None, pre: bool = False) -> str:
    """A table of text rows; columns in `numeric` right-aligned, `pre` keeps line breaks in cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = "num" if i in numeric else "pre" if pre else ""
            cells.append(f'<td class="{cls}">{esc(c)}</td>' if cls else f"<td>{esc(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return _wrap(head, body, caption)


def _numeric(v: object) -> bool:
    """A number, or text that is one as the records lay it out ("1,290.3", "55%")."""
    if isinstance(v, bool):
        return False
    return isinstance(v, (int, float)) or (isinstance(v, str) and NUMBER.fullmatch(v) is not None)


def _wrap(head: str, body: list[str], caption: str | None) -> str:
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return ('<div class="scroll"><table>' + cap + f"<thead><tr>{head}</tr></thead><tbody>\n"
            + "\n".join(body) + "\n</tbody></table></div>")


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
