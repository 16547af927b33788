"""User prices over the catalogue: the workload file's `costs:` section and `planner solve --catalog
FILE`. Each expected figure is derived by hand from the catalogue rows named in the docstring."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from small_spec import small_spec

from planner.catalog.overrides import apply_overrides, prices_for_spec
from planner.catalog.price_file import merge_catalog_text
from planner.catalog.prices import load_prices
from planner.errors import CatalogError, InfeasibleError, InputError
from planner.optimize.chain import solve_loaded
from planner.spec.loader import load_spec_text

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 21)


def _spec(qps: float = 6.0, gpus=("rtx-4090-24gb",), objective: str = "buy", extra: str = "") -> str:
    """tests/small_spec.py's problem, on an RTX 4090 and bought by default (into a colocation site,
    GeForce allowed there with gpus.datacenter_only: false)."""
    return small_spec(qps=qps, gpus=gpus, objective=objective, extra=extra, datacenter_only=False)


def _plan(text: str, **kw):
    return solve_loaded(load_spec_text(text, "small.yaml"), today=TODAY, **kw).plans[0]


def _line(plan, prefix: str):
    (line,) = [b for b in plan.bom if b.item.startswith(prefix)]
    return line


def _fleet(plan):
    return ([(h.id, n) for h, n in plan.hosts], [(c.gpu, n) for c, n in plan.cards])


# ---------------------------------------------------------------------------------------------
# costs: running costs
# ---------------------------------------------------------------------------------------------


def test_half_the_electricity_price_halves_the_energy_line():
    """6 QPS of Llama-3.1-8B fit one RTX 4090 (buy): one pcie-4 server (host 500 W) with one card
    (TDP 450 W). Mean draw 450 x 0.7 (gpu_power_utilization) + 500 = 815 W, so the energy line is
    0.815 kW x PUE 1.58 x $0.0895/kWh x 730 h = $84.13 per month; at $0.04475/kWh it is exactly half,
    $42.07 (the fleet does not change: nothing else in the plan depends on the electricity price)."""
    base = _plan(_spec())
    cheap = _plan(_spec(extra=f"costs: {{electricity_usd_per_kwh: {0.0895 / 2!r}}}"))
    assert _fleet(cheap) == _fleet(base)
    e0, e1 = _line(base, "Energy"), _line(cheap, "Energy")
    assert e0.quantity == pytest.approx(0.815)
    assert e0.total_usd == pytest.approx(0.815 * 1.58 * 0.0895 * 730, rel=1e-12)  # 84.13
    assert e1.total_usd == e0.total_usd / 2
    assert e1.source.startswith("workload file small.yaml: costs.electricity_usd_per_kwh; PUE: ")
    assert e0.source.startswith("U.S. EIA")
    assert e1.as_of == "2023-11-23"  # the energy line is dated by its older input, the catalogue's PUE
    assert cheap.monthly_usd == pytest.approx(base.monthly_usd - e0.total_usd / 2, rel=1e-12)


PROPS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(qps=st.floats(0.5, 20.0), factor=st.floats(0.05, 1.0))
def test_cheaper_electricity_never_makes_the_buy_plan_dearer(qps, factor):
    """The old plan stays feasible at the lower price and costs no more there, so the optimum over
    the horizon cannot rise (up to the solver's 1e-6 relative gap)."""
    gpus = ("rtx-4090-24gb", "rtx-3090-24gb")
    try:
        base = _plan(_spec(qps=qps, gpus=gpus))
    except InfeasibleError:
        return
    cheap = _plan(_spec(qps=qps, gpus=gpus, extra=f"costs: {{electricity_usd_per_kwh: {0.0895 * factor!r}}}"))
    assert cheap.total_usd <= base.total_usd * (1 + 1e-6)


def test_running_cost_overrides_are_cited_and_dated():
    """Every running cost set under costs: replaces the catalogue row, cites the workload file and
    carries the plan's date; unset ones keep the catalogue row."""
    loaded = load_spec_text(_spec(extra="costs: {pue: 1.2, colocation_usd_per_kw_month: 0, "
                                        "maintenance_fraction_of_capex_per_year: 0.05}"), "p.yaml")
    shipped = load_prices()
    book = prices_for_spec(shipped, loaded, _cat(), today=TODAY)
    assert book.running["pue"].value == 1.2 and book.running["colocation_usd_per_kw_month"].value == 0
    assert book.running["maintenance_fraction_of_capex_per_year"].value == 0.05
    assert book.running["pue"].source == "workload file p.yaml: costs.pue"
    assert book.running["pue"].as_of == "2026-11-21"
    assert book.running["electricity_usd_per_kwh"] is shipped.running["electricity_usd_per_kwh"]
    assert shipped.running["pue"].value == 1.58, "the cached catalogue is not modified"
    plain = load_spec_text(_spec(), "p.yaml")
    assert prices_for_spec(shipped, plain, _cat(), today=TODAY) is shipped


def _cat():
    from planner.catalog.store import load_catalog

    return load_catalog()


# ---------------------------------------------------------------------------------------------
# costs: card and rental prices
# ---------------------------------------------------------------------------------------------


def test_gpu_usd_makes_an_unpriced_gpu_buyable():
    """catalog/gpu_prices.csv has no L40S price, so a buy plan on L40S alone is infeasible; with
    costs.gpu_usd {l40s-48gb: 7500} the card is bought into a pcie-4 server (the L40S is a PCIe
    card), and the bill of materials lists it at $7,500 each, cited to the workload file."""
    with pytest.raises(InfeasibleError):
        _plan(_spec(gpus=("l40s-48gb",)))
    plan = _plan(_spec(gpus=("l40s-48gb",), extra="costs: {gpu_usd: {l40s-48gb: 7500}}"))
    card = _line(plan, "GPU L40S 48GB")
    assert card.unit_usd == 7500 and card.total_usd == 7500 * card.quantity and card.quantity >= 1
    assert card.source == "workload file small.yaml: costs.gpu_usd.l40s-48gb"
    assert card.as_of == "2026-11-21" and card.cost_kind == "capex"


def test_gpu_usd_by_alias_replaces_the_catalogue_price():
    """An alias names the GPU (`RTX 4090`); the $1,300 catalogue card becomes $1,000, so the same
    one-card plan's capex drops by exactly $300 (maintenance is a share of capex, so it is compared
    separately)."""
    base = _plan(_spec())
    cheap = _plan(_spec(extra="costs: {gpu_usd: {RTX 4090: 1000}}"))
    assert _fleet(cheap) == _fleet(base)
    assert _line(base, "GPU GeForce RTX 4090").unit_usd == 1300
    assert _line(cheap, "GPU GeForce RTX 4090").unit_usd == 1000
    assert cheap.capex_usd == pytest.approx(base.capex_usd - 300, rel=1e-12)


def test_rent_override_changes_the_monthly_cost_by_the_price_difference():
    """AWS rents the L4 at $0.8048 per GPU-hour on demand (g6.xlarge). At $0.50 per GPU-hour for
    every L4 offer the same number n of GPUs costs (0.8048 - 0.50) x 730 h = $222.504 less per GPU
    per month: monthly = n x $365 instead of n x $587.504."""
    extra = "rent: {providers: [aws]}"
    base = _plan(_spec(gpus=("l4-24gb",), objective="rent", extra=extra))
    cheap = _plan(_spec(gpus=("l4-24gb",), objective="rent",
                        extra=extra + "\ncosts: {rent_usd_per_gpu_hour: {l4-24gb: 0.5}}"))
    n = sum(h.slots * k for h, k in base.hosts)
    assert n == sum(h.slots * k for h, k in cheap.hosts) and n >= 1
    assert base.monthly_usd == pytest.approx(n * 0.8048 * 730, rel=1e-12)
    assert cheap.monthly_usd == pytest.approx(n * 0.5 * 730, rel=1e-12)
    assert base.monthly_usd - cheap.monthly_usd == pytest.approx(n * 222.504, rel=1e-12)
    (line,) = cheap.bom
    assert line.source.startswith("workload file small.yaml: costs.rent_usd_per_gpu_hour.l4-24gb (on-demand); "
                                  "instance: skypilot-org")
    assert line.as_of == "2026-11-21"


def test_rent_override_sets_the_plan_tier_only():
    """Only the plan's tier changes (spot here), on every offer of the GPU, also where the
    catalogue had no spot price; other tiers and other GPUs keep their prices."""
    shipped = load_prices()
    from planner.spec.schema import Costs

    costs = Costs(rent_usd_per_gpu_hour={"l40s-48gb": 0.9})
    book = apply_overrides(shipped, costs, {"l40s-48gb": "l40s-48gb"}, pricing="spot", source="workload file x",
                           as_of="2026-11-21")
    for old, new in zip(shipped.offers, book.offers):
        if old.gpu == "l40s-48gb":
            assert new.spot_usd_per_gpu_hour == 0.9 and new.on_demand_usd_per_gpu_hour == old.on_demand_usd_per_gpu_hour
        else:
            assert new is old
    assert any(o.gpu == "l40s-48gb" and o.spot_usd_per_gpu_hour is None for o in shipped.offers)


@pytest.mark.parametrize("costs, message", [
    ("{gpu_usd: {l40x: 5000}}", "6:25: costs.gpu_usd.l40x: unknown gpu 'l40x'"),
    ("{gpu_usd: {H100: 20000, h100-sxm-80gb: 21000}}",
     "costs.gpu_usd.h100-sxm-80gb: 'h100-sxm-80gb' and 'H100' both name h100-sxm-80gb"),
    ("{rent_usd_per_gpu_hour: {rtx-6000-ada-48gb: 1.0}}", "no cloud offer of rtx-6000-ada-48gb to reprice"),
])
def test_bad_gpu_names_under_costs_are_located(costs, message):
    loaded = load_spec_text(_spec(extra=f"costs: {costs}"), "p.yaml")
    if "rtx-6000" in message and any(o.gpu == "rtx-6000-ada-48gb" for o in load_prices().offers):
        pytest.skip("the catalogue now rents the RTX 6000 Ada")
    with pytest.raises(CatalogError) as exc:
        prices_for_spec(load_prices(), loaded, _cat(), today=TODAY)
    assert any(message in line for line in exc.value.lines()), exc.value.lines()
    assert all(line.startswith("p.yaml:") for line in exc.value.lines())


def test_traffic_profile_loads_and_an_all_zero_day_is_rejected():
    hourly = [0.1] * 8 + [1.0] * 12 + [0.5] * 4
    text = _spec(objective="rent").replace("output_tokens: 128}", f"output_tokens: 128, profile: {hourly}}}")
    assert load_spec_text(text, "p.yaml").spec.workloads[0].traffic.profile == hourly
    with pytest.raises(InputError) as exc:
        load_spec_text(text.replace(str(hourly), str([0] * 24)), "p.yaml")
    assert "workloads[0].traffic.profile: every hour is 0" in str(exc.value)


def test_a_profile_hour_below_a_thousandth_of_the_peak_is_rejected():
    """An hour at 1e-12 of the peak (the fuzzing found it) is below the solver's feasibility tolerance (1e-6): with
    min_replicas 0 the solver served it with no replica and verify failed (exit 1). Such an hour
    is now a located input error at its own index (here 0.0001); 0 (idle) and 0.001 load."""
    hourly = [1.0] * 23 + [0.0001]  # (a YAML 1.1 float needs a dot: 1e-12 would be read as text)
    text = _spec(objective="rent").replace("output_tokens: 128}", f"output_tokens: 128, profile: {hourly}}}")
    with pytest.raises(InputError) as exc:
        load_spec_text(text, "p.yaml")
    assert "workloads[0].traffic.profile[23]: must be 0 (an idle hour) or at least 0.001 of the peak" in str(exc.value)
    for ok in ([1.0] * 23 + [0.0], [1.0] * 23 + [0.001]):
        load_spec_text(text.replace(str(hourly), str(ok)), "p.yaml")


# ---------------------------------------------------------------------------------------------
# --catalog FILE
# ---------------------------------------------------------------------------------------------

CHEAP_L4 = """\
cloud_offers:
  - provider: mycloud
    gpu: l4-24gb
    instance_type: l4-box
    gpus_per_instance: 1
    region: eu-home
    offer_kind: cloud
    on_demand_usd_per_gpu_hour: 0.30
    confidence: high
    source: mycloud quote
    as_of: 2026-10-01
"""


def test_catalog_file_offer_is_used_by_the_plan(run_cli, tmp_path):
    """The cheapest shipped on-demand L4 is $0.78 per GPU-hour (RunPod); a user offer at $0.30 wins,
    each 1-GPU instance costing 0.30 x 730 h = $219 per month, and its row cites the user's source."""
    problem, catalog = tmp_path / "p.yaml", tmp_path / "mine.yaml"
    problem.write_text(_spec(gpus=("l4-24gb",), objective="rent"), encoding="utf-8")
    catalog.write_text(CHEAP_L4, encoding="utf-8")
    code, out, err = run_cli(["solve", problem, "--format", "json", "--no-timings", "--today", "2026-11-21"])
    assert code == 0, err
    base = json.loads(out)["plans"][0]
    code, out, err = run_cli(["solve", problem, "--format", "json", "--no-timings", "--today", "2026-11-21",
                              "--catalog", catalog])
    assert code == 0, err
    plan = json.loads(out)["plans"][0]
    (line,) = plan["bom"]
    assert "mycloud l4-box" in line["item"] and line["unit_usd"] == pytest.approx(219.0)
    assert (line["source"], line["as_of"]) == ("mycloud quote", "2026-10-01")
    assert plan["cost"]["monthly_usd"] == pytest.approx(219.0 * line["quantity"])
    assert plan["cost"]["monthly_usd"] < base["cost"]["monthly_usd"]
    code, _out, err = run_cli(["candidates", problem, "--catalog", catalog])
    assert code == 0, err


def test_malformed_catalog_file_exits_2_with_locations(run_cli, tmp_path):
    problem, catalog = tmp_path / "p.yaml", tmp_path / "mine.yaml"
    problem.write_text(_spec(gpus=("l4-24gb",), objective="rent"), encoding="utf-8")
    catalog.write_text(CHEAP_L4.replace("0.30", "cheap").replace("gpu: l4-24gb", "gpu: l4-24g")
                       .replace("    source: mycloud quote\n", "") + "gpu_price: []\n", encoding="utf-8")
    for command in ("solve", "candidates"):
        code, out, err = run_cli([command, problem, "--catalog", catalog])
        assert code == 2 and not out and "Traceback" not in err
        lines = err.splitlines()
        assert f"error: {catalog}:3:10: cloud_offers[0].gpu: unknown gpu 'l4-24g'" in lines[1]
        assert lines[0] == f"error: {catalog}:2:5: cloud_offers[0]: missing required column 'source'"
        assert f"{catalog}:8:33: cloud_offers[0].on_demand_usd_per_gpu_hour: not a number (got 'cheap')" in err
        assert f"{catalog}:11:1: gpu_price: unknown key 'gpu_price'; did you mean 'gpu_prices'?" in err
    code, _out, err = run_cli(["solve", problem, "--catalog", tmp_path / "absent.yaml"])
    assert code == 2 and "absent.yaml: cannot read file" in err


def test_catalog_rows_replace_by_key_and_add_otherwise():
    """A part of a shipped server is replaced by (server, item) and the server's base price follows;
    a running cost is replaced by key; a new network item and a new GPU price are added."""
    shipped = load_prices()
    part = shipped.server("pcie-4").parts[0]
    text = f"""
server_parts:
  - {{server: pcie-4, item: "{part.item}", category: {part.category}, quantity: 1, unit_usd: {part.unit_usd + 100},
     confidence: low, source: my quote, as_of: 2026-01-02}}
running_costs:
  - {{key: hours_per_month, value: 720, unit: h, confidence: high, source: 30-day months, as_of: 2026-01-01}}
network:
  - {{id: my-switch, item: a switch, kind: switch, ports: 48, unit_usd: 900, confidence: low, source: me,
     as_of: 2026-01-01}}
gpu_prices:
  - {{gpu: l40s-48gb, usd_per_gpu: 7000, condition: new, confidence: low, source: me, as_of: 2026-01-01}}
"""
    book = merge_catalog_text(shipped, text, "mine.yaml", _cat().gpus.rows)
    assert book.server("pcie-4").base_usd == pytest.approx(shipped.server("pcie-4").base_usd + 100)
    assert [p.item for p in book.server("pcie-4").parts] == [p.item for p in shipped.server("pcie-4").parts]
    assert book.running_value("hours_per_month") == 720 and book.running["pue"] is shipped.running["pue"]
    assert [n.id for n in book.network] == [n.id for n in shipped.network] + ["my-switch"]
    assert book.gpu_prices["l40s-48gb"].usd_per_gpu == 7000 and len(book.gpu_prices) == len(shipped.gpu_prices) + 1
    assert book.offers == shipped.offers
    with pytest.raises(CatalogError) as exc:
        merge_catalog_text(shipped, text.replace("value: 720", "value: -1"), "mine.yaml", _cat().gpus.rows)
    assert exc.value.lines() == ["mine.yaml:6:35: running_costs[0].value: must be > 0 (got -1)"]


def test_server_sizes_are_powers_of_two():
    """A 6-slot server is refused where it is read: TP groups are powers of two, and the packing
    rows and the placement are exact only for hosts of 1, 2, 4 or 8 GPUs (a 6-slot server holds
    one TP4 group, not 1.5)."""
    text = """\
servers:
  - {id: pcie-6, name: six, gpu_forms: pcie, gpus_per_server: 6, host_power_w: 2000, rack_units: 4, confidence: low,
     source: me, as_of: 2026-01-01}
server_parts:
  - {server: pcie-6, item: chassis, category: chassis, quantity: 1, unit_usd: 100, confidence: low, source: me,
     as_of: 2026-01-01}
"""
    with pytest.raises(CatalogError) as exc:
        merge_catalog_text(load_prices(), text, "mine.yaml", _cat().gpus.rows)
    assert exc.value.lines() == ["mine.yaml:2:63: servers[0].gpus_per_server: must be a power of two up to 8 "
                                 "(got 6); expected 1, 2, 4 or 8"]


def test_readme_prices_example_merges():
    """The example in catalog/README-prices.md is a valid catalogue file and does what it says."""
    readme = (REPO / "catalog" / "README-prices.md").read_text(encoding="utf-8")
    section = readme.split("## Your own prices", 1)[1]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    text = "\n".join(line[2:] for line in block.splitlines())  # the block is indented by two spaces
    shipped = load_prices()
    book = merge_catalog_text(shipped, text, "MY.yaml", _cat().gpus.rows)
    assert len(book.offers) == len(shipped.offers) + 1 and book.offers[-1].provider == "mycloud"
    assert book.gpu_prices["rtx-4090-24gb"].usd_per_gpu == 1450
    assert book.running_value("electricity_usd_per_kwh") == 0.21


@pytest.mark.parametrize("text, lines", [
    ("", ["m.yaml:1:1: the file is empty; expected lists such as cloud_offers: or gpu_prices:"]),
    ("- a\n", [("m.yaml:1:1: the top level must be a mapping of lists; expected keys among cloud_offers, "
               "cloud_offers_local, exchange_rates, gpu_prices, servers, server_parts, network, running_costs")]),
    ("network: 5\n", ["m.yaml:1:10: network: must be a list of rows; expected items of column: value"]),
    ("network:\n  - 5\n", [("m.yaml:2:5: network[0]: must be a mapping of column: value; expected the columns of "
                           "catalog/network.csv")]),
    ("running_costs:\n  - {key: pue, value: {a: 1}, unit: r, confidence: low, source: s, as_of: 2026-01-01}\n",
     ["m.yaml:2:16: running_costs[0].value: expected a single value, got a mapping"]),
    (("gpu_prices:\n  - {gpu: l4-24gb, gpu: l4-24gb, usd_per_gpu: 1, condition: new, confidence: low, source: s, "
     "as_of: 2026-01-01}\n"),
     ["m.yaml:2:20: gpu_prices[0].gpu: duplicate key 'gpu' (first at line 2); expected each key once"]),
])
def test_catalog_file_structure_errors(text, lines):
    with pytest.raises(CatalogError) as exc:
        merge_catalog_text(load_prices(), text, "m.yaml", _cat().gpus.rows)
    assert exc.value.lines() == lines
