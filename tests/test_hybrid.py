"""Hourly traffic profiles and hybrid plans: rented instances scale hour by hour, bought hosts stay.

Formulation cases on synthetic data have their optimum derived by hand (HiGHS and SCIP agree);
the shipped example checks that hybrid never costs more than all-rent or all-buy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.money.costs import HostType
from planner.optimize.candidates import Candidate

from milp_factories import cand
from planner.optimize.milp import MilpInput, solve
from planner.optimize.milp_parts import EPS_USD_PER_REPLICA_GPU

REPO = Path(__file__).resolve().parent.parent


def _cand(coverage: float) -> Candidate:
    """A candidate covering `coverage` of the workload per replica (the MILP reads id, workload, gpu,
    tp and coverage; factories in tests/milp_factories.py)."""
    return cand("chat", "g", 1, coverage, id="chat@g/tp1")


def _host(id: str, kind: str, capex: float, monthly: float) -> HostType:
    return HostType(id=id, kind=kind, gpu="g", slots=1, gpus_included=True, capex_usd=capex, monthly_usd=monthly,
                    power_w=100.0, max_count=None, label=id, source="test", as_of="2026-11-21")


def _problem(pricing: str, hosts: list[HostType], months: int) -> MilpInput:
    return MilpInput(pricing=pricing, candidates=[_cand(0.5)], min_replicas={"chat": 1}, hosts=hosts, cards={},
                     months=months, pue=1.0, periods=2, profile={"chat": (1.0, 0.5)})


def _cost(sol, replica_hours: int, periods: int = 2) -> float:
    return sol.objective_usd - EPS_USD_PER_REPLICA_GPU * replica_hours / periods


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_rent_scales_by_hour(solver):
    """Two periods, demand 1.0 then 0.5 of the peak; one replica covers 0.5 and needs one 1-GPU
    instance at $100/month if rented all month. Hour 0 needs 2 instances, hour 1 needs 1: each
    period is half the month, so the bill is (2 + 1) / 2 x $100 = $150/month (not 2 x $100)."""
    sol = solve(_problem("rent", [_host("inst", "instance", 0.0, 100.0)], months=1), solver)
    assert sol.status == "optimal"
    assert sol.hosts_by_hour == {"inst": [2, 1]}
    assert sol.replicas_by_hour == {"chat@g/tp1": [2, 1]}
    assert _cost(sol, 3) == pytest.approx(150.0, abs=1e-6)


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_hybrid_buys_the_base_and_rents_the_peak(solver):
    """Same demand, 36 months. A bought 1-GPU server costs $2,000 + $10/month; an instance $100 for a
    whole month ($50 for the half-month period). Options over 36 months:
      all rent:          36 x (2 + 1) / 2 x 100                = $5,400
      buy 2:             2 x 2,000 + 36 x 2 x 10               = $4,720
      buy 1, rent 1 at the peak: 2,000 + 36 x (10 + 1/2 x 100)  = $4,160  <- the optimum
    (renting in both hours on top of one bought server is never needed: hour 1 needs one replica)."""
    hosts = [_host("inst", "instance", 0.0, 100.0), _host("srv", "server", 2000.0, 10.0)]
    sol = solve(_problem("hybrid", hosts, months=36), solver)
    assert sol.status == "optimal"
    assert sol.hosts == {"srv": 1}
    assert sol.hosts_by_hour == {"inst": [1, 0]}
    assert _cost(sol, 3) == pytest.approx(4160.0, abs=1e-6)


def test_shipped_hybrid_example_never_costs_more_than_rent_or_buy(run_cli):
    """problems/hybrid-daily-profile.yaml: three plans; hybrid can choose either pure plan, so its
    36-month total is at most both, and the reported savings are the differences."""
    code, out, err = run_cli(["solve", "problems/hybrid-daily-profile.yaml", "--format", "json", "--no-timings",
                              "--today", "2026-11-21"])
    assert code == 0, err
    data = json.loads(out)
    totals = {p["pricing"]: p["cost"]["capex_usd"] + p["cost"]["horizon_months"] * p["cost"]["monthly_usd"]
              for p in data["plans"]}
    assert set(totals) == {"rent", "buy", "hybrid"}
    assert totals["hybrid"] <= min(totals["rent"], totals["buy"]) + 1e-6
    assert data["hybrid_savings_usd"]["vs_rent"] == pytest.approx(totals["rent"] - totals["hybrid"], abs=0.01)
    rent = next(p for p in data["plans"] if p["pricing"] == "rent")
    by_hour = [h["count_by_hour"] for h in rent["hosts"] if "count_by_hour" in h]
    assert by_hour and all(len(v) == 24 for v in by_hour)
    assert any(min(v) < max(v) for v in by_hour), "rented instances should follow the daily profile"
