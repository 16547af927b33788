"""Rent or buy (`planner.money.compare`, `planner compare`): cumulative cost, break-even month,
utilisation threshold and depreciation derived by hand; a hypothesis property; the command's
table, JSON golden and chart.

Refresh the golden after an intended change with `python -m pytest --update-golden`, then
review the diff.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from money_factories import buy, rent

from planner.money.compare import (
    break_even_month,
    compare,
    compare_plans,
    cumulative_costs,
    depreciation_usd_per_month,
    rent_utilization_threshold,
)
from planner.report.comparison import table_months

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "compare_seed001.json"
SEED001 = "problems/seed001-qwen7b-50-users.yaml"
TODAY = "2026-11-21"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# Formulas, by hand
# ---------------------------------------------------------------------------------------------


def test_cumulative_costs_pay_capex_at_month_zero():
    """Rent: m x 3,000 = 0, 3,000, 6,000. Buy: 24,000 + m x 1,000 = 24,000, 25,000, 26,000."""
    assert cumulative_costs(rent(3000), 2) == [0, 3000, 6000]
    assert cumulative_costs(buy(24000, 1000), 2) == [24000, 25000, 26000]
    assert len(cumulative_costs(buy(24000, 1000), 36)) == 37


def test_break_even_month_by_hand():
    """capex 24,000, buy 1,000/month, rent 3,000/month: buying saves 2,000 a month, so
    m* = ceil(24,000 / 2,000) = 12. Month 11: buy 24,000 + 11,000 = 35,000 > rent 33,000;
    month 12: buy 36,000 <= rent 36,000 (a tie counts)."""
    r, b = rent(3000), buy(24000, 1000)
    assert break_even_month(r, b, 36) == 12
    rc, bc = cumulative_costs(r, 12), cumulative_costs(b, 12)
    assert bc[11] > rc[11] and bc[12] <= rc[12]


def test_break_even_rounds_a_fraction_of_a_month_up():
    """capex 10,000, buy 500/month, rent 1,700/month: 10,000 / 1,200 = 8.33 months, so month 9.
    Month 8: buy 14,000 > rent 13,600; month 9: buy 14,500 <= rent 15,300."""
    assert break_even_month(rent(1700), buy(10000, 500), 36) == 9


def test_break_even_on_the_last_month_of_the_horizon_counts():
    """m* = 12 (above): within a 12-month horizon, not within an 11-month one."""
    assert break_even_month(rent(3000), buy(24000, 1000), 12) == 12
    assert break_even_month(rent(3000), buy(24000, 1000), 11) is None


def test_break_even_never_within_the_horizon():
    """capex 100,000, buy 1,000/month, rent 3,000/month: ceil(100,000 / 2,000) = 50 months,
    past a 36-month horizon (None), inside a 60-month one (50)."""
    assert break_even_month(rent(3000), buy(100000, 1000), 36) is None
    assert break_even_month(rent(3000), buy(100000, 1000), 60) == 50


def test_break_even_never_when_renting_is_cheaper_per_month():
    """Rent 285/month, buy 425/month (seed001's plans when its card was bought into colocation):
    buying falls further behind every month.
    Equal monthly costs never pay back the capex either, even a zero one."""
    assert break_even_month(rent(285), buy(18399, 425), 1000) is None
    assert break_even_month(rent(1000), buy(24000, 1000), 1000) is None
    assert break_even_month(rent(1000), buy(0, 1000), 36) is None


def test_break_even_without_capex_is_month_one():
    """Buying with no capex (GPUs on hand) and a lower monthly cost: ceil(0 / gap) = 0, so the first
    whole month, 1."""
    assert break_even_month(rent(3000), buy(0, 1000), 36) == 1


def test_utilization_threshold_by_hand():
    """u* = (capex + horizon x buy monthly) / (horizon x rent monthly)
    = (24,000 + 36 x 1,000) / (36 x 3,000) = 60,000 / 108,000 = 5/9 = 0.556: renting 5/9 of the
    time costs 5/9 x 108,000 = 60,000, the same as buying."""
    u = rent_utilization_threshold(rent(3000), buy(24000, 1000), 36)
    assert u == pytest.approx(5 / 9)
    assert u * 36 * 3000 == pytest.approx(24000 + 36 * 1000)


def test_utilization_threshold_above_one_is_reported_as_is():
    """seed001's costs with its card bought into colocation: (18,399 + 36 x 425) / (36 x 285)
    = 33,699 / 10,260 = 3.2845 > 1: renting wins even at full use, and the number says by how much."""
    assert rent_utilization_threshold(rent(285), buy(18399, 425), 36) == pytest.approx(33699 / 10260)
    assert 33699 / 10260 == pytest.approx(3.2845, abs=1e-4)


def test_depreciation_is_straight_line_without_salvage():
    """24,000 capex over 36 months: 24,000 / 36 = 666.67 a month; a rent plan has none."""
    assert depreciation_usd_per_month(buy(24000, 1000, 36)) == pytest.approx(666.6667, abs=1e-4)
    assert depreciation_usd_per_month(rent(3000)) == 0


def test_comparison_gathers_the_figures():
    c = compare(rent(3000), buy(24000, 1000))
    assert (c.horizon_months, c.break_even_month, c.cheaper) == (36, 12, "buy")
    assert c.cumulative_rent_usd[-1] == 108000 and c.cumulative_buy_usd[-1] == 60000
    assert c.rent_utilization_threshold == pytest.approx(5 / 9)
    assert c.buy_depreciation_usd_per_month == pytest.approx(24000 / 36)
    assert compare_plans([buy(24000, 1000), rent(3000)]) == c
    assert compare_plans([rent(3000)]) is None
    with pytest.raises(ValueError):
        compare(buy(1, 1), rent(1))


def test_long_horizons_list_every_third_month():
    """Up to 60 months every month is listed; 120 months: every 3rd (0, 3, ..., 120, 41 rows), plus
    the break-even month (ceil(100,000 / 2,000) = 50, not a multiple of 3)."""
    assert table_months(compare(rent(3000), buy(24000, 1000), 60)) == list(range(61))
    months = table_months(compare(rent(3000, 120), buy(100000, 1000, 120), 120))
    assert months == sorted(set(range(0, 121, 3)) | {50})


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

money = st.integers(min_value=0, max_value=2_000_000).map(float)
monthly = st.integers(min_value=0, max_value=200_000).map(float)
months = st.integers(min_value=1, max_value=240)


@given(capex=money, rent_m=monthly, buy_m=monthly, h1=months, h2=months)
def test_longer_horizon_never_moves_break_even_earlier(capex, rent_m, buy_m, h1, h2):
    """Lengthening the horizon can only find a break-even the shorter one missed; one found stays
    the same month."""
    short, long_ = sorted((h1, h2))
    r, b = rent(rent_m), buy(capex, buy_m)
    m_short, m_long = break_even_month(r, b, short), break_even_month(r, b, long_)
    if m_short is not None:
        assert m_long == m_short
    if m_long is not None and m_long <= short:
        assert m_short == m_long


@given(capex=money, rent_m=monthly, buy_m=monthly, horizon=months)
def test_closed_form_matches_month_by_month_search(capex, rent_m, buy_m, horizon):
    """m* is the first month 1..horizon whose cumulative buy cost is <= the rent one (whole
    dollars, so the comparison is exact), when buying is cheaper per month."""
    r, b = rent(rent_m), buy(capex, buy_m)
    rc, bc = cumulative_costs(r, horizon), cumulative_costs(b, horizon)
    search = next((m for m in range(1, horizon + 1) if bc[m] <= rc[m]), None) if rent_m > buy_m else None
    assert break_even_month(r, b, horizon) == search


@given(capex=money, rent_m=st.integers(min_value=1, max_value=200_000).map(float), buy_m=monthly, horizon=months)
def test_threshold_equalises_the_totals(capex, rent_m, buy_m, horizon):
    """Renting u* of the time over the horizon costs what buying does."""
    u = rent_utilization_threshold(rent(rent_m), buy(capex, buy_m), horizon)
    assert u * horizon * rent_m == pytest.approx(capex + horizon * buy_m)


# ---------------------------------------------------------------------------------------------
# planner compare
# ---------------------------------------------------------------------------------------------


def test_compare_command_prints_both_plans_and_writes_the_chart(run_cli, tmp_path, monkeypatch):
    """seed001 (objective compare, site: office): both plans side by side, the cumulative table, the
    threshold; --out writes a PNG (and report.html, tested in tests/test_report_html.py).
    Rent: one RTX 3090 pod, $0.39/h x 730 h = $284.70/month, $10,249 over 36 months. Buy: a tower-4
    ($9,400) with one RTX 4090 ($1,300) = $10,700 capex, depreciation 10,700 / 36 = $297/month;
    monthly 0.815 kW x PUE 1 x $0.0895 x 730 h + 10,700 x 12.5 % / 12 = 53.25 + 111.46 = $164.71;
    36 months 10,700 + 36 x 164.71 = $16,629. Break-even ceil(10,700 / (284.70 - 164.71)) = 90 months:
    never within 36. Threshold 16,629.4 / 10,249.2 = 1.623."""
    monkeypatch.chdir(REPO)
    code, out, err = run_cli(["compare", SEED001, "--no-timings", "--today", TODAY, "--out", tmp_path / "o"])
    assert code == 0, err
    assert "rent or buy over 36 months" in out
    assert "│ GPUs" in out and "1x rtx-3090-24gb" in out and "1x rtx-4090-24gb" in out
    for row in ("capex", "monthly", "total over 36 months", "depreciation per month"):
        assert f"│ {row}" in out
    assert "$10,700" in out and "$297" in out  # buy capex; 10,700 / 36 depreciation
    assert "│    36 │ $10,249 │ $16,629 │" in out  # the last month of the cumulative table
    assert "break-even: never within the 36-month horizon" in out
    assert "rent utilisation threshold: 1.623" in out
    assert "warning: the oldest price used" in out
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["bom.csv", "compare.md", "cumulative_cost.png", "deployments.csv", "plan.json", "plan.md",
                     "report.html"]
    png = (tmp_path / "o" / "cumulative_cost.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    md = (tmp_path / "o" / "compare.md").read_text(encoding="utf-8")
    assert "## Cumulative cost" in md and "Break-even: never within the 36-month horizon" in md


def test_chart_is_reproducible(tmp_path):
    """Same comparison, same bytes (fixed size, dpi and style; no software or date in the metadata)."""
    pytest.importorskip("matplotlib")
    from planner.report.chart import write_chart

    c = compare(rent(3000), buy(24000, 1000))
    a = write_chart(c, "demo", tmp_path / "a.png").read_bytes()
    b = write_chart(c, "demo", tmp_path / "b.png").read_bytes()
    assert a == b and a.startswith(PNG_MAGIC)
    assert b"Software" not in a and b"matplotlib" not in a


def test_compare_without_matplotlib_still_writes_the_other_files(run_cli, tmp_path, monkeypatch):
    """No matplotlib: a one-line note naming planner[plot], no traceback, exit 0, the rest written."""
    monkeypatch.chdir(REPO)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    code, out, err = run_cli(["compare", SEED001, "--no-timings", "--today", TODAY, "--out", tmp_path / "o"])
    assert code == 0, err
    assert "install planner[plot] for the chart" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "cumulative_cost.png").exists()
    assert (tmp_path / "o" / "plan.json").exists() and (tmp_path / "o" / "compare.md").exists()
    assert "break-even" in out


def test_compare_json_matches_golden_and_extends_solve(run_cli, update_golden, monkeypatch):
    """`planner compare --format json` is the solve contract plus the comparison keys; on a compare
    file it is exactly what `planner solve --format json` prints."""
    monkeypatch.chdir(REPO)
    argv = [SEED001, "--format", "json", "--no-timings", "--today", TODAY]
    code, out, err = run_cli(["compare", *argv])
    assert code == 0, err
    if update_golden:
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8")
    code, solved, err = run_cli(["solve", *argv])
    assert code == 0, err
    assert solved == out
    data = json.loads(out)
    assert data["break_even_month"] is None
    assert data["rent_utilization_threshold"] == pytest.approx((10700 + 36 * (0.815 * 0.0895 * 730 + 10700 * 0.125 / 12))
                                                              / (36 * 0.39 * 730), abs=1e-4)  # 1.6225
    rent_plan, buy_plan = (next(p for p in data["plans"] if p["pricing"] == k) for k in ("rent", "buy"))
    assert len(data["cumulative_usd"]["rent"]) == len(data["cumulative_usd"]["buy"]) == 37
    assert data["cumulative_usd"]["buy"][0] == pytest.approx(buy_plan["cost"]["capex_usd"])
    assert data["cumulative_usd"]["rent"][-1] == pytest.approx(rent_plan["cost"]["total_usd"], abs=1e-3)
    assert buy_plan["cost"]["depreciation_usd_per_month"] == pytest.approx(buy_plan["cost"]["capex_usd"] / 36, abs=1e-3)
    assert rent_plan["cost"]["depreciation_usd_per_month"] == 0  # a rent plan has no capex to depreciate


def test_compare_solves_any_objective_as_compare(run_cli, tmp_path):
    """A rent-objective file gets both plans; its solve JSON has no comparison keys."""
    spec = tmp_path / "small.yaml"
    spec.write_text("""
name: small
objective: rent
horizon_months: 24
site: office
gpus: {allow: [rtx-3090-24gb, rtx-4090-24gb]}
planning: {tp_degrees: [1, 2]}
workloads:
  - name: chat
    model: llama-3.1-8b
    precisions: [fp16, int8]
    traffic: {peak_qps: 4, input_tokens: 512, output_tokens: 128}
    slo: {ttft_ms: 1000, tpot_ms: 60}
""", encoding="utf-8")
    code, out, err = run_cli(["compare", spec, "--format", "json", "--no-timings", "--today", TODAY])
    assert code == 0, err
    data = json.loads(out)
    assert data["objective"] == "compare" and sorted(p["pricing"] for p in data["plans"]) == ["buy", "rent"]
    assert len(data["cumulative_usd"]["rent"]) == 25
    rent_plan, buy_plan = (next(p["cost"] for p in data["plans"] if p["pricing"] == k) for k in ("rent", "buy"))
    gap = rent_plan["monthly_usd"] - buy_plan["monthly_usd"]
    expected = max(1, math.ceil(buy_plan["capex_usd"] / gap)) if gap > 0 else None
    assert data["break_even_month"] == (expected if expected is None or expected <= 24 else None)
    code, out, err = run_cli(["compare", spec, "--no-timings", "--today", TODAY])
    assert code == 0 and "(the file says objective rent)" in out and "break-even:" in out
    code, out, err = run_cli(["compare", spec, "--format", "markdown", "--no-timings", "--today", TODAY])
    assert code == 0 and out.startswith("# small: rent or buy") and "| month | rent | buy |" in out
    code, out, err = run_cli(["solve", spec, "--format", "json", "--no-timings", "--today", TODAY])
    assert code == 0 and "break_even_month" not in json.loads(out)


def test_compare_takes_a_price_catalogue(run_cli, tmp_path, monkeypatch):
    """--catalog reaches the plans as in `planner solve`: a cheaper RTX 3090 card ($999 instead of
    the shipped $1,499) lowers seed001's buy capex and the buy curve's month-0 value with it."""
    monkeypatch.chdir(REPO)
    mine = tmp_path / "mine.yaml"
    mine.write_text("gpu_prices:\n  - {gpu: rtx-3090-24gb, usd_per_gpu: 999, condition: used, confidence: high,\n"
                    "     source: test quote, as_of: 2026-11-01}\n", encoding="utf-8")
    argv = [SEED001, "--format", "json", "--no-timings", "--today", TODAY]
    shipped = json.loads(GOLDEN.read_text(encoding="utf-8"))
    code, out, err = run_cli(["compare", *argv, "--catalog", mine])
    assert code == 0, err
    data = json.loads(out)
    buy_cost = next(p["cost"] for p in data["plans"] if p["pricing"] == "buy")
    shipped_buy = next(p["cost"] for p in shipped["plans"] if p["pricing"] == "buy")
    assert buy_cost["capex_usd"] < shipped_buy["capex_usd"]
    assert data["cumulative_usd"]["buy"][0] == pytest.approx(buy_cost["capex_usd"])
    assert any(line["source"] == "test quote" for p in data["plans"] for line in p["bom"])
