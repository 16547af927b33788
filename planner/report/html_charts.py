"""The charts of `report.html`, as inline SVG (matplotlib, optional: `planner[plot]`).

Each function draws what a plan or a comparison already holds and returns one `<svg>` element as
text, ready to sit inside an HTML page: no XML prolog, no metadata, element ids prefixed with the
chart's own name (several charts share one page, and ids must be unique in a document), text kept
as text (`svg.fonttype: none`: small, selectable, escaped by matplotlib). Fixed sizes, the default
style and a fixed `svg.hashsalt` (the clip-path ids), so the same plan gives the same bytes with
the same matplotlib.

All raise ImportError when matplotlib is not installed.
"""
from __future__ import annotations

import html
import io
import re
from collections.abc import Callable

from planner.money.compare import Comparison
from planner.optimize.plan import Plan
from planner.report.currency import USD, Currency
from planner.report.format import short

CHARTS_MISSING = "charts need matplotlib: install planner[plot]"

WIDTH_IN = 8.0
"""Every chart is this wide (inches at 72 pt); the page scales it down on narrow screens."""

PERCENTILE_MARKERS = (("p50", "o"), ("p90", "s"), ("p99", "^"))

SERIES_COLORS = {"predicted": "tab:blue", "simulated": "tab:orange"}


def have_matplotlib() -> bool:
    """Whether the charts can be drawn."""
    try:
        import matplotlib
    except ImportError:
        return False
    return bool(matplotlib.__version__)


def _svg(chart_id: str, label: str, draw: Callable[[], object]) -> str:
    """Run `draw` (which returns a Figure) under the fixed style and write the figure as an inline
    `<svg>` with ids scoped by `chart_id` and `label` as its accessible name."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    rc = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": chart_id}
    with matplotlib.style.context("default"), matplotlib.rc_context(rc):
        fig = draw()
        FigureCanvasSVG(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):].strip()
    text = re.sub(r"<[^>]+>", lambda m: _scope_ids(m.group(0), chart_id), text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" data-chart="{chart_id}" ', 1)


def _scope_ids(tag: str, prefix: str) -> str:
    """Prefix the ids a tag defines or refers to (`id="x"`, `href="#x"`, `url(#x)`) with `prefix`.
    Only tags are rewritten: text content (user names) keeps what it says."""
    tag = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', tag)
    tag = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', tag)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", tag)


def _usd_axis(axis, symbol: str = "$") -> None:
    """Money ticks, compact ("$250k", "$1.5M") so that long bars keep their labels apart."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=5))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: compact_usd(v, symbol)))


def compact_usd(v: float, symbol: str = "$") -> str:
    """$950, $12.5k, $1.25M: three significant figures at most (`symbol`: another currency's)."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{symbol}{v / scale:.3g}{suffix}"
    return f"{symbol}{v:.3g}"


def cumulative_svg(cmp: Comparison, name: str, cur: Currency = USD) -> str:
    """Rent against buy: cumulative cost by month with the break-even month (the chart of
    `cumulative_cost.png`, as SVG), money in `cur`."""
    from planner.report.chart import cumulative_figure

    return _svg("cumulative-cost", f"{name}: cumulative cost, rent vs buy", lambda: cumulative_figure(cmp, name, cur))


def cost_breakdown_svg(plans: list[Plan], name: str, cur: Currency = USD) -> str:
    """Capex and monthly cost of each plan as horizontal bars, stacked by bill-of-materials
    category (the BOM lines of a category added up; the bar ends are the plan's capex and monthly
    totals)."""

    def draw():
        from matplotlib.figure import Figure

        categories = sorted({b.category for p in plans for b in p.bom})
        colors = _palette(len(categories))
        fig = Figure(figsize=(WIDTH_IN, 1.5 + 0.45 * len(plans) + 0.2 * ((len(categories) + 3) // 4)),
                     layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        labels = [p.pricing for p in plans]
        unit = "US$" if cur.is_usd else cur.code
        for ax, kind, title in ((axes[0], "capex", f"capex ({unit})"), (axes[1], "monthly", f"monthly ({unit} per month)")):
            left = [0.0] * len(plans)
            for cat, color in zip(categories, colors):
                widths = [cur.amount(sum(b.total_usd for b in p.bom if b.category == cat and b.cost_kind == kind))
                          for p in plans]
                ax.barh(labels, widths, left=left, color=color, label=cat, height=0.6)
                left = [a + w for a, w in zip(left, widths)]
            for y, total in enumerate(left):
                ax.annotate(Currency(cur.code, 1.0).signed(total), xy=(total, y), xytext=(3, 0),
                            textcoords="offset points", va="center", fontsize=8)
            ax.set_xlim(0, max(max(left) * 1.25, 1.0))
            _usd_axis(ax.xaxis, cur.symbol)
            ax.set_title(title, fontsize=10)
            ax.grid(True, axis="x", alpha=0.3)
            ax.tick_params(axis="x", labelsize=8)
        axes[0].invert_yaxis()
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
        fig.suptitle(f"{name}: cost by bill-of-materials category")
        return fig

    return _svg("cost-breakdown", f"{name}: capex and monthly cost by category", draw)


def fleet_by_hour_svg(plan: Plan, name: str) -> str | None:
    """Hosts in use hour by hour, stacked by host type: rented instances at their hourly count,
    bought and owned hosts the same every hour. None when the plan has one period."""
    if plan.periods <= 1:
        return None
    counts = plan.solution.hosts_by_hour

    def draw():
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        hours = list(range(plan.periods))
        fig = Figure(figsize=(WIDTH_IN, 3.0 + 0.2 * len(plan.hosts)), layout="constrained")
        ax = fig.add_subplot()
        bottom = [0] * plan.periods
        for (h, n), color in zip(plan.hosts, _palette(len(plan.hosts))):
            by_hour = counts.get(h.id, [n] * plan.periods)
            verb = {"instance": "rented", "owned": "on hand"}.get(h.kind, "bought")
            ax.bar(hours, by_hour, bottom=bottom, color=color, width=0.8, label=f"{verb}: {short(h.label, 90)}")
            bottom = [a + b for a, b in zip(bottom, by_hour)]
        ax.set_xticks(hours)
        ax.set_xlim(-0.6, plan.periods - 0.4)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("hour of day")
        ax.set_ylabel("hosts (instances, servers)")
        ax.set_title(f"{name}, {plan.pricing}: fleet by hour")
        ax.grid(True, axis="y", alpha=0.3)
        fig.legend(loc="outside lower center", fontsize=8, frameon=False)
        return fig

    return _svg(f"fleet-{plan.pricing}", f"{name}, {plan.pricing}: hosts in use by hour", draw)


def latency_svg(plan: Plan, workloads: list[dict], name: str) -> str | None:
    """Per online workload: predicted (and simulated) p50, p90 and p99 of TTFT and TPOT (and E2E
    when an SLO limits it) on a log scale, the SLO limit as a red bar. `workloads` are the plan's
    `planner.report.records.workload_records`. None when no workload has an SLO."""
    rows = [w for w in workloads if w["slo"] is not None]
    if not rows:
        return None
    panels = [("ttft_ms", "TTFT ms"), ("tpot_ms", "TPOT ms")]
    if any("e2e_ms" in w["slo"] for w in rows):
        panels.append(("e2e_ms", "E2E ms"))
    simulated = any("simulated" in w for w in rows)

    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH_IN, 1.9 + 0.45 * len(rows) * (1.5 if simulated else 1.0)), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True)
        ys = list(range(len(rows)))
        for ax, (key, title) in zip(axes, panels):
            for series, offset in (("predicted", 0.15 if simulated else 0.0), ("simulated", -0.15)):
                if series == "simulated" and not simulated:
                    continue
                for pct, marker in PERCENTILE_MARKERS:
                    pts = [(w[series][key][pct], y + offset) for w, y in zip(rows, ys)
                           if series in w and w[series][key][pct] is not None]
                    ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, s=28, zorder=3,
                               color=SERIES_COLORS[series],
                               facecolors="none" if series == "simulated" else SERIES_COLORS[series],
                               label=f"{series} {pct}")
            limits = [(w["slo"][key], y) for w, y in zip(rows, ys) if w["slo"].get(key) is not None]
            for x, y in limits:
                ax.plot([x, x], [y - 0.4, y + 0.4], color="tab:red", linewidth=2.5, zorder=2)
            ax.plot([], [], color="tab:red", linewidth=2.5, label="SLO limit (at the SLO percentile)")
            _log_ms_axis(ax)
            ax.margins(x=0.08)
            ax.set_title(title, fontsize=10)
            ax.grid(True, axis="x", which="both", alpha=0.25)
            ax.tick_params(axis="x", labelsize=8)
        axes[0].set_yticks(ys, [f"{short(w['name'], 28)} (SLO p{w['slo']['percentile']})" for w in rows], fontsize=8)
        axes[0].set_ylim(len(rows) - 0.5, -0.5)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
        fig.suptitle(f"{name}, {plan.pricing}: latency percentiles against the SLO (log scale)")
        return fig

    return _svg(f"latency-{plan.pricing}", f"{name}, {plan.pricing}: latency percentiles against the SLO", draw)


def _log_ms_axis(ax) -> None:
    """A log x axis of milliseconds labelled in plain numbers (1, 2, 5 per decade; no mathtext)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _palette(n: int) -> list:
    """n distinct colours, the same for the same n: tab10, or for more the 20 of tab20 with its
    dark shades first (neighbours in the list then differ in hue, not only in shade)."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    cmap = matplotlib.colormaps["tab20"]
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return [cmap(order[i % 20]) for i in range(n)]
