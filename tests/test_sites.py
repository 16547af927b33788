"""Where bought servers live (`site:`), what they can hold (PSUs, slots) and the serving network.
Every figure is derived by hand from the catalogue rows named in the docstrings
(catalog/servers.csv, server_parts.csv, network.csv, gpu_prices.csv, running_costs.csv)."""

from __future__ import annotations

import datetime as dt

import pytest
from small_spec import small_spec

from planner.catalog.prices import load_prices
from planner.catalog.store import load_catalog
from planner.errors import InfeasibleError
from planner.money.bom import bill_of_materials
from planner.money.costs import RunningRates, purchase_hosts
from planner.optimize.chain import solve_loaded
from planner.spec.loader import load_spec_text

TODAY = dt.date(2026, 11, 21)
TOWER_4_USD = 3900 + 1200 + 2500 + 600 + 600 + 400 + 200  # the 2026 workstation BOM: 9,400
RTX_4090_USD = 1300


def _plan(extra: str = "", datacenter_only: bool | None = None, qps: float = 6.0):
    text = small_spec(qps=qps, gpus=("rtx-4090-24gb",), objective="buy", extra=extra, datacenter_only=datacenter_only)
    return solve_loaded(load_spec_text(text, "small.yaml"), today=TODAY).plans[0]


def _items(plan) -> list[str]:
    return [b.item for b in plan.bom]


def test_office_plan_has_no_rack_or_colocation_lines():
    """6 QPS of Llama-3.1-8B fit one RTX 4090. In an office it goes into one tower-4:
    capex = 9,400 (tower) + 1,300 (card) = $10,700, with no rack, top-of-rack switch or colocation.
    Monthly: energy (450 W x 0.7 + 500 W host) = 815 W x PUE 1 (office) x $0.0895/kWh x 730 h
    = $53.248; maintenance 10,700 x 12.5 % / 12 = $111.458; total $164.706."""
    plan = _plan("site: office")
    assert [(h.id, n) for h, n in plan.hosts] == [("server:tower-4/rtx-4090-24gb", 1)]
    assert plan.capex_usd == pytest.approx(TOWER_4_USD + RTX_4090_USD) == 10700
    assert not any(i.startswith(("Rack", "Top-of-rack", "Colocation")) for i in _items(plan))
    (energy,) = [b for b in plan.bom if b.item.startswith("Energy")]
    assert energy.total_usd == pytest.approx(0.815 * 1.0 * 0.0895 * 730)
    assert "PUE: site: office" in energy.source
    assert plan.monthly_usd == pytest.approx(0.815 * 0.0895 * 730 + 10700 * 0.125 / 12)
    assert plan.power_kw == pytest.approx(0.95)  # 450 + 500 W nameplate at PUE 1


def test_geforce_is_not_bought_into_colocation_and_the_licence_is_named():
    """At the default site (colocation) a buy plan on the RTX 4090 alone has no candidate: the
    GeForce licence forbids datacentre deployment, and the error says so and how to allow it."""
    with pytest.raises(InfeasibleError) as exc:
        _plan()
    text = "\n".join(exc.value.lines())
    assert "GeForce cards (rtx-4090-24gb) are not bought into a colocation site" in text
    assert "§2.1.3 'No Datacenter Deployment'" in text
    assert "set site: office, or gpus.datacenter_only: false" in text


def test_colocation_geforce_with_datacenter_only_false_pays_rack_switch_and_colocation():
    """With gpus.datacenter_only: false the card is bought into colocation: a rack pcie-4 (9,400)
    + the card 1,300 + one 42U rack 7,500 + its top-of-rack switch 12,000 = $30,200 capex;
    colocation (450 + 500) W = 0.95 kW x $184.06/kW-month = $174.857."""
    plan = _plan(datacenter_only=False)
    assert [(h.id, n) for h, n in plan.hosts] == [("server:pcie-4/rtx-4090-24gb", 1)]
    assert plan.capex_usd == pytest.approx(9400 + 1300 + 7500 + 12000)
    (tor,) = [b for b in plan.bom if b.item.startswith("Top-of-rack")]
    assert (tor.quantity, tor.unit_usd, tor.category) == (1, 12000, "network")
    (colo,) = [b for b in plan.bom if b.item.startswith("Colocation")]
    assert colo.total_usd == pytest.approx(0.95 * 184.06)


def test_datacenter_only_true_drops_geforce_even_in_an_office():
    """datacenter_only: true keeps its meaning: no GeForce card anywhere, site or not."""
    with pytest.raises(InfeasibleError, match="no buy candidate|no buy plan"):
        _plan("site: office", datacenter_only=True)


def test_office_circuit_too_small_names_the_circuit():
    """The tower with one RTX 4090 draws 950 W nameplate; a 900 W circuit cannot carry it, and the
    diagnosis names the office's circuits and the 950 W a plan needs."""
    with pytest.raises(InfeasibleError) as exc:
        _plan("site: office\noffice: {circuits: 1, circuit_w: 900}")
    text = "\n".join(exc.value.lines())
    assert "office.circuits x office.circuit_w binds: it is 900 W; a plan needs at least 950 W" in text


def test_pcie_servers_hold_what_their_psu_powers_and_the_bom_prices_nic_and_switch():
    """RTX PRO 6000 (600 W, dual-slot) in rack servers:
      pcie-8: min(8 bays, 20 // 2 = 10, (2 x 2,700 - 2,000) // 600 = 5) = 5 cards (bays take 8);
      pcie-4: min(4, 8 // 2 = 4, (2,000 - 500) // 600 = 2) = 2 cards (bays take 4).
    A bill for one pcie-8 with 5 cards in one rack lists the 10GbE NIC ($400), the rack ($7,500)
    and its top-of-rack switch ($12,000)."""
    cat, book = load_catalog(), load_prices()
    g = cat.gpus.rows["rtx-pro-6000-96gb"]
    hosts, cards = purchase_hosts([g], book, RunningRates.from_book(book), ("rack",))
    fit = {h.server.id: (h.slots, h.bays) for h in hosts}
    assert fit == {"pcie-8": (5, 8), "pcie-4": (2, 4)}
    pcie8 = next(h for h in hosts if h.server.id == "pcie-8")
    lines, capex, _, _ = bill_of_materials("buy", [(pcie8, 1)], [(cards[g.id], 5)], 1, book, cat)
    by_item = {b.item: b for b in lines}
    nic = by_item["pcie-8 server: Dual-port 10GbE NIC (ConnectX class), serving network"]
    assert (nic.unit_usd, nic.category) == (400, "nic")
    assert by_item["Top-of-rack Ethernet switch, 64-port 10GbE (Mellanox SX1016 class), per rack "
                   "(serving network of the rack's servers)"].total_usd == 12000
    assert capex == pytest.approx(pcie8.server.base_usd + 5 * cards[g.id].capex_usd + 7500 + 12000)


def test_oam_platform_has_its_own_host_and_psu():
    """MI300X goes on oam-8 (8 x 750 W + 1,000 W host = 7,000 W nameplate <= 3 x 3,000 W usable),
    not on the SXM hgx-8; the MI355X (8 x 1,400 + 1,000 = 12,200 W) fits no server. A tower site
    has no OAM server."""
    cat, book = load_catalog(), load_prices()
    rates = RunningRates.from_book(book)
    mi300x = cat.gpus.rows["mi300x-192gb"]
    hosts, _ = purchase_hosts([mi300x], book, rates, ("rack",))
    assert [(h.id, h.power_w) for h in hosts] == [("server:oam-8/mi300x-192gb", 7000)]
    assert purchase_hosts([mi300x], book, rates, ("tower",))[0] == []
    mi355x = cat.gpus.rows["mi355x-288gb"]
    if mi355x.id in book.gpu_prices:
        assert purchase_hosts([mi355x], book, rates, ("rack",))[0] == []
