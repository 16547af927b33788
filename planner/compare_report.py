"""Rendering of a rent-or-buy comparison (`planner compare`): table, Markdown, the JSON keys it
adds to the solve contract, and the cumulative-cost chart (matplotlib, optional: `planner[plot]`).

Deterministic like `planner.plan_report`: fixed row order and number formats; the chart has a
fixed size, resolution and style and no software or date in its metadata.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.table import Table

from planner.compare import Comparison, compare_plans, depreciation_usd_per_month
from planner.plan import Outcome, Plan
from planner.report import console

EVERY_MONTH_UP_TO = 60
"""Horizons up to this many months list every month in the cumulative table; longer ones every 3rd."""
CHART_SIZE_IN = (8.0, 4.5)
CHART_DPI = 100
CHART_FILE = "cumulative_cost.png"
CHART_MISSING = "install planner[plot] for the chart"


def comparison_of(out: Outcome) -> Comparison | None:
    """The rent-or-buy comparison of an `objective: compare` outcome; None for other objectives."""
    if out.resolved.spec.objective != "compare":
        return None
    return compare_plans(out.plans)


def add_comparison(record: dict, cmp: Comparison) -> dict:
    """Extend a solve JSON record (`planner.plan_report.outcome_record`) in place with the
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


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def _usd(v: float) -> str:
    return f"-${-v:,.0f}" if v < -0.5 else f"${abs(v):,.0f}"


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
        ("capex", _usd(r.capex_usd), _usd(b.capex_usd)),
        ("monthly", _usd(r.monthly_usd), _usd(b.monthly_usd)),
        (f"total over {n} months", _usd(cmp.cumulative_rent_usd[-1]), _usd(cmp.cumulative_buy_usd[-1])),
        ("depreciation per month", _usd(depreciation_usd_per_month(r)), _usd(cmp.buy_depreciation_usd_per_month)),
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
        rows.append((str(m), _usd(rent), _usd(buy), _usd(buy - rent), cheaper))
    return rows


def break_even_text(cmp: Comparison) -> str:
    n, m = cmp.horizon_months, cmp.break_even_month
    gap = cmp.rent.monthly_usd - cmp.buy.monthly_usd
    if m is not None:
        return (f"break-even: month {m} (capex {_usd(cmp.buy.capex_usd)} / {_usd(gap)} per month saved by "
                f"buying = {(cmp.buy.capex_usd - cmp.rent.capex_usd) / gap:.2f} months, rounded up)")
    if gap <= 0:
        why = (f"renting costs {_usd(cmp.rent.monthly_usd)} per month, buying {_usd(cmp.buy.monthly_usd)}: "
               "buying never pays back")
    else:
        why = (f"buying saves {_usd(gap)} per month; paying back {_usd(cmp.buy.capex_usd)} capex takes "
               f"{(cmp.buy.capex_usd - cmp.rent.capex_usd) / gap:.1f} months")
    return f"break-even: never within the {n}-month horizon ({why})"


def threshold_text(cmp: Comparison) -> list[str]:
    """Two lines: u* with its formula filled in, and what it means."""
    u, n = cmp.rent_utilization_threshold, cmp.horizon_months
    if u == float("inf"):
        return ["rent utilisation threshold: none (the rent plan costs nothing per month)"]
    capex = cmp.buy.capex_usd - cmp.rent.capex_usd
    formula = (f"rent utilisation threshold: {u:.3f} = (capex {_usd(capex)} + {n} x {_usd(cmp.buy.monthly_usd)} "
               f"buy monthly) / ({n} x {_usd(cmp.rent.monthly_usd)} rent monthly)")
    if u > 1:
        meaning = "above 1: renting pay-per-use is cheaper even when the rented fleet runs all month"
    else:
        meaning = (f"renting pay-per-use is cheaper when the rented fleet is used less than {u:.1%} of the time; "
                   "above that, buying is")
    return [formula, meaning]


def _verdict(cmp: Comparison) -> str:
    n = cmp.horizon_months
    rent, buy = cmp.cumulative_rent_usd[-1], cmp.cumulative_buy_usd[-1]
    if abs(rent - buy) < 0.5:
        return f"over {n} months: renting and buying both cost {_usd(rent)}"
    return (f"over {n} months: rent {_usd(rent)}, buy {_usd(buy)}; {'buying' if buy < rent else 'renting'} "
            f"is cheaper by {_usd(abs(rent - buy))}")


def _rich_table(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]], right: tuple[int, ...] = (),
                caption: str | None = None) -> Table:
    t = Table(title=title, caption=caption)
    for i, h in enumerate(headers):
        t.add_column(h, justify="right" if i in right else "left", overflow="fold")
    for row in rows:
        t.add_row(*row)
    return t


def print_comparison(out: Outcome, cmp: Comparison, timings: bool, today: dt.date, width: int = 160,
                     file_objective: str | None = None) -> None:
    """The `planner compare` table output."""
    from planner.plan_report import price_dates

    con = console(width)
    spec = out.resolved.spec
    note = f" (the file says objective {file_objective})" if file_objective not in (None, "compare") else ""
    con.print(f"[bold]{spec.name}[/bold]: rent or buy over {cmp.horizon_months} months, "
              f"{len(spec.workloads)} workloads{note}")
    con.print()
    con.print(_rich_table("Plans", ("", "rent", "buy"), side_by_side_rows(cmp, timings),
                          caption="depreciation: straight line, capex / horizon, no salvage value"))
    step = "" if cmp.horizon_months <= EVERY_MONTH_UP_TO else ", every 3rd month"
    con.print(_rich_table(f"Cumulative cost{step}", ("month", "rent", "buy", "buy - rent", "cheaper"),
                          cumulative_rows(cmp), right=(0, 1, 2, 3), caption="capex at month 0 + m x monthly"))
    con.print(_verdict(cmp))
    con.print(break_even_text(cmp))
    for line in threshold_text(cmp):
        con.print(line)
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        con.print(f"prices: oldest used {prices['oldest_as_of']}")
    if prices["warning"]:
        con.print(f"[bold]warning:[/bold] {prices['warning']}")


def comparison_markdown(out: Outcome, cmp: Comparison, timings: bool, today: dt.date) -> str:
    """The `planner compare --format markdown` report."""
    from planner.plan_report import price_dates

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
    lines += ["", _verdict(cmp)[0].upper() + _verdict(cmp)[1:] + ".", "",
              break_even_text(cmp)[0].upper() + break_even_text(cmp)[1:] + ".", "",
              *(line[0].upper() + line[1:] + "." for line in threshold_text(cmp)), ""]
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        lines.append(f"Oldest price used: {prices['oldest_as_of']}.")
    if prices["warning"]:
        lines.append(f"**Warning:** {prices['warning']}.")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# Chart
# ---------------------------------------------------------------------------------------------


def write_chart(cmp: Comparison, name: str, path: Path) -> Path:
    """Write the cumulative cost of both plans over the horizon as a PNG.

    Rent and buy lines (US$ against months), the break-even month as a labelled vertical line,
    or a note when there is none within the horizon. Fixed size (8 x 4.5 in), 100 dpi, the
    default matplotlib style, no mathtext (a $ is a dollar) and no metadata beyond the image, so the same comparison gives
    the same bytes with the same matplotlib. Uses the Agg canvas directly (no pyplot, no change
    to the caller's backend).

    Raises:
        ImportError: matplotlib is not installed (`pip install planner[plot]`).
    """
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    n = cmp.horizon_months
    months = list(range(n + 1))
    with matplotlib.style.context("default"), matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(months, cmp.cumulative_rent_usd, label=f"rent ({_usd(cmp.rent.monthly_usd)}/month)",
                color="tab:blue", linewidth=2)
        ax.plot(months, cmp.cumulative_buy_usd,
                label=f"buy ({_usd(cmp.buy.capex_usd)} capex + {_usd(cmp.buy.monthly_usd)}/month)",
                color="tab:orange", linewidth=2)
        m = cmp.break_even_month
        if m is not None:
            ax.axvline(m, color="tab:green", linestyle="--", linewidth=1.5, label=f"break-even: month {m}")
            ax.annotate(f"break-even: month {m}", xy=(m, cmp.cumulative_buy_usd[m]), xytext=(6, -14),
                        textcoords="offset points", color="tab:green")
        else:
            ax.plot([], [], " ", label=f"no break-even within {n} months")
        ax.set_xlim(0, n)
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:,.0f}"))
        ax.set_xlabel("months from start")
        ax.set_ylabel("cumulative cost (US$)")
        ax.set_title(f"{name}: cumulative cost, rent vs buy")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=CHART_DPI, format="png", metadata={"Software": None})
    return path
