"""Reserved (committed-use) prices, China-market offers priced in CNY, and the diagnosis when no
offer can be rented: the figures are derived by hand from the catalogue rows they come from
(catalog/cloud_offers.csv, catalog/cloud_offers_local.csv, catalog/exchange_rates.csv; their
sources are in catalog/README-prices.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from small_spec import small_spec

from planner.catalog.overrides import prices_for_spec
from planner.catalog.price_file import merge_catalog_text
from planner.catalog.price_rows import MARKETS, PRICING_TIERS
from planner.catalog.prices import load_prices
from planner.catalog.store import load_catalog
from planner.errors import CatalogError
from planner.money.costs import RunningRates, rental_hosts
from planner.optimize.chain import solve_loaded
from planner.spec.loader import load_spec_text

REPO = Path(__file__).resolve().parent.parent
G2_1Y = 325.07215214 / 730   # GCP g2-standard-4 (1x L4), us-central1: month_1y / 730 h = $0.445304/h
G2_OD = 0.706832             # the same machine on demand, $/h
CNY_PER_USD = 6.9858         # CFETS central parity of 2026-01-27: 100 USD = 698.58 CNY
L20_CNY = 14.4991            # Alibaba ecs.gn8is.2xlarge (1x L20), CNY per hour as published


def _offer(provider: str, instance_type: str):
    (o,) = [o for o in load_prices().offers if o.provider == provider and o.instance_type == instance_type]
    return o


def _plan(text: str, today=None):
    import datetime as _dt

    out = solve_loaded(load_spec_text(text, "small.yaml"), today=today or _dt.date(2026, 11, 21))
    return out.plans[0]


# ---------------------------------------------------------------------------------------------
# Reserved prices
# ---------------------------------------------------------------------------------------------


def test_reserved_plan_is_cheaper_by_the_catalogue_discount():
    """One L4 per GCP g2-standard-4, the only provider allowed. The 1-year committed price is
    325.07215214 / 730 = $0.445304 per GPU-hour against $0.706832 on demand, 37.0 % less. Price does
    not change which deployment is cheapest per replica, so both plans rent the same n instances:
    on demand n x 0.706832 x 730 = n x $515.99 a month, reserved n x 0.445304 x 730 = n x $325.07."""
    base = small_spec(qps=4.0, gpus=("l4-24gb",), extra="rent: {providers: [gcp]}")
    on_demand = _plan(base)
    reserved = _plan(base.replace("rent: {providers: [gcp]}", "rent: {providers: [gcp], pricing: reserved_1y}"))
    (host, n), = on_demand.hosts
    assert host.offer.instance_type == "g2-standard-4" and host.slots == 1 and n >= 1
    assert [(h.id, m) for h, m in reserved.hosts] == [(host.id, n)]
    assert on_demand.monthly_usd == pytest.approx(n * G2_OD * 730, rel=1e-9)
    assert reserved.monthly_usd == pytest.approx(n * 0.445304 * 730, rel=1e-9)
    assert reserved.monthly_usd / on_demand.monthly_usd == pytest.approx(0.445304 / 0.706832, rel=1e-9)
    assert 1 - 0.445304 / 0.706832 == pytest.approx(0.370, abs=5e-4)
    line, = reserved.bom
    assert line.item.endswith("reserved-1y") and line.unit_usd == pytest.approx(G2_1Y * 730, abs=1e-3)


def test_three_year_prices_are_below_one_year_prices():
    """Every offer with both committed terms prices the 3-year term lower, and both below on demand."""
    both = [o for o in load_prices().offers if o.reserved_1y_usd_per_gpu_hour and o.reserved_3y_usd_per_gpu_hour]
    assert {o.provider for o in both} == {"gcp"} and len(both) == 5
    for o in both:
        assert o.reserved_3y_usd_per_gpu_hour < o.reserved_1y_usd_per_gpu_hour < o.on_demand_usd_per_gpu_hour, o


# ---------------------------------------------------------------------------------------------
# China-market offers priced in CNY
# ---------------------------------------------------------------------------------------------


def test_cny_price_is_converted_with_the_catalogue_rate():
    """ecs.gn8is.2xlarge is published at CNY 14.4991/h; at 6.9858 CNY per USD that is
    14.4991 / 6.9858 = $2.0755 per GPU-hour. The 8-GPU size: CNY 115.40483/h per instance =
    14.425604 per GPU, 115.40483 / 6.9858 = $16.520 per instance-hour."""
    one = _offer("alibaba", "ecs.gn8is.2xlarge")
    assert one.market == "china" and one.local.currency == "CNY"
    assert one.local.per_gpu_hour("on_demand") == L20_CNY
    assert one.usd_per_gpu_hour("on_demand") == pytest.approx(2.0755, abs=5e-5)
    assert one.usd_per_gpu_hour("on_demand") == L20_CNY / CNY_PER_USD
    eight = _offer("alibaba", "ecs.gn8is-8x.32xlarge")
    assert eight.usd_per_instance_hour("on_demand") == pytest.approx(16.520, abs=5e-4)
    assert load_prices().rates["CNY"].units_per_usd == CNY_PER_USD


def test_every_local_offer_is_a_china_offer_in_cny_and_every_usd_offer_is_global():
    book = load_prices()
    local = [o for o in book.offers if o.local is not None]
    assert local and all(o.market == "china" and o.local.currency == "CNY" for o in local)
    assert all(o.market == "global" for o in book.offers if o.local is None)
    for o in local:
        for t in PRICING_TIERS:
            p = o.local.per_gpu_hour(t)
            assert o.usd_per_gpu_hour(t) == (None if p is None else p / CNY_PER_USD), (o.instance_type, t)


def test_china_plan_bills_in_usd_and_cites_the_cny_price_and_rate():
    """A 4 QPS Llama-3.1-8B chat on the L20 alone, renting in China: each gn8is.2xlarge costs
    14.4991 / 6.9858 x 730 = $1,515.12 a month; the BOM line names the published CNY price and the
    rate, cites both sources and is dated by the older of the two (the rate, 2026-01-27)."""
    plan = _plan(small_spec(gpus=("l20-48gb",), extra="gpus: {market: china, allow: [l20-48gb]}")
                 .replace("gpus: {allow: [l20-48gb]}\n", ""))
    for host, _n in plan.hosts:
        assert host.offer.provider == "alibaba" and host.offer.market == "china"
    line = next(b for b in plan.bom if "ecs.gn8is.2xlarge" in b.item)
    assert line.unit_usd == pytest.approx(L20_CNY / CNY_PER_USD * 730, abs=1e-3)
    assert line.unit_usd == pytest.approx(1515.12, abs=0.01)
    assert line.item.endswith("on-demand, published CNY 14.4991/h at 6.9858 CNY per USD")
    assert "alicloud" in line.source and "exchange rate: Xinhua" in line.source
    assert line.as_of == "2026-01-27"


def test_market_picks_the_offers():
    """gpus.market global (the default) rents only global offers, china only China offers, any both."""
    cat = load_catalog()
    book = load_prices()
    gpus = [cat.gpu("a100-sxm-80gb")]
    rates = RunningRates.from_book(book)

    def providers(market):
        return {h.offer.provider for h in rental_hosts(gpus, book, rates, "on_demand", ["any"], True, market)}

    assert "alibaba" not in providers("global") and providers("china") == {"alibaba"}
    assert providers("any") == providers("global") | {"alibaba"}
    assert MARKETS == ("global", "china")


def test_a_rent_override_replaces_the_published_price_at_its_tier():
    """costs.rent_usd_per_gpu_hour {l20-48gb: 1.5} sets $1.50 on every L20 offer at on_demand; the
    published CNY price of that tier is dropped (the BOM no longer cites it), spot keeps its CNY."""
    loaded = load_spec_text(small_spec(gpus=("l20-48gb",), extra="costs: {rent_usd_per_gpu_hour: {l20-48gb: 1.5}}"),
                            "p.yaml")
    book = prices_for_spec(load_prices(), loaded, load_catalog())
    o = next(o for o in book.offers if o.instance_type == "ecs.gn8is.2xlarge")
    assert o.usd_per_gpu_hour("on_demand") == 1.5 and o.local.per_gpu_hour("on_demand") is None
    assert o.local.per_gpu_hour("spot") == 2.6787 and o.usd_per_gpu_hour("spot") == 2.6787 / CNY_PER_USD


def test_catalogue_file_rate_reconverts_shipped_local_offers():
    """A --catalog file with CNY at 7.0 per USD turns the shipped CNY 14.4991 into 14.4991 / 7 =
    $2.0713; its own CNY offer is converted at that rate too: CNY 7/h -> $1.00."""
    text = """\
exchange_rates:
  - {currency: CNY, units_per_usd: 7.0, confidence: high, source: my bank, as_of: 2026-11-01}
cloud_offers_local:
  - {provider: mycloud, gpu: l20-48gb, instance_type: box, gpus_per_instance: 1, region: cn-x, offer_kind: cloud,
     market: china, currency: CNY, on_demand_local_per_gpu_hour: 7, confidence: high, source: quote,
     as_of: 2026-11-01}
"""
    book = merge_catalog_text(load_prices(), text, "MY.yaml", load_catalog().gpus.rows)
    shipped = next(o for o in book.offers if o.instance_type == "ecs.gn8is.2xlarge")
    assert shipped.usd_per_gpu_hour("on_demand") == pytest.approx(2.0713, abs=5e-5)
    assert shipped.local.rate.source == "my bank"
    mine = book.offers[-1]
    assert (mine.provider, mine.market, mine.usd_per_gpu_hour("on_demand")) == ("mycloud", "china", 1.0)


def test_local_offer_without_a_rate_is_a_located_error():
    text = """\
cloud_offers_local:
  - {provider: p, gpu: l20-48gb, instance_type: x, gpus_per_instance: 1, region: r, offer_kind: cloud,
     market: china, currency: GBP, on_demand_local_per_gpu_hour: 2, confidence: low, source: s, as_of: 2026-01-01}
"""
    with pytest.raises(CatalogError) as exc:
        merge_catalog_text(load_prices(), text, "m.yaml", load_catalog().gpus.rows)
    assert exc.value.lines() == ["m.yaml:3:31: cloud_offers_local[0].currency: no exchange rate for 'GBP'; "
                                 "expected a currency of catalog/exchange_rates.csv: CNY, EUR"]


def test_malformed_rate_and_market_are_located():
    text = """\
exchange_rates:
  - {currency: usd, units_per_usd: 0, confidence: low, source: s, as_of: 2026-01-01}
cloud_offers:
  - {provider: p, gpu: l4-24gb, instance_type: x, gpus_per_instance: 1, region: r, offer_kind: cloud,
     on_demand_usd_per_gpu_hour: 1, market: mars, confidence: low, source: s, as_of: 2026-01-01}
"""
    with pytest.raises(CatalogError) as exc:
        merge_catalog_text(load_prices(), text, "m.yaml", load_catalog().gpus.rows)
    assert exc.value.lines() == [
        "m.yaml:2:16: exchange_rates[0].currency: not a currency code (got 'usd'); expected an ISO 4217 code "
        "such as CNY",
        "m.yaml:2:36: exchange_rates[0].units_per_usd: must be > 0 (got 0)",
        "m.yaml:5:45: cloud_offers[0].market: unknown value 'mars'; expected one of global, china",
    ]


# ---------------------------------------------------------------------------------------------
# No rentable offer: the cause and the fix, not the SLO
# ---------------------------------------------------------------------------------------------

NO_TIER = """\
name: tiers
objective: rent
rent: {pricing: reserved_3y}
gpus: {allow: [l40s-48gb]}
workloads:
  - name: chat
    model: llama-3.1-8b
    traffic: {peak_qps: 4, input_tokens: 512, output_tokens: 128}
    slo: {ttft_ms: 1000, tpot_ms: 60}
"""


def test_no_price_at_the_tier_names_the_rent_override_not_the_slo(run_cli, tmp_path):
    """The L40S has offers (AWS g6e.xlarge, Nebius, RunPod) priced on demand and spot only, so at
    reserved_3y no L40S deployment can be rented although one meets the SLO: exit 3, and the fix is
    costs.rent_usd_per_gpu_hour (or another tier), not a looser SLO."""
    path = tmp_path / "tiers.yaml"
    path.write_text(NO_TIER, encoding="utf-8")
    code, out, err = run_cli(["solve", path])
    assert code == 3 and out == ""
    lines = err.splitlines()
    assert lines[0] == "error: no rent plan for tiers: some workloads have no candidate"
    assert lines[1].startswith("error: workload chat (llama-3.1-8b): no rent candidate; rejected by reason: ")
    assert lines[1].endswith(", not rentable 1")
    assert lines[2:] == [
        "error:   1 deployment meets the SLO but none is rentable: GPUs l40s-48gb",
        "error:   no catalogue offer has a reserved_3y price for the allowed GPUs (l40s-48gb); their offers are "
        "priced on_demand, spot",
        "error:   To fix: give the price in the workload file, costs.rent_usd_per_gpu_hour: {l40s-48gb: "
        "<USD per GPU-hour>} (the per-GPU rental price at rent.pricing reserved_3y, applied to every catalogue "
        "offer of the GPU), or choose another rent.pricing; the SLO is not the cause "
        f"(`planner candidates {path}` lists the deployments that meet it).",
    ]
    assert "relax the SLO" not in err


def test_the_named_fix_works():
    """Following the advice, costs.rent_usd_per_gpu_hour {l40s-48gb: 1.0} prices every L40S offer
    at reserved_3y: the same file now solves at $1.00 x 730 = $730 per GPU-month."""
    plan = _plan(NO_TIER + "costs: {rent_usd_per_gpu_hour: {l40s-48gb: 1.0}}\n")
    gpus = sum(h.slots * n for h, n in plan.hosts)
    assert gpus >= 1 and plan.monthly_usd == pytest.approx(gpus * 1.0 * 730, rel=1e-9)


def test_market_and_missing_offers_are_named_with_their_fixes(run_cli, tmp_path):
    """Renting in China, the A800 has no offer at all and the L40S only global offers: each cause
    gets its line and its fix; the SLO is not blamed."""
    path = tmp_path / "cn.yaml"
    path.write_text(NO_TIER.replace("rent: {pricing: reserved_3y}\n", "")
                    .replace("gpus: {allow: [l40s-48gb]}",
                             "gpus: {market: china, allow: [a800-sxm-80gb, l40s-48gb], "
                             "deny: [h20-96gb, l20-48gb, h800-sxm-80gb]}"), encoding="utf-8")
    code, _out, err = run_cli(["solve", path])
    assert code == 3
    assert "error:   the catalogue has no cloud offer of the allowed GPUs (a800-sxm-80gb)\n" in err
    assert ("error:   no catalogue offer of the allowed GPUs (l40s-48gb) is rented in the china market "
            "(gpus.market)\n") in err
    assert ("To fix: add offers with --catalog FILE (cloud_offers:); add china-market offers with --catalog FILE "
            "(cloud_offers: ... market: china) or set gpus.market: any; the SLO is not the cause") in err


def test_china_rent_problem_rents_only_china_offers():
    """problems/china-rent-h20.yaml (gpus.market: china) rents H20 and L20 instances from Alibaba
    Cloud only; its monthly cost is the sum of its BOM lines."""
    from planner.spec.loader import load_spec

    out = solve_loaded(load_spec(REPO / "problems" / "china-rent-h20.yaml"))
    plan = out.plans[0]
    assert {h.gpu for h, _ in plan.hosts} <= {"h20-96gb", "l20-48gb"}
    assert all(h.offer.market == "china" and h.offer.local is not None for h, _ in plan.hosts)
    assert plan.monthly_usd == pytest.approx(sum(b.total_usd for b in plan.bom), rel=1e-12)


def test_instances_too_small_keep_the_slo_among_the_fixes(run_cli, tmp_path):
    """Llama-3.1-70B in INT4 (39.5 GiB of weights) needs two L4s; at reserved_1y the only L4 offer
    is GCP's one-GPU g2-standard-4, and the L40S has no reserved_1y price at all. The L4 is too big
    for its instances (a looser SLO could allow another TP, so the SLO stays among the fixes); the
    L40S lacks the tier."""
    path = tmp_path / "mixed.yaml"
    path.write_text(NO_TIER.replace("reserved_3y", "reserved_1y").replace("[l40s-48gb]", "[l4-24gb, l40s-48gb]")
                    .replace("model: llama-3.1-8b", "model: llama-3.1-70b\n    precisions: [int4]"),
                    encoding="utf-8")
    code, _out, err = run_cli(["solve", path])
    assert code == 3
    assert ("error:   the reserved_1y offers of the allowed GPUs (l4-24gb) have too few GPUs per instance for "
            "these deployments' tensor-parallel size\n") in err
    assert "no catalogue offer has a reserved_1y price for the allowed GPUs (l40s-48gb)" in err
    assert "; add larger instances with --catalog FILE; or relax the SLO, allow more GPUs or precisions" in err
    assert "the SLO is not the cause" not in err
