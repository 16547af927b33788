"""A sweep's results for people and programs: the record (JSON), rows (CSV, terminal table) and the
Pareto chart (PNG, matplotlib: `planner[plot]`). Knees and dominated points are read off the
solved points here (`planner.optimize.sweep.knee_index`); nothing is solved.

Pareto: for an SLO sweep a point is *dominated* when another point has an SLO at least as tight and
costs no more (one of them strictly): nobody should pick it. For demand and horizon sweeps every
point is a different question, so none is dominated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planner.optimize.sweep import SLO_KEYS, PointResult, Sweep, knee_index
from planner.report.chart import CHART_DPI, CHART_SIZE_IN

SWEEP_COLUMNS = ("key", "workload", "value", "pricing", "status", "usd_per_month", "monthly_usd", "capex_usd",
                 "total_usd", "gpus", "gap", "knee", "dominated", "reason")
SWEEP_CHART_FILE = "sweep.png"
COST_EPS_USD = 0.005
"""Costs closer than half a cent are equal (for dominance)."""


def pricings(points: Sequence[PointResult]) -> list[str]:
    """Pricings in the order the plans came (rent, buy, hybrid ...)."""
    seen: list[str] = []
    for pt in points:
        for p in pt.plans:
            if p["pricing"] not in seen:
                seen.append(p["pricing"])
    return seen


def curve(points: Sequence[PointResult], pricing: str) -> list[tuple[float, float]]:
    """(value, usd_per_month) of the points with a `pricing` plan, by value."""
    return sorted((pt.value, p["usd_per_month"]) for pt in points for p in pt.plans if p["pricing"] == pricing)


def knees(points: Sequence[PointResult]) -> dict[str, float]:
    """Pricing -> the value at the knee of its cost curve (pricings with no knee left out)."""
    out = {}
    for pricing in pricings(points):
        xy = curve(points, pricing)
        i = knee_index([x for x, _ in xy], [y for _, y in xy])
        if i is not None:
            out[pricing] = xy[i][0]
    return out


def dominated(points: Sequence[PointResult], sweep: Sweep) -> dict[str, set[float]]:
    """Pricing -> values whose plan is dominated (SLO sweeps only; see the module docstring)."""
    out: dict[str, set[float]] = {}
    for pricing in pricings(points):
        xy = curve(points, pricing)
        out[pricing] = set() if sweep.key not in SLO_KEYS else {
            x for x, y in xy
            if any((x2 <= x and y2 <= y - COST_EPS_USD) or (x2 < x and y2 <= y + COST_EPS_USD) for x2, y2 in xy)}
    return out


def sweep_record(name: str, objective: str, sweep: Sweep, points: Sequence[PointResult], timings: bool) -> dict:
    """The `planner sweep --format json` contract."""
    bad = dominated(points, sweep)
    record: dict[str, Any] = {
        "name": name, "objective": objective,
        "vary": {"key": sweep.key, "workload": sweep.workload, "values": list(sweep.values)},
        "points": [{
            "value": pt.value, "status": pt.status, "reason": pt.reason,
            "plans": [{**p, "dominated": pt.value in bad.get(p["pricing"], set())} for p in pt.plans],
            **({"seconds": pt.seconds} if timings else {}),
        } for pt in points],
        "knees": knees(points),
        "cost_note": "usd_per_month = total_usd / horizon_months (capex spread over the horizon)",
    }
    return record


def sweep_rows(sweep: Sweep, points: Sequence[PointResult]) -> list[dict]:
    """One row per point and pricing (one per point without a plan): the CSV rows."""
    knee = knees(points)
    bad = dominated(points, sweep)
    rows = []
    for pt in points:
        base = {"key": sweep.key, "workload": sweep.workload or "all", "value": pt.value}
        if not pt.plans:
            rows.append({**base, "status": pt.status, "reason": pt.reason})
        for p in pt.plans:
            rows.append({**base, **{k: p[k] for k in ("pricing", "status", "usd_per_month", "monthly_usd",
                                                       "capex_usd", "total_usd", "gpus", "gap")},
                         "knee": knee.get(p["pricing"]) == pt.value,
                         "dominated": pt.value in bad.get(p["pricing"], set()), "reason": None})
    return rows


def table_rows(sweep: Sweep, points: Sequence[PointResult]) -> tuple[list[tuple[str, str]], list[dict]]:
    """(columns, rows) of the terminal table: one row per value, cost and GPUs per pricing, notes."""
    names = pricings(points)
    knee = knees(points)
    bad = dominated(points, sweep)
    columns = [("value", sweep.key)]
    for pr in names:
        columns += [(f"{pr}_usd", f"{pr} $/month"), (f"{pr}_gpus", f"{pr} GPUs")]
    columns.append(("note", "note"))
    rows = []
    for pt in points:
        row: dict[str, Any] = {"value": pt.value}
        notes = []
        for p in pt.plans:
            row[f"{p['pricing']}_usd"] = p["usd_per_month"]
            row[f"{p['pricing']}_gpus"] = p["gpus"]
            if knee.get(p["pricing"]) == pt.value:
                notes.append(f"knee ({p['pricing']})")
            if pt.value in bad.get(p["pricing"], set()):
                notes.append(f"dominated ({p['pricing']})")
            if p["status"] != "optimal":
                notes.append(f"{p['pricing']} {p['status']}" + (f", gap {p['gap']:.2%}" if p["gap"] else ""))
        if not pt.plans:
            notes.append(pt.status + (f": {pt.reason}" if pt.reason else ""))
        row["note"] = "; ".join(notes) or None
        rows.append(row)
    return columns, rows


def write_sweep_chart(name: str, sweep: Sweep, points: Sequence[PointResult], path: Path) -> Path:
    """The cost of each value (US$ per month, capex spread over the horizon), a line per pricing,
    dominated points hollow, the knee circled and labelled, values with no plan marked on the axis.
    Same size, style and metadata rules as the rent-vs-buy chart (`planner.report.chart`).

    Raises:
        ImportError: matplotlib is not installed (`pip install planner[plot]`).
    """
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    knee = knees(points)
    bad = dominated(points, sweep)
    colours = {"rent": "tab:blue", "buy": "tab:orange", "hybrid": "tab:green"}
    with matplotlib.style.context("default"), matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for pricing in pricings(points):
            xy = curve(points, pricing)
            colour = colours.get(pricing, "tab:purple")
            ax.plot([x for x, _ in xy], [y for _, y in xy], color=colour, linewidth=1.5, label=pricing)
            ok = [(x, y) for x, y in xy if x not in bad[pricing]]
            off = [(x, y) for x, y in xy if x in bad[pricing]]
            ax.scatter([x for x, _ in ok], [y for _, y in ok], color=colour, zorder=3)
            if off:
                ax.scatter([x for x, _ in off], [y for _, y in off], facecolors="none", edgecolors=colour, zorder=3,
                           label=f"{pricing}: dominated")
            if pricing in knee:
                y = dict(xy)[knee[pricing]]
                ax.scatter([knee[pricing]], [y], s=180, facecolors="none", edgecolors="black", linewidths=1.5, zorder=4)
                ax.annotate(f"knee ({pricing}): {knee[pricing]:g}, ${y:,.0f}/month", xy=(knee[pricing], y),
                            xytext=(8, 8), textcoords="offset points")
        missing = [pt.value for pt in points if not pt.plans]
        if missing:
            ax.scatter(missing, [0] * len(missing), marker="x", color="tab:red", zorder=3, label="no plan")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:,.0f}"))
        who = f" of {sweep.workload}" if sweep.workload else ""
        ax.set_xlabel(f"{sweep.key}{who}")
        ax.set_ylabel("cost (US$ per month, capex over the horizon)")
        title = "cost of the SLO (Pareto front)" if sweep.key in SLO_KEYS else f"cost against {sweep.key}"
        ax.set_title(f"{name}: {title}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=CHART_DPI, format="png", metadata={"Software": None})
    return path
