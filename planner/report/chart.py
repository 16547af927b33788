"""The cumulative-cost chart of a rent-or-buy comparison (matplotlib, optional: `planner[plot]`).

Fixed size, resolution and style and no software or date in its metadata, so the same comparison
gives the same bytes with the same matplotlib.
"""
from __future__ import annotations

from pathlib import Path

from planner.money.compare import Comparison
from planner.report.comparison import money_words
from planner.report.currency import USD, Currency

CHART_SIZE_IN = (8.0, 4.5)


CHART_DPI = 100


CHART_FILE = "cumulative_cost.png"


def write_chart(cmp: Comparison, name: str, path: Path, cur: Currency = USD) -> Path:
    """Write the cumulative cost of both plans over the horizon as a PNG (`cumulative_figure`).

    Fixed size (8 x 4.5 in), 100 dpi, the default matplotlib style, no mathtext (a $ is a dollar)
    and no metadata beyond the image, so the same comparison gives the same bytes with the same
    matplotlib. Uses the Agg canvas directly (no pyplot, no change to the caller's backend).

    Raises:
        ImportError: matplotlib is not installed (`pip install planner[plot]`).
    """
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with matplotlib.style.context("default"), matplotlib.rc_context({"text.parse_math": False}):
        fig = cumulative_figure(cmp, name, cur)
        FigureCanvasAgg(fig)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=CHART_DPI, format="png", metadata={"Software": None})
    return path


def cumulative_figure(cmp: Comparison, name: str, cur: Currency = USD):
    """The cumulative cost of both plans over the horizon, as a matplotlib Figure (no canvas).

    Rent and buy lines (money in `cur` against months; present values, said in the title, when
    the comparison discounts), the break-even month as a labelled vertical line,
    or a note when there is none within the horizon. Call it inside the caller's style and rc
    context (`write_chart`, `planner.report.html_charts`).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    n = cmp.horizon_months
    months = list(range(n + 1))
    signed = cur.signed
    fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    ax = fig.add_subplot()
    ax.plot(months, [cur.amount(v) for v in cmp.cumulative_rent_usd], label=f"rent ({signed(cmp.rent.monthly_usd)}/month)",
            color="tab:blue", linewidth=2)
    ax.plot(months, [cur.amount(v) for v in cmp.cumulative_buy_usd],
            label=f"buy ({signed(cmp.buy.capex_usd)} capex + {signed(cmp.buy.monthly_usd)}/month)",
            color="tab:orange", linewidth=2)
    m = cmp.break_even_month
    if m is not None:
        ax.axvline(m, color="tab:green", linestyle="--", linewidth=1.5, label=f"break-even: month {m}")
        ax.annotate(f"break-even: month {m}", xy=(m, cur.amount(cmp.cumulative_buy_usd[m])), xytext=(6, -14),
                    textcoords="offset points", color="tab:green")
    else:
        ax.plot([], [], " ", label=f"no break-even within {n} months")
    ax.set_xlim(0, n)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{cur.symbol}{v:,.0f}"))
    ax.set_xlabel("months from start")
    ax.set_ylabel(f"cumulative cost ({'US$' if cur.is_usd else cur.code})")
    words = money_words(cmp.money, n)
    ax.set_title(f"{name}: cumulative cost, rent vs buy" + (f"\n({words})" if words else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig
