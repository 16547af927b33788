"""Money over time in rent or buy (`costs.discount_rate_per_year`, `costs.resale_fraction`,
`planner.money.compare.Discounting`) and the plan currency (`currency:`,
`planner.report.currency`): present values, break-even and threshold derived by hand; rate 0 gives
the undiscounted figures exactly; a CNY plan's totals are the USD ones times the catalogue rate.

Convention under test (module docstring of planner/money/compare.py): r = (1 + r_year)^(1/12) - 1,
capex at month 0, monthly costs at the end of each month, resale at the end of the horizon month.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from money_factories import buy, rent

from planner.money.compare import (
    UNDISCOUNTED,
    Discounting,
    break_even_month,
    compare,
    cumulative_costs,
    depreciation_usd_per_month,
    npv_usd,
    rent_utilization_threshold,
)

REPO = Path(__file__).resolve().parent.parent
SEED001 = REPO / "problems" / "seed001-qwen7b-50-users.yaml"
TODAY = "2026-11-21"
CNY_PER_USD = 6.9858
"""catalog/exchange_rates.csv, CFETS central parity of 27 Jan 2026 (100 USD = 698.58 CNY)."""
EUR_PER_USD = 0.8515
"""catalog/exchange_rates.csv, Federal Reserve H.10 January 2026 average (1 / 1.1744 USD per EUR)."""


TEN = Discounting(rate_per_year=0.10)

# ---------------------------------------------------------------------------------------------
# Formulas, by hand
# ---------------------------------------------------------------------------------------------


def test_monthly_rate_and_annuity_by_hand():
    """r = 1.1^(1/12) - 1 = 0.0079741 (12 months compound to exactly 10 %); v^36 = 1.1^-3 = 0.751315;
    a(36) = (1 - 0.751315) / 0.0079741 = 31.1865 months; a(1) = v = 0.992089."""
    assert TEN.rate_per_month == pytest.approx(0.0079741404, abs=1e-9)
    assert (1 + TEN.rate_per_month) ** 12 == pytest.approx(1.1, abs=1e-12)
    assert TEN.factor(36) == pytest.approx(1 / 1.331, abs=1e-12)
    assert TEN.annuity(36) == pytest.approx((1 - 1 / 1.331) / 0.0079741404, rel=1e-8)
    assert TEN.annuity(36) == pytest.approx(31.1865, abs=1e-4)
    assert TEN.annuity(1) == pytest.approx(1 / 1.0079741404, rel=1e-9)
    assert TEN.annuity(0) == 0 and UNDISCOUNTED.annuity(36) == 36


def test_discounted_break_even_by_hand():
    """Rent $1,000/month; buy $20,000 capex + $200/month; 10 %/year. Undiscounted: 20,000 / 800 =
    25 months. Discounted: buying has caught up when 800 x a(m) >= 20,000, i.e. a(m) >= 25:
    v^m <= 1 - 0.0079741 x 25 = 0.800646, m >= -ln(0.800646) / ln(1.0079741)
    = 0.222337 / 0.0079425 = 27.99, so month 28. Check: a(27) = 24.2049 (buy 20,000 + 200 x
    24.2049 = 24,841 > rent 24,205), a(28) = 25.0055 (buy 25,001 <= rent 25,005)."""
    r, b = rent(1000), buy(20000, 200)
    assert break_even_month(r, b, 36) == 25
    assert break_even_month(r, b, 36, TEN) == 28
    assert break_even_month(r, b, 27, TEN) is None
    rc, bc = cumulative_costs(r, 36, TEN), cumulative_costs(b, 36, TEN)
    assert rc[27] == pytest.approx(24204.88, abs=0.01) and bc[27] == pytest.approx(24840.98, abs=0.01)
    assert rc[28] == pytest.approx(25005.49, abs=0.01) and bc[28] == pytest.approx(25001.10, abs=0.01)
    assert bc[27] > rc[27] and bc[28] <= rc[28]


def test_npv_by_hand():
    """Same plans over 36 months at 10 %/year: rent NPV = 1,000 x 31.1865 = 31,186.46; buy NPV =
    20,000 + 200 x 31.1865 = 26,237.29, against undiscounted totals of 36,000 and 27,200."""
    c = compare(rent(1000), buy(20000, 200), money=TEN)
    assert c.npv_rent_usd == pytest.approx(31186.46, abs=0.01)
    assert c.npv_buy_usd == pytest.approx(26237.29, abs=0.01)
    assert c.cheaper == "buy" and c.break_even_month == 28


def test_resale_lowers_buy_npv_by_the_discounted_resale():
    """Resale 20 % of $20,000 = $4,000 at month 36, worth 4,000 / 1.331 = 3,005.26 today: buy NPV
    26,237.29 - 3,005.26 = 23,232.03; rent (no capex) unchanged. Undiscounted the full 4,000 comes
    off: 27,200 - 4,000 = 23,200. Only the horizon month carries it."""
    with_resale = Discounting(0.10, 0.20)
    r, b = rent(1000), buy(20000, 200)
    assert npv_usd(b, 36, TEN) - npv_usd(b, 36, with_resale) == pytest.approx(4000 / 1.331, abs=1e-6)
    assert npv_usd(b, 36, with_resale) == pytest.approx(23232.03, abs=0.01)
    assert npv_usd(r, 36, with_resale) == npv_usd(r, 36, TEN)
    assert npv_usd(b, 36, Discounting(0, 0.2)) == pytest.approx(23200)
    assert cumulative_costs(b, 36, with_resale)[:36] == cumulative_costs(b, 36, TEN)[:36]


def test_resale_can_bring_the_break_even_to_the_horizon():
    """Rate 0, capex $24,000, buy $1,000/month, rent $3,000/month: month 12 (24,000 / 2,000), so
    none within 11 months. Resale 10 % at month 11: buy 24,000 - 2,400 + 11,000 = 32,600 <= rent
    33,000, so month 11; resale 5 %: 33,800 > 33,000, still none."""
    r, b = rent(3000), buy(24000, 1000)
    assert break_even_month(r, b, 11) is None
    assert break_even_month(r, b, 11, Discounting(0, 0.10)) == 11
    assert break_even_month(r, b, 11, Discounting(0, 0.05)) is None


def test_discounting_can_rule_out_any_break_even():
    """Buying saves $100/month against $20,000 capex at 10 %/year: the savings forever are worth
    100 / 0.0079741 = 12,540 < 20,000, so no horizon, however long, breaks even (undiscounted: 200
    months)."""
    r, b = rent(300), buy(20000, 200)
    assert break_even_month(r, b, 240) == 200
    assert break_even_month(r, b, 240, TEN) is None


def test_discounted_threshold_by_hand():
    """u* = NPV(buy) / (a(36) x rent monthly) = 26,237.29 / 31,186.46 = 0.8413; with 20 % resale
    23,232.03 / 31,186.46 = 0.7449."""
    assert rent_utilization_threshold(rent(1000), buy(20000, 200), 36, TEN) == pytest.approx(0.84130, abs=1e-5)
    u = rent_utilization_threshold(rent(1000), buy(20000, 200), 36, Discounting(0.1, 0.2))
    assert u == pytest.approx(23232.03 / 31186.46, abs=1e-6)


def test_depreciation_to_the_salvage_value():
    """$24,000 capex, 20 % resale, 36 months: (24,000 - 4,800) / 36 = 533.33 a month."""
    assert depreciation_usd_per_month(buy(24000, 0), 0.2) == pytest.approx(533.3333, abs=1e-4)


def test_rate_zero_gives_the_undiscounted_figures_exactly():
    """An explicit rate 0 and resale 0 is the plain model, float for float."""
    r, b = rent(3000), buy(24000, 1000)
    assert compare(r, b, money=Discounting(0.0, 0.0)) == compare(r, b)
    assert compare(r, b).cumulative_buy_usd == [24000 + m * 1000 for m in range(37)]


def test_bad_discounting_is_refused():
    with pytest.raises(ValueError):
        Discounting(-0.1)
    with pytest.raises(ValueError):
        Discounting(0.1, 1.5)


money = st.integers(min_value=0, max_value=2_000_000).map(float)
monthly = st.integers(min_value=0, max_value=200_000).map(float)
rates = st.sampled_from([0.0, 0.03, 0.08, 0.15, 0.4])
resales = st.sampled_from([0.0, 0.1, 0.5])


@given(capex=money, rent_m=monthly, buy_m=monthly, horizon=st.integers(1, 240), rate=rates, resale=resales)
def test_discounted_break_even_is_the_first_month_buying_has_caught_up(capex, rent_m, buy_m, horizon, rate, resale):
    """The closed form agrees with a month-by-month search of the present-value curves, wherever
    the two curves are not within a cent of each other at the months that decide it."""
    d = Discounting(rate, resale)
    r, b = rent(rent_m, horizon), buy(capex, buy_m, horizon)
    rc, bc = cumulative_costs(r, horizon, d), cumulative_costs(b, horizon, d)
    if any(abs(bc[m] - rc[m]) < 0.01 for m in range(1, horizon + 1)):
        return  # a near tie: floating point decides either way
    search = next((m for m in range(1, horizon + 1) if bc[m] <= rc[m]), None) if rent_m > buy_m else None
    assert break_even_month(r, b, horizon, d) == search


@given(capex=money, rent_m=st.integers(1, 200_000).map(float), buy_m=monthly, horizon=st.integers(1, 240),
       rate=rates, resale=resales)
def test_discounted_threshold_equalises_the_present_values(capex, rent_m, buy_m, horizon, rate, resale):
    """Renting u* of the time costs, at present value, what buying does."""
    d = Discounting(rate, resale)
    u = rent_utilization_threshold(rent(rent_m), buy(capex, buy_m), horizon, d)
    assert u * rent_m * d.annuity(horizon) == pytest.approx(npv_usd(buy(capex, buy_m), horizon, d))


# ---------------------------------------------------------------------------------------------
# Through the CLI: discounting and currency
# ---------------------------------------------------------------------------------------------


def _seed001(tmp_path: Path, head: str) -> Path:
    """seed001 with extra top-level keys (`head`), written next to nothing it needs."""
    text = SEED001.read_text(encoding="utf-8").replace("name: seed001-qwen7b-50-users\n",
                                                        f"name: seed001-qwen7b-50-users\n{head}", 1)
    path = tmp_path / "seed001.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _json(run_cli, path: Path, *extra: str) -> dict:
    code, out, err = run_cli(["compare", path, "--format", "json", "--no-timings", "--today", TODAY, *extra])
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def usd_golden() -> dict:
    return json.loads((REPO / "tests" / "golden" / "compare_seed001.json").read_text(encoding="utf-8"))


def test_discounted_comparison_json(run_cli, tmp_path, usd_golden):
    """seed001 at 10 %/year with 20 % resale: the plans are the golden's (the MILP is unchanged),
    the comparison is at present value: rent NPV = 284.70 x a(36) = 284.70 x 31.1865 = 8,878.8;
    buy NPV = capex + monthly x 31.1865 - 0.2 x capex / 1.331."""
    data = _json(run_cli, _seed001(tmp_path, "costs: {discount_rate_per_year: 0.1, resale_fraction: 0.2}\n"))
    cost = {p["pricing"]: p["cost"] for p in data["plans"]}
    gold = {p["pricing"]: p["cost"] for p in usd_golden["plans"]}
    assert cost["rent"]["total_usd"] == gold["rent"]["total_usd"] and cost["buy"]["capex_usd"] == gold["buy"]["capex_usd"]
    a = 31.1865
    assert data["npv_usd"]["rent"] == pytest.approx(gold["rent"]["monthly_usd"] * a, abs=0.05)
    capex, monthly = gold["buy"]["capex_usd"], gold["buy"]["monthly_usd"]
    assert data["npv_usd"]["buy"] == pytest.approx(capex + monthly * a - 0.2 * capex / 1.331, abs=0.05)
    assert data["cumulative_usd"]["buy"][-1] == data["npv_usd"]["buy"]
    assert data["discounting"]["resale_usd"] == pytest.approx(0.2 * capex, abs=1e-3)
    assert data["discounting"]["annuity_months"] == pytest.approx(a, abs=1e-4)
    assert cost["buy"]["depreciation_usd_per_month"] == pytest.approx(0.8 * capex / 36, abs=1e-3)
    assert "npv_usd" not in usd_golden and "discounting" not in usd_golden


def test_discounted_comparison_table_says_so(run_cli, tmp_path):
    path = _seed001(tmp_path, "costs: {discount_rate_per_year: 0.1}\n")
    code, out, err = run_cli(["compare", path, "--no-timings", "--today", TODAY])
    assert code == 0, err
    assert "Cumulative cost (present value at 10 %/year)" in out
    assert "│ NPV over 36 months" in out
    assert "break-even (present value at 10 %/year): never within the 36-month horizon" in out
    code, md, err = run_cli(["compare", path, "--format", "markdown", "--no-timings", "--today", TODAY])
    assert "## Cumulative cost (present value at 10 %/year)" in md


def test_cny_plan_totals_are_the_usd_ones_times_the_rate(run_cli, tmp_path, usd_golden):
    """currency: CNY changes no computation: every `_usd` field is the golden's, and each converted
    figure is USD x 6.9858, e.g. the rent plan's 284.70 USD a month = 1,988.86 CNY and its 36-month
    total 10,249.20 USD = 71,598.86 CNY."""
    data = _json(run_cli, _seed001(tmp_path, "currency: CNY\n"))
    assert data["currency"]["code"] == "CNY" and data["currency"]["rate_per_usd"] == CNY_PER_USD
    assert data["currency"]["as_of"] == "2026-01-27" and "CFETS" in data["currency"]["source"]
    assert "9 months before 2026-11-21" in data["currency"]["warning"]
    for plan, gold in zip(data["plans"], usd_golden["plans"]):
        assert {k: v for k, v in plan["cost"].items() if k != "in_currency"} == gold["cost"]
        conv = plan["cost"]["in_currency"]
        assert conv["code"] == "CNY"
        for key in ("capex", "monthly", "total", "depreciation_per_month"):
            assert conv[key] == pytest.approx(gold["cost"][f"{key}_usd" if key != "depreciation_per_month"
                                                          else "depreciation_usd_per_month"] * CNY_PER_USD, abs=1e-3)
    rent_cost = next(p["cost"]["in_currency"] for p in data["plans"] if p["pricing"] == "rent")
    assert rent_cost["monthly"] == pytest.approx(284.70 * 6.9858, abs=1e-3) == pytest.approx(1988.86, abs=0.01)
    assert rent_cost["total"] == pytest.approx(71598.86, abs=0.01)
    assert data["cumulative_in_currency"]["rent"][-1] == pytest.approx(71598.86, abs=0.01)
    assert {k: v for k, v in data.items() if k not in ("currency", "cumulative_in_currency", "plans")} == \
        {k: v for k, v in usd_golden.items() if k != "plans"}


def test_cny_plan_prints_yuan_everywhere(run_cli, tmp_path):
    """Terminal, Markdown and report.html print CN¥ figures (284.70 x 6.9858 = 1,988.86: CN¥1,989 a
    month) and the rate with its date and staleness warning; no dollar figure is left in the tables."""
    path = _seed001(tmp_path, "currency: CNY\n")
    code, out, err = run_cli(["solve", path, "--no-timings", "--today", TODAY, "--out", tmp_path / "o"])
    assert code == 0, err
    assert "Rent: CN¥1,989 per month (CN¥71,599 over 36 months)" in out
    assert "unit CN¥" in out and "CN¥/month" in out
    assert "money in CNY (CN¥) at 6.9858 CNY per USD, as of 2026-01-27" in out
    assert "warning: the CNY exchange rate is from 2026-01-27" in out
    md = (tmp_path / "o" / "plan.md").read_text(encoding="utf-8")
    assert "## Rent: CN¥1,989 per month" in md and "| unit CN¥ | total CN¥ |" in md
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "Rent: CN¥1,989 per month" in page and "6.9858 CNY per USD" in page
    assert "$1,989" not in out + md + page and "$71,599" not in out + md + page  # (the description has $ in it)
    assert "unit $" not in out + md + page and "$/month" not in out + md + page


def test_eur_plan(run_cli, tmp_path):
    """EUR at 0.8515 per USD: 284.70 x 0.8515 = 242.42, printed €242; the rate's date, 2026-01-30,
    is within six months of 2026-05-01, so no staleness warning then."""
    path = _seed001(tmp_path, "currency: EUR\n")
    code, out, err = run_cli(["compare", path, "--no-timings", "--today", "2026-05-01"])
    assert code == 0, err
    assert "│ monthly" in out and "€242" in out and "money in EUR (€) at 0.8515 EUR per USD" in out
    assert "exchange rate is from" not in out
    data = _json(run_cli, path, "--today", "2026-05-01")
    assert data["currency"]["warning"] is None and data["currency"]["rate_per_usd"] == EUR_PER_USD
    rent_cost = next(p["cost"]["in_currency"] for p in data["plans"] if p["pricing"] == "rent")
    assert rent_cost["monthly"] == pytest.approx(242.42, abs=0.01)
    assert math.isclose(data["cumulative_in_currency"]["rent"][1], rent_cost["monthly"], abs_tol=1e-3)
