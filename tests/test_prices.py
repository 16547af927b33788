"""The priced tables (catalog/cloud_offers.csv, gpu_prices.csv, servers.csv, server_parts.csv,
network.csv, running_costs.csv): provenance, GPU ids, cross-checks against the figures they were
transcribed from, and located errors for malformed rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.catalog.price_rows import (
    CONFIDENCE,
    PRICE_FILES,
    PRICING_TIERS,
    RUNNING_KEYS,
    gpu_form,
)
from planner.catalog.prices import load_prices, parse_prices
from planner.catalog.store import load_catalog
from planner.errors import CatalogError, InputError

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture
def book():
    return load_prices()


def _texts(**replace: str) -> dict[str, tuple[str, str]]:
    """The shipped files as parse_prices takes them, with some files' text replaced."""
    texts = {}
    for name in PRICE_FILES:
        key = name.removesuffix(".csv")
        text = replace.get(key, (CATALOG_DIR / name).read_text(encoding="utf-8"))
        texts[name] = (text, f"catalog/{name}")
    return texts


def _gpu_ids() -> set[str]:
    return set(load_catalog().gpus.rows)


def _all_rows(book):
    for o in book.offers:
        yield f"offer {o.provider} {o.instance_type}", o
    for g in book.gpu_prices.values():
        yield f"gpu price {g.gpu}", g
    for s in book.servers:
        yield f"server {s.id}", s
        for p in s.parts:
            yield f"part {s.id} {p.item}", p
    for n in book.network:
        yield f"network {n.id}", n
    for r in book.running.values():
        yield f"running {r.key}", r


# ---------------------------------------------------------------------------------------------
# Provenance and ids
# ---------------------------------------------------------------------------------------------


def test_every_row_has_source_full_as_of_and_confidence(book):
    """Every row of the six tables names a source, a full YYYY-MM-DD as_of and a confidence of
    high|medium|low; the walk covers all six tables (an empty table would pass vacuously)."""
    rows = list(_all_rows(book))
    bad = [(what, r.source, r.as_of, r.confidence) for what, r in rows
           if not r.source.strip() or not DATE.fullmatch(r.as_of) or r.confidence not in CONFIDENCE]
    assert not bad
    kinds = {what.split()[0] for what, _ in rows}
    assert kinds == {"offer", "gpu", "server", "part", "network", "running"}


def test_every_gpu_id_is_a_catalogue_id(book, cat):
    """Offers and purchase prices name GPUs by their catalog/gpus.csv id, exactly."""
    used = {o.gpu for o in book.offers} | set(book.gpu_prices)
    assert used and used <= set(cat.gpus.rows), sorted(used - set(cat.gpus.rows))


def test_no_table_reads_the_shared_reference_at_run_time():
    """No module reads the gathered reference outside the project: the loaders read only the shipped
    files under catalog/ (copied with their sources)."""
    modules = sorted((Path(__file__).resolve().parent.parent / "planner").rglob("*.py"))
    assert len(modules) > 20
    for path in modules:
        text = path.read_text(encoding="utf-8")
        assert "shared/reference" not in text and "/work/" not in text, path


# ---------------------------------------------------------------------------------------------
# Cross-checks against the reference figures
# ---------------------------------------------------------------------------------------------


def _offer(book, provider, instance_type):
    found = [o for o in book.offers if o.provider == provider and o.instance_type == instance_type]
    assert len(found) == 1, (provider, instance_type, found)
    return found[0]


def test_aws_p5_48xlarge_matches_the_reference_instance_price(book):
    """AWS p5.48xlarge: $6.88 per GPU-hour x 8 GPUs = $55.04 per instance-hour, the on-demand
    instance price the reference README states (after AWS's mid-2025 P5 price cut)."""
    p5 = _offer(book, "aws", "p5.48xlarge")
    assert p5.gpu == "h100-sxm-80gb" and p5.gpus_per_instance == 8
    assert p5.usd_per_gpu_hour("on_demand") == pytest.approx(6.88)
    assert p5.usd_per_instance_hour("on_demand") == pytest.approx(55.04)


@pytest.mark.parametrize(
    "provider, instance_type, instance_usd",
    [
        ("aws", "p4d.24xlarge", 21.9576),        # reference note: instance 21.9576 od = 2.7447 x 8
        ("lambda", "gpu_8x_a100", 15.92),         # reference note: 15.92 = 1.99 x 8
        ("lambda", "gpu_4x_a6000", 4.36),         # reference note: 4x 4.36 = 1.09 x 4
        ("nebius", "gpu-l40s-d (4-GPU preset)", 9.1376),  # reference note: 4x 9.1376 = 2.2844 x 4
    ],
)
def test_instance_prices_match_reference_notes(book, provider, instance_type, instance_usd):
    """Per-GPU price x GPUs per instance gives back the instance price quoted in the reference notes."""
    assert _offer(book, provider, instance_type).usd_per_instance_hour("on_demand") == pytest.approx(instance_usd, abs=1e-4)


@pytest.mark.parametrize(
    "instance_type, gpus, hour, month_1y, month_3y",
    [
        # Cyclenerd pricing.yml (generated 2026-07-30), us-central1: hour, month_1y, month_3y
        ("a2-highgpu-1g", 1, 3.673385, 1689.3711392, 938.56707798),
        ("a2-highgpu-8g", 8, 29.38708, 13514.9691136, 7508.53662384),
        ("a3-highgpu-1g", 1, 11.0612499878219, 5601.26008308, 3546.37477674),
        ("a3-highgpu-8g", 8, 88.4899999025753, 44810.08066464, 28370.99821392),
        ("g2-standard-4", 1, 0.706832255, 325.07215214, 232.19438719),
    ],
)
def test_gcp_prices_are_the_machine_prices_per_gpu(book, instance_type, gpus, hour, month_1y, month_3y):
    """GCP rows: the dump's machine price per hour / GPUs on demand, and its committed-use month
    prices / 730 h / GPUs for 1 and 3 years, e.g. a3-highgpu-8g: 88.49 / 8 = 11.06125 on demand,
    44810.08066464 / 730 / 8 = 7.672959 (1 year), 28370.99821392 / 730 / 8 = 4.858048 (3 years)."""
    o = _offer(book, "gcp", instance_type)
    assert o.gpus_per_instance == gpus
    assert o.on_demand_usd_per_gpu_hour == pytest.approx(hour / gpus, abs=1e-6)
    assert o.reserved_1y_usd_per_gpu_hour == pytest.approx(month_1y / 730 / gpus, abs=1e-6)
    assert o.reserved_3y_usd_per_gpu_hour == pytest.approx(month_3y / 730 / gpus, abs=1e-6)


def test_hgx8_base_is_the_semianalysis_non_gpu_bom(book):
    """hgx-8 costs, without GPUs, the nine SemiAnalysis DGX H100 line items:
    5200 + 7860 + 3456 + 10908 + 563 + 875 + 463 + 1200 + 1485 = 32,010."""
    hgx = book.server("hgx-8")
    assert len(hgx.parts) == 9
    assert hgx.base_usd == 5200 + 7860 + 3456 + 10908 + 563 + 875 + 463 + 1200 + 1485 == 32010


def test_pcie4_base_is_the_2026_workstation_bom(book):
    """pcie-4 = Threadripper Pro 3,900 + WRX90 board 1,200 + 512 GB DDR5 2,500 + 4 TB NVMe 600
    + 2 kW PSU 600 + 4U chassis 400 + cooler 200 = 9,400."""
    assert book.server("pcie-4").base_usd == 3900 + 1200 + 2500 + 600 + 600 + 400 + 200 == 9400


def test_server_types_are_the_five_named_ones(book):
    """Exactly hgx-8 (SXM baseboard), oam-8 (OAM), pcie-8 (pcie) and the rack pcie-4 and tower-4
    (pcie and consumer cards); every one states its PSUs and mount."""
    forms = {s.id: (s.gpu_forms, s.gpus_per_server, s.mount) for s in book.servers}
    assert forms == {
        "hgx-8": (frozenset({"baseboard"}), 8, "rack"),
        "oam-8": (frozenset({"oam"}), 8, "rack"),
        "pcie-8": (frozenset({"pcie"}), 8, "rack"),
        "pcie-4": (frozenset({"pcie", "consumer"}), 4, "rack"),
        "tower-4": (frozenset({"pcie", "consumer"}), 4, "tower"),
    }
    assert all(s.host_power_w > 0 and s.rack_units > 0 and s.psu_w for s in book.servers)


def test_usable_psu_is_what_is_left_after_redundancy(book):
    """Usable W = (PSUs - redundant) x rating: pcie-8 2+2 x 2,700 = 5,400; oam-8 3+3 x 3,000 = 9,000;
    hgx-8 4+2 x 3,300 = 13,200 (above the DGX H100's 10.2 kW = 4,600 W host + 8 x 700 W);
    pcie-4 and tower-4 one 2,000 W PSU."""
    assert {s.id: s.psu_usable_w for s in book.servers} == {
        "pcie-8": 5400, "oam-8": 9000, "hgx-8": 13200, "pcie-4": 2000, "tower-4": 2000}


def test_running_costs_hold_exactly_the_six_keys(book):
    """running_costs.csv has each key once; hours_per_month is 8760 / 12 = 730; PUE >= 1."""
    assert set(book.running) == set(RUNNING_KEYS)
    assert book.running_value("hours_per_month") == 8760 / 12 == 730
    assert book.running_value("pue") >= 1.0
    assert 0 < book.running_value("gpu_power_utilization") <= 1
    with pytest.raises(CatalogError, match="unknown running cost"):
        book.running_value("electricity")


def test_ranges_store_their_midpoint(book):
    """Where a source gives a range (usd_low-usd_high), the main column holds its midpoint, e.g.
    A100 80GB used 8,000-15,000 -> 11,500."""
    ranged = [g for g in book.gpu_prices.values() if g.usd_low is not None and g.usd_high is not None]
    assert ranged
    for g in ranged:
        assert g.usd_per_gpu == pytest.approx((g.usd_low + g.usd_high) / 2), g.gpu
    assert book.gpu_prices["a100-sxm-80gb"].usd_per_gpu == 11500


def test_every_priced_gpu_fits_some_server(book, cat):
    """A GPU with a purchase price can be bought into a server type of its form (no superchips)."""
    forms = set().union(*(s.gpu_forms for s in book.servers))
    unplaceable = [g for g in book.gpu_prices if gpu_form(cat.gpus.rows[g]) not in forms]
    assert not unplaceable


def test_offers_are_power_of_two_shapes_with_a_price(book):
    """gpus_per_instance is 1, 2, 4 or 8 and every offer publishes at least one tier."""
    for o in book.offers:
        assert o.gpus_per_instance in (1, 2, 4, 8)
        assert o.offer_kind in ("cloud", "marketplace")
        assert any(o.usd_per_gpu_hour(t) is not None for t in PRICING_TIERS), o


def test_oldest_as_of_is_the_minimum(book):
    dates = [r.as_of for _, r in _all_rows(book)]
    assert book.oldest_as_of() == min(dates)


# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------


def test_pricing_tiers_and_missing_prices(book):
    """An unpublished tier is None (instance price too); an unknown tier is an input error."""
    p5e = _offer(book, "aws", "p5e.48xlarge")
    assert p5e.usd_per_gpu_hour("on_demand") is None
    assert p5e.usd_per_instance_hour("on_demand") is None
    assert p5e.usd_per_instance_hour("spot") == pytest.approx(1.7536 * 8)
    assert p5e.usd_per_gpu_hour("reserved_1y") is None
    with pytest.raises(InputError, match="unknown pricing 'ondemand'"):
        p5e.usd_per_gpu_hour("ondemand")


@pytest.mark.parametrize(
    "gpu, form",
    [
        ("h100-sxm-80gb", "baseboard"),
        ("mi300x-192gb", "oam"),
        ("gaudi3-128gb", "oam"),
        ("b200-180gb", "baseboard"),
        ("l40s-48gb", "pcie"),
        ("rtx-6000-ada-48gb", "pcie"),
        ("rtx-4090-24gb", "consumer"),
        ("gh200-96gb", "superchip"),
        ("gb200-186gb", "superchip"),
    ],
)
def test_gpu_form(cat, gpu, form):
    assert gpu_form(cat.gpus.rows[gpu]) == form


# ---------------------------------------------------------------------------------------------
# Located errors
# ---------------------------------------------------------------------------------------------

OFFER_HEADER = (CATALOG_DIR / "cloud_offers.csv").read_text().splitlines()[0]


def test_malformed_rows_are_located_and_reported_together():
    """Every bad cell is reported as catalog/<file>.csv:<line>: <column>: what, all at once, with a
    did-you-mean for a misspelt GPU id."""
    offers = OFFER_HEADER + "\n" + (
        "aws,h100-sxm-80g,p5.x,3,us-east-1,cloud,abc,,,,high,somewhere,2026-13-01,\n"
        "aws,h100-sxm-80gb,p5.y,8,us-east-1,rental,,,,,sure,,2026-06-03,\n"
    )
    with pytest.raises(CatalogError) as info:
        parse_prices(_texts(cloud_offers=offers), _gpu_ids())
    lines = info.value.lines()
    expected = [
        "catalog/cloud_offers.csv:2: gpus_per_instance: must be a power of two up to 8 (got 3); expected 1, 2, 4 or 8",
        "catalog/cloud_offers.csv:2: on_demand_usd_per_gpu_hour: not a number (got 'abc'); expected a number",
        "catalog/cloud_offers.csv:2: as_of: not a date (got '2026-13-01'); expected YYYY-MM-DD",
        "catalog/cloud_offers.csv:3: offer_kind: unknown value 'rental'; expected one of cloud, marketplace",
        ("catalog/cloud_offers.csv:3: on_demand_usd_per_gpu_hour: no price in any tier; expected at least one of "
         "on_demand_usd_per_gpu_hour, spot_usd_per_gpu_hour, reserved_1y_usd_per_gpu_hour, reserved_3y_usd_per_gpu_hour"),
        "catalog/cloud_offers.csv:3: confidence: unknown value 'sure'; expected one of high, medium, low",
        "catalog/cloud_offers.csv:3: source: is empty; expected a value",
    ]
    for e in expected:
        assert e in lines, (e, lines)
    unknown = [ln for ln in lines if ln.startswith("catalog/cloud_offers.csv:2: gpu: unknown gpu 'h100-sxm-80g'")]
    assert unknown and "Did you mean: h100-sxm-80gb" in unknown[0]


def test_problems_from_several_files_are_raised_at_once():
    """A part naming an unknown server, a server left without parts and a missing running-cost key
    come back in one CatalogError."""
    parts_path = CATALOG_DIR / "server_parts.csv"
    parts = parts_path.read_text().replace("pcie-8,", "pcie-9,")
    running = "\n".join(ln for ln in (CATALOG_DIR / "running_costs.csv").read_text().splitlines()
                        if not ln.startswith("pue,")) + "\n"
    with pytest.raises(CatalogError) as info:
        parse_prices(_texts(server_parts=parts, running_costs=running), _gpu_ids())
    text = "\n".join(info.value.lines())
    assert re.search(r"catalog/server_parts\.csv:\d+: server: unknown server 'pcie-9'\. Did you mean: pcie-8", text)
    assert re.search(r"catalog/servers\.csv:\d+: id: server 'pcie-8' has no parts", text)
    assert "catalog/running_costs.csv: key: missing key(s): pue" in text


def test_duplicate_gpu_price_and_bad_range_are_rejected():
    header = "gpu,usd_per_gpu,usd_low,usd_high,condition,confidence,source,as_of,notes\n"
    body = ("l4-24gb,2500,3000,,new,low,x,2026-01-01,\n"
            "l4-24gb,2500,,,used,low,x,2026-01-01,\n")
    with pytest.raises(CatalogError) as info:
        parse_prices(_texts(gpu_prices=header + body), _gpu_ids())
    lines = info.value.lines()
    assert "catalog/gpu_prices.csv:2: usd_low: 3000 is above usd_per_gpu 2500" in lines
    assert "catalog/gpu_prices.csv:3: gpu: duplicate gpu 'l4-24gb' (first at line 2); expected one row per gpu" in lines
