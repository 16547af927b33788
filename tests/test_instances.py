"""Rental plans are priced by what can be rented: whole instances, and a TP group inside one.

Offers of one GPU in 1-, 2- and 8-GPU instances go through `costs.rental_hosts` (the cheapest offer
per instance size, at the plan's pricing tier) into the MILP; the optimum is derived by hand.
"""

from __future__ import annotations

import dataclasses

import pytest

from planner.catalog.price_rows import CloudOffer
from planner.catalog.prices import load_prices
from planner.catalog.store import load_catalog
from planner.money.costs import RunningRates, rental_hosts
from planner.optimize.candidates import Candidate

from milp_factories import cand
from planner.optimize.milp import EPS_USD_PER_REPLICA_GPU, MilpInput, solve

GPU = "h100-sxm-80gb"


def _offer(provider: str, gpus: int, usd_per_gpu_hour: float, spot: float | None = None) -> CloudOffer:
    return CloudOffer(provider=provider, gpu=GPU, instance_type=f"{gpus}x", gpus_per_instance=gpus, region="r",
                      offer_kind="cloud", on_demand_usd_per_gpu_hour=usd_per_gpu_hour, spot_usd_per_gpu_hour=spot,
                      reserved_1y_usd_per_gpu_hour=None, reserved_3y_usd_per_gpu_hour=None, confidence="high",
                      source="test offer", as_of="2026-11-21")


def _tp2(coverage: float) -> Candidate:
    """A candidate covering `coverage` of the workload per replica (the MILP reads id, workload, gpu,
    tp and coverage; factories in tests/milp_factories.py)."""
    return cand("chat", GPU, 2, coverage, id="chat@h100/tp2")


def _hosts(offers: list[CloudOffer], tier: str = "on_demand"):
    book = dataclasses.replace(load_prices(), offers=tuple(offers))
    rates = RunningRates.from_book(book)
    return rental_hosts([load_catalog().gpu(GPU)], book, rates, tier, ["any"], False), rates


def _monthly(sol, replicas: int) -> float:
    return sol.objective_usd - EPS_USD_PER_REPLICA_GPU * 2 * replicas


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_tp2_never_uses_one_gpu_instances(solver):
    """One TP=2 replica (coverage 1.0). Offers: 1-GPU at $2.00/GPU-h (the cheapest per GPU), 2-GPU at
    $3.00/GPU-h, 8-GPU at $2.50/GPU-h. Two 1-GPU instances cannot hold one TP group, so the choice is a
    2-GPU instance, 2 x 3.00 x 730 = $4,380/month, or an 8-GPU one, 8 x 2.50 x 730 = $14,600:
    the plan rents one 2-GPU instance for $4,380."""
    hosts, rates = _hosts([_offer("a", 1, 2.00), _offer("b", 2, 3.00), _offer("c", 8, 2.50)])
    assert rates.hours_per_month == 730
    inp = MilpInput(pricing="rent", candidates=[_tp2(1.0)], min_replicas={"chat": 1}, hosts=hosts, cards={},
                    months=1, pue=rates.pue)
    sol = solve(inp, solver)
    assert sol.hosts == {f"instance:b/2x/{GPU}": 1}
    assert _monthly(sol, 1) == pytest.approx(2 * 3.00 * 730, abs=1e-6)


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_several_replicas_share_an_eight_gpu_instance(solver):
    """Four TP=2 replicas (coverage 0.25 each: ceil(1 / 0.25) = 4), same offers. Four 2-GPU instances
    cost 4 x 2 x 3.00 x 730 = $17,520; one 8-GPU instance holds all four TP groups for
    8 x 2.50 x 730 = $14,600; mixes (one 8-GPU plus anything) cost more. The plan rents the 8-GPU one."""
    hosts, rates = _hosts([_offer("a", 1, 2.00), _offer("b", 2, 3.00), _offer("c", 8, 2.50)])
    inp = MilpInput(pricing="rent", candidates=[_tp2(0.25)], min_replicas={"chat": 1}, hosts=hosts, cards={},
                    months=1, pue=rates.pue)
    sol = solve(inp, solver)
    assert sol.replicas == {"chat@h100/tp2": 4}
    assert sol.hosts == {f"instance:c/8x/{GPU}": 1}
    assert _monthly(sol, 4) == pytest.approx(8 * 2.50 * 730, abs=1e-6)


def test_cheapest_provider_per_instance_size_and_tier():
    """Per instance size, the cheapest offer at the tier wins: two 8-GPU offers at $2.50 and $2.40
    on demand keep the $2.40 one; at spot prices ($1.00 vs $1.20) the other; an offer with no spot
    price is not rentable at spot."""
    offers = [_offer("x", 8, 2.50, spot=1.00), _offer("y", 8, 2.40, spot=1.20), _offer("z", 2, 3.00)]
    on_demand, _ = _hosts(offers)
    assert {h.slots: h.offer.provider for h in on_demand} == {8: "y", 2: "z"}
    spot, _ = _hosts(offers, "spot")
    assert {h.slots: h.offer.provider for h in spot} == {8: "x"}
    assert spot[0].monthly_usd == pytest.approx(8 * 1.00 * 730)
