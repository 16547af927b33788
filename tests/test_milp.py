"""Formulation tests of the fleet MILP (`planner.optimize.milp`) on tiny synthetic instances.

No catalogue and no YAML: candidates, host types and card costs are built by hand. Every
hand-derived optimum is solved with HiGHS and SCIP and both must agree with the arithmetic in the
test's docstring. The objective carries the tie-break `EPS_USD_PER_REPLICA_GPU x replica-GPUs`,
which `cost_of` takes off before comparing.

Layout: helpers (the factories are in milp_factories.py); one section per constraint family;
solver plumbing; `diagnose_caps`; and, at the end, `FAMILY_TESTS`, the map from every constraint
family to the tests that exercise it (a test fails when a family has none). The random
cross-check against a brute force of physically valid plans is tests/test_exhaustive.py.
"""

from __future__ import annotations

import os

import pytest
from milp_factories import cand, card, cost_of, host, problem
from test_policy import (test_every_policy_family_is_built, test_mixing_one_bucket, test_mixing_routed_two_buckets,
                         test_n_plus_1_one_bucket, test_n_plus_1_two_replica_case_by_hand,
                         test_static_types_when_the_plan_holds_bought_or_owned_hosts, test_zones_need_n_hosts,
                         test_zones_one_bucket_by_hand, test_zones_two_buckets_by_hand)
from test_batch_runs import (test_batch_rented_packing_pools_instance_hours_of_alike_slots,
                             test_batch_gpus_available_caps_the_run, test_batch_load_bills_a_partial_last_hour_in_full,
                             test_batch_packing_rents_what_idle_gpus_lack, test_batch_packing_runs_on_idle_gpus_for_free,
                             test_batch_routing_pays_instance_hours, test_daily_job_in_the_night_valley_costs_nothing_more,
                             test_daily_job_rents_its_overflow_every_day)
from test_spot import (_two_pool, test_batch_spot_share_max_moves_half_the_run_on_demand,
                       test_spot_packing_keeps_tp_groups_in_their_pool, test_spot_replicas_max_keeps_spot_within_replicas,
                       test_spot_share_max_binds_on_two_pools)

from planner.errors import SolverError
from planner.money.costs import HostType
from planner.optimize.diagnose import diagnose_caps
from planner.optimize.milp import (
    CONSTRAINT_FAMILIES,
    MilpInput,
    MilpSolution,
    build,
    solve,
)

SOLVERS = ["highs", "scip"]
both_solvers = pytest.mark.parametrize("solver", SOLVERS)


# --------------------------------------------------------------------------------------------
# Helpers (the factories are in milp_factories.py)
# --------------------------------------------------------------------------------------------


def solved(inp: MilpInput, solver: str, expected_usd: float) -> MilpSolution:
    """Solve, check the status and the cost against the hand value, return the solution."""
    sol = solve(inp, solver=solver)
    assert sol.status == "optimal", sol
    assert cost_of(inp, sol) == pytest.approx(expected_usd, abs=1e-3)
    assert sol.objective_usd == pytest.approx(expected_usd, abs=1e-2)  # eps is a tie-break, not a cost
    return sol


# --------------------------------------------------------------------------------------------
# demand_coverage
# --------------------------------------------------------------------------------------------


@both_solvers
def test_demand_coverage_rounds_replicas_up(solver):
    """One workload, one TP1 candidate covering 0.3 of the demand, a 1-GPU instance at $100/month.

    demand_coverage: 0.3 n >= 1  =>  n >= 3.33  =>  n = ceil(1 / 0.3) = 4 replicas (3 cover 0.9).
    Each replica needs its own 1-GPU instance: 4 x $100 = $400 (rent, months = 1).
    """
    inp = problem([cand("chat", "g", 1, 0.3, id="c")], [host("inst1", "g", 1, monthly=100)])
    sol = solved(inp, solver, 400.0)
    assert sol.replicas == {"c": 4}
    assert sol.hosts == {"inst1": 4}


@both_solvers
def test_demand_coverage_picks_cheapest_gpu(solver):
    """A on GPU a covers 0.5 per replica on a $300 instance; B on GPU b covers 0.2 on a $100 one.

    Enumerate n_A (n_B is then the least with 0.5 n_A + 0.2 n_B >= 1):
      n_A = 0: n_B = ceil(1 / 0.2) = 5          -> 5 x 100           = $500
      n_A = 1: n_B = ceil(0.5 / 0.2) = 3        -> 300 + 3 x 100     = $600
      n_A = 2: n_B = 0                          -> 2 x 300           = $600
    Optimum: 5 x B = $500.
    """
    inp = problem([cand("chat", "a", 1, 0.5, id="A"), cand("chat", "b", 1, 0.2, id="B")],
                  [host("inst-a", "a", 1, monthly=300), host("inst-b", "b", 1, monthly=100)])
    sol = solved(inp, solver, 500.0)
    assert sol.replicas == {"B": 5}
    assert sol.hosts == {"inst-b": 5}


@both_solvers
def test_demand_coverage_mix_of_gpus_wins(solver):
    """A covers 0.7 on a $200 instance, B covers 0.3 on a $100 one.

      n_A = 0: n_B = ceil(1 / 0.3) = 4           -> 4 x 100       = $400
      n_A = 1: n_B = ceil(0.3 / 0.3) = 1         -> 200 + 100     = $300
      n_A = 2: n_B = 0                           -> 2 x 200       = $400
    Optimum: the mix 1 x A + 1 x B = $300 (coverage 0.7 + 0.3 = 1.0).
    """
    inp = problem([cand("chat", "a", 1, 0.7, id="A"), cand("chat", "b", 1, 0.3, id="B")],
                  [host("inst-a", "a", 1, monthly=200), host("inst-b", "b", 1, monthly=100)])
    sol = solved(inp, solver, 300.0)
    assert sol.replicas == {"A": 1, "B": 1}
    assert sol.hosts == {"inst-a": 1, "inst-b": 1}


@both_solvers
def test_demand_coverage_per_workload(solver):
    """Two workloads on one 1-GPU instance type at $100: cov 0.5 and cov 0.25.

    Each workload is covered on its own: ceil(1 / 0.5) = 2 and ceil(1 / 0.25) = 4 replicas,
    6 instances, $600 (one workload's surplus cannot cover the other's demand).
    """
    inp = problem([cand("w1", "g", 1, 0.5, id="x"), cand("w2", "g", 1, 0.25, id="y")],
                  [host("inst1", "g", 1, monthly=100)])
    sol = solved(inp, solver, 600.0)
    assert sol.replicas == {"x": 2, "y": 4}


# --------------------------------------------------------------------------------------------
# min_replicas
# --------------------------------------------------------------------------------------------


@both_solvers
def test_min_replicas_above_demand(solver):
    """One replica covers the whole demand (cov 1.0), but min_replicas = 3.

    min_replicas: n >= 3 binds (demand alone needs n >= 1): 3 instances x $100 = $300.
    """
    inp = problem([cand("chat", "g", 1, 1.0, id="c")], [host("inst1", "g", 1, monthly=100)],
                  min_replicas={"chat": 3})
    sol = solved(inp, solver, 300.0)
    assert sol.replicas == {"c": 3}
    assert sol.hosts == {"inst1": 3}


@both_solvers
def test_min_replicas_counts_replicas_of_every_candidate(solver):
    """min_replicas counts replicas across a workload's candidates, whatever their GPU.

    X on GPU a covers 1.0 on a $100 instance; Y on GPU b covers 0.5 on a $40 instance; min 3.
      n_X + n_Y >= 3 and n_X + 0.5 n_Y >= 1; cost 100 n_X + 40 n_Y
      n_X = 0: n_Y >= max(3, 2) = 3 -> $120;   n_X = 1: n_Y >= 2 -> $180;   n_X >= 2: >= $240.
    Optimum: 3 x Y = $120 (the minimum, not the demand, sets the count).
    """
    inp = problem([cand("chat", "a", 1, 1.0, id="X"), cand("chat", "b", 1, 0.5, id="Y")],
                  [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=40)],
                  min_replicas={"chat": 3})
    sol = solved(inp, solver, 120.0)
    assert sol.replicas == {"Y": 3}


# --------------------------------------------------------------------------------------------
# tp_packing
# --------------------------------------------------------------------------------------------


def _tp2_hosts(price_8: float) -> list[HostType]:
    return [host("x1", "g", 1, monthly=100), host("x2", "g", 2, monthly=250), host("x8", "g", 8, monthly=price_8)]


@both_solvers
def test_tp_packing_tp2_cannot_split_across_1_slot_hosts(solver):
    """A TP2 candidate covering 0.34: ceil(1 / 0.34) = 3 replicas = 3 TP2 groups = 6 GPUs.

    Hosts of GPU g: 1 slot $100, 2 slots $250, 8 slots $900.
      Were TP groups splittable, 6 x 1-slot = $600 would win; a TP2 group must sit inside one host,
      so 1-slot hosts hold none (tp_packing[g,2]: 2 x 3 = 6 <= 2 h2 + 8 h8).
      3 x 2-slot = $750;  1 x 8-slot = $900;  2 x 2-slot + 1 x 8-slot = $1,400.
    Optimum: 3 x 2-slot = $750.
    """
    inp = problem([cand("chat", "g", 2, 0.34, id="c")], _tp2_hosts(900))
    sol = solved(inp, solver, 750.0)
    assert sol.replicas == {"c": 3}
    assert sol.hosts == {"x2": 3}


@both_solvers
def test_tp_packing_big_host_wins_when_cheaper(solver):
    """Same as above with the 8-slot host at $700: 1 x 8-slot = $700 < 3 x 2-slot = $750."""
    inp = problem([cand("chat", "g", 2, 0.34, id="c")], _tp2_hosts(700))
    sol = solved(inp, solver, 700.0)
    assert sol.hosts == {"x8": 1}


@both_solvers
def test_tp_packing_workloads_share_a_host(solver):
    """w1: TP2, cov 0.34 -> 3 replicas (6 GPUs in TP2 groups); w2: TP1, cov 0.5 -> 2 replicas (2 GPUs).

    Hosts of GPU g: 1 slot $100, 2 slots $250, 8 slots $900.
      Separately: w1 in 3 x 2-slot ($750) + w2 in 2 x 1-slot ($200) = $950;
      4 x 2-slot = $1,000;  sharing one 8-slot host (3 TP2 + 2 TP1 groups = 8 GPUs) = $900.
      tp_packing[g,1]: 6 + 2 = 8 <= 8;  tp_packing[g,2]: 6 <= 8.
    Optimum: one shared 8-slot host, $900.
    """
    inp = problem([cand("w1", "g", 2, 0.34, id="big"), cand("w2", "g", 1, 0.5, id="small")], _tp2_hosts(900))
    sol = solved(inp, solver, 900.0)
    assert sol.replicas == {"big": 3, "small": 2}
    assert sol.hosts == {"x8": 1}


@both_solvers
def test_tp_packing_infeasible_without_a_big_enough_host(solver):
    """A TP4 candidate with only 1- and 2-slot hosts: tp_packing[g,4] reads 4 n <= 0, n >= 1: infeasible."""
    inp = problem([cand("chat", "g", 4, 1.0, id="c")], [host("x1", "g", 1, monthly=1), host("x2", "g", 2, monthly=1)])
    assert solve(inp, solver=solver).status == "infeasible"


# --------------------------------------------------------------------------------------------
# cards_cover, cards_fit (PCIe cards bought into empty servers)
# --------------------------------------------------------------------------------------------


def _pcie(months: int, cov: float) -> MilpInput:
    return problem([cand("chat", "g", 1, cov, id="c")],
                   [host("srv4", "g", 4, kind="server", capex=5000, monthly=100, gpus_included=False)],
                   cards={"g": card("g", 2000, monthly=30)}, months=months)


@both_solvers
def test_cards_cover_buys_one_card_per_gpu_used(solver):
    """PCIe server (4 slots, no GPUs, capex $5,000, $100/month) + cards at $2,000 ($30/month) each.

    cov 0.34 -> 3 replicas -> 3 GPUs: cards_cover: cards >= 3; cards_fit: 3 <= 4 x 1 server.
      capex   = 5,000 + 3 x 2,000 = $11,000
      monthly = 100 + 3 x 30 = $190;  over 36 months: 36 x 190 = $6,840
      total   = 11,000 + 6,840 = $17,840
    (The fourth slot stays empty: a card is bought only for a GPU in use.)
    """
    sol = solved(_pcie(36, 0.34), solver, 17840.0)
    assert sol.replicas == {"c": 3}
    assert sol.hosts == {"srv4": 1}
    assert sol.cards == {"g": 3}


@both_solvers
def test_cards_cover_capex_only(solver):
    """The same with months = 1 and no running costs counted beyond one month: 11,000 + 190 = $11,190."""
    sol = solved(_pcie(1, 0.34), solver, 11190.0)
    assert sol.cards == {"g": 3}


@both_solvers
def test_cards_fit_needs_a_second_server(solver):
    """cov 0.2 -> 5 replicas -> 5 cards; cards_fit: 5 <= 4 x servers -> 2 servers.

      capex   = 2 x 5,000 + 5 x 2,000 = $20,000
      monthly = 2 x 100 + 5 x 30 = $350;  36 x 350 = $12,600
      total   = $32,600
    """
    sol = solved(_pcie(36, 0.2), solver, 32600.0)
    assert sol.hosts == {"srv4": 2}
    assert sol.cards == {"g": 5}


# --------------------------------------------------------------------------------------------
# server_power_max: a PCIe server holds only the cards its PSU can power
# --------------------------------------------------------------------------------------------


def _psu_server(cov: float, tp: int = 1) -> MilpInput:
    """A 4-bay PCIe server whose PSU powers 3 cards (`test_card_fit_psu_powers_three_of_four`: 2,000 W
    usable, 500 W host, 450 W cards): $1,000 each; cards $500; months = 1, no running costs."""
    return problem([cand("chat", "g", tp, cov, id="c")],
                   [host("srv", "g", 3, kind="server", capex=1000, gpus_included=False, bays=4)],
                   cards={"g": card("g", 500)}, months=1)


@both_solvers
def test_server_power_max_three_cards_fit_one_server(solver):
    """cov 1/3 -> 3 replicas -> 3 cards in one server: 1,000 + 3 x 500 = $2,500."""
    sol = solved(_psu_server(1 / 3), solver, 2500.0)
    assert sol.hosts == {"srv": 1} and sol.cards == {"g": 3}


@both_solvers
def test_server_power_max_four_cards_need_two_servers(solver):
    """cov 0.25 -> 4 replicas -> 4 cards. The bays take 4 (card_packing: 4 <= 4 x 1), but the PSU
    powers 3 (server_power_max: 4 <= 3 x servers), so 2 servers: 2 x 1,000 + 4 x 500 = $4,000.
    With a PSU for all 4 cards (slots 4) one server would do: 1,000 + 4 x 500 = $3,000."""
    sol = solved(_psu_server(0.25), solver, 4000.0)
    assert sol.hosts == {"srv": 2} and sol.cards == {"g": 4}
    roomy = problem([cand("chat", "g", 1, 0.25, id="c")],
                    [host("srv", "g", 4, kind="server", capex=1000, gpus_included=False, bays=4)],
                    cards={"g": card("g", 500)}, months=1)
    assert solved(roomy, solver, 3000.0).hosts == {"srv": 1}
    names = {c.name for c in build(_psu_server(0.25))[0].linear_constraints()}
    assert "server_power_max[g,1]" in names and "server_power_max[g,1]" not in {
        c.name for c in build(roomy)[0].linear_constraints()}


@both_solvers
def test_server_power_max_tp4_group_cannot_be_powered(solver):
    """One TP4 replica: the 4 bays take the group (card_packing[g,4]: 4 <= 4 floor(4/4) = 4), but a
    server powers 3 cards, 4 floor(3/4) = 0 (server_power_max[g,4]: 4 <= 0): infeasible."""
    assert solve(_psu_server(1.0, tp=4), solver=solver).status == "infeasible"


@both_solvers
def test_server_power_max_tp2_groups_use_two_of_three_cards(solver):
    """cov 0.5, TP2 -> 2 replicas = 2 groups of 2 cards. A 3-card server holds 2 floor(3/2) = 2 cards
    of TP2 groups (server_power_max[g,2]: 4 <= 2 x servers), so 2 servers: 2 x 1,000 + 4 x 500 = $4,000
    (4 cards in one server's 4 bays would have cost $3,000)."""
    sol = solved(_psu_server(0.5, tp=2), solver, 4000.0)
    assert sol.hosts == {"srv": 2} and sol.cards == {"g": 4}


def test_card_fit_psu_powers_three_of_four():
    """A 4-bay server, 8 slot positions, 500 W host, one 2,000 W PSU (no redundancy): 1,500 W for
    cards. 450 W dual-slot cards: min(4 bays, 8 // 2 = 4, 1,500 // 450 = 3) = 3 cards. 350 W cards:
    1,500 // 350 = 4, so 4. Triple-slot 350 W cards: 8 // 3 = 2. Two 2,000 W PSUs sold 1+1 (one
    redundant) give the same 2,000 W; 2+0 gives 4,000 W and 4 cards of 450 W. A 600 W slot takes no
    700 W card."""
    from types import SimpleNamespace

    from planner.catalog.price_rows import ServerType
    from planner.money.costs import card_fit, server_problems

    def gpu(tdp, form="PCIe dual-slot"):
        return SimpleNamespace(tdp_w=tdp, form_factor=form, geforce_eula=False)

    def server(count=1, spare=0, slot_w=600.0):
        return ServerType(id="s", name="s", gpu_forms=frozenset({"pcie"}), gpus_per_server=4, host_power_w=500,
                          rack_units=4, parts=(), confidence="low", source="t", as_of="", psu_w=2000,
                          psu_count=count, psu_redundant=spare, gpu_slot_widths=8, gpu_slot_power_w=slot_w)
    assert card_fit(server(), gpu(450)).cards == 3 and card_fit(server(), gpu(450)).by_slots == 4
    assert card_fit(server(), gpu(350)).cards == 4
    assert card_fit(server(), gpu(350, "PCIe triple-slot consumer")).cards == 2
    assert card_fit(server(2, 1), gpu(450)).cards == 3 and card_fit(server(2, 0), gpu(450)).cards == 4
    assert card_fit(server(), gpu(700)).cards == 0
    assert server_problems(server(), gpu(450), 3) == []
    assert server_problems(server(), gpu(450), 4) == ["host 500 W + 4 x 450 W > 2000 W usable PSU (1 of 1 x 2000 W)"]


# --------------------------------------------------------------------------------------------
# site_power_max: an office's circuits
# --------------------------------------------------------------------------------------------


def _office(site_w: float | None) -> MilpInput:
    """2 replicas (cov 0.5) on 1-GPU towers: A draws 800 W nameplate for $1,000, B 600 W for $1,500."""
    return problem([cand("chat", "a", 1, 0.5, id="ca"), cand("chat", "b", 1, 0.5, id="cb")],
                   [host("tower-a", "a", 1, kind="server", capex=1000, power_w=800),
                    host("tower-b", "b", 1, kind="server", capex=1500, power_w=600)],
                   months=1, pue=1.0, site_power_max_w=site_w)


@both_solvers
def test_site_power_max_picks_the_towers_the_circuit_can_carry(solver):
    """No cap: 2 x A = $2,000 (1,600 W). One 1,440 W circuit: 2 x A = 1,600 W > 1,440, A + B =
    1,400 W fits: $2,500. A 1,000 W budget fits no pair (2 x 600 = 1,200 W): infeasible."""
    assert solved(_office(None), solver, 2000.0).hosts == {"tower-a": 2}
    assert solved(_office(1440.0), solver, 2500.0).hosts == {"tower-a": 1, "tower-b": 1}
    assert solve(_office(1000.0), solver=solver).status == "infeasible"


@both_solvers
def test_cards_cover_owned_gpus_do_not_join_a_pcie_group(solver):
    """The placement bug in miniature: an owned 1-GPU server ($50/month), a PCIe server (4 slots,
    $5,000, $100/month) and cards at $2,000 ($30/month); one TP2 replica (cov 1.0); months = 1.

    A TP2 group's two GPUs must be in one host. The owned server has one, so the group needs two
    cards in the PCIe server: 5,000 + 100 + 2 x 2,030 = $9,160. The owned server cannot hold a TP2
    group, so owned_first does not force it on. (Pooling the owned GPU with one card in the server
    would have cost 50 + 5,100 + 2,030 = $7,180: the wrong plan the old formulation returned.)
    """
    inp = problem([cand("chat", "g", 2, 1.0, id="c")],
                  [host("own1", "g", 1, kind="owned", monthly=50, max_count=1),
                   host("srv4", "g", 4, kind="server", capex=5000, monthly=100, gpus_included=False)],
                  cards={"g": card("g", 2000, monthly=30)}, months=1)
    sol = solved(inp, solver, 9160.0)
    assert sol.hosts == {"srv4": 1}
    assert sol.cards == {"g": 2}


@both_solvers
def test_cards_cover_rented_gpus_do_not_join_a_pcie_group(solver):
    """The hybrid form: rented 1-GPU instances ($300/month) beside a bought PCIe server (4 slots,
    $1,000) with cards at $500; one TP2 replica (cov 1.0); months = 1.

    Valid plans: the group on two cards in the server, 1,000 + 2 x 500 = $2,000 (no rented 1-GPU
    instance can hold a TP2 group). Counting two rented GPUs toward a group in the server would
    have cost 1,000 + 2 x 300 = $1,600 with empty instances.
    """
    inp = problem([cand("chat", "g", 2, 1.0, id="c")],
                  [host("inst1", "g", 1, monthly=300),
                   host("srv4", "g", 4, kind="server", capex=1000, gpus_included=False)],
                  cards={"g": card("g", 500)}, months=1)
    sol = solved(inp, solver, 2000.0)
    assert sol.hosts == {"srv4": 1}
    assert sol.cards == {"g": 2}


@both_solvers
def test_card_packing_tp4_needs_a_4_slot_pcie_server(solver):
    """PCIe servers of 2 slots ($1,000) or 4 slots ($3,000), cards at $100; one TP4 replica (cov 1.0).

    Two 2-slot servers hold four cards (cards_fit: 4 <= 2 x 2) for 2,000 + 400 = $2,400, but the
    group's four GPUs must be in one server: card_packing[g,4]: 4 <= 4 x (4-slot servers), so one
    4-slot server: 3,000 + 400 = $3,400.
    """
    inp = problem([cand("chat", "g", 4, 1.0, id="c")],
                  [host("srv2", "g", 2, kind="server", capex=1000, gpus_included=False),
                   host("srv4", "g", 4, kind="server", capex=3000, gpus_included=False)],
                  cards={"g": card("g", 100)}, months=1)
    sol = solved(inp, solver, 3400.0)
    assert sol.hosts == {"srv4": 1}
    assert sol.cards == {"g": 4}


@both_solvers
def test_pcie_replicas_max_splits_one_candidate_over_both_pools(solver):
    """One TP1 candidate (cov 0.25: 4 replicas) on GPU g: an owned 2-GPU server ($10/month) and a
    PCIe server (4 slots, $1,000) with cards at $100; months = 1.

    Two replicas on the owned server's GPUs and two on cards: 10 + 1,000 + 2 x 100 = $1,210; the
    model has one row pcie_replicas_max[c] (replicas on cards <= replicas) for the split. (All four on
    cards would cost 10 + 1,000 + 400 = $1,410: the owned server must be on anyway, owned_first.)
    """
    inp = problem([cand("chat", "g", 1, 0.25, id="c")],
                  [host("own2", "g", 2, kind="owned", monthly=10, max_count=1),
                   host("srv4", "g", 4, kind="server", capex=1000, gpus_included=False)],
                  cards={"g": card("g", 100)}, months=1)
    sol = solved(inp, solver, 1210.0)
    assert sol.replicas == {"c": 4}
    assert sol.hosts == {"own2": 1, "srv4": 1}
    assert sol.cards == {"g": 2}
    model = build(inp)[0]
    assert [c.name for c in model.linear_constraints() if c.name.startswith("pcie_replicas_max")] == \
        ["pcie_replicas_max[c]"]


# --------------------------------------------------------------------------------------------
# owned_first
# --------------------------------------------------------------------------------------------


def _owned(cov: float) -> MilpInput:
    return problem([cand("chat", "g", 1, cov, id="c")],
                   [host("own1", "g", 1, kind="owned", capex=0, monthly=50, max_count=1),
                    host("srv1", "g", 1, kind="server", capex=1000, monthly=10)], months=36)


@both_solvers
def test_owned_first_uses_the_server_on_hand(solver):
    """Owned 1-GPU server ($0 capex, $50/month) vs a bought 1-GPU server ($1,000 + $10/month), 36 months.

    One GPU needed (cov 1.0). Owned: 36 x 50 = $1,800. Bought: 1,000 + 36 x 10 = $1,360 would be
    cheaper, but owned_first forbids buying while the owned server is idle: $1,800.
    """
    sol = solved(_owned(1.0), solver, 1800.0)
    assert sol.hosts == {"own1": 1}


@both_solvers
def test_owned_first_then_buys_the_rest(solver):
    """Two GPUs needed (cov 0.5): the owned server plus one bought.

      owned 36 x 50 = 1,800 + bought 1,000 + 36 x 10 = 1,360  ->  $3,160
    (Two bought servers, 2 x 1,360 = $2,720, are cheaper but leave the owned one idle: forbidden.)
    """
    sol = solved(_owned(0.5), solver, 3160.0)
    assert sol.hosts == {"own1": 1, "srv1": 1}


@both_solvers
def test_owned_first_before_pcie_cards(solver):
    """Owned 1-GPU server ($50/month) + PCIe server (4 slots, $5,000, $100/month) + cards ($2,000, $30/month).

    Two GPUs needed (cov 0.5), months = 1. owned_first: the owned server is in use before any card
    is bought; cards_cover counts its GPU: cards >= 2 - 1 = 1.
      50 + (5,000 + 100) + (2,000 + 30) = $7,180
    (Without the owned GPU: 5,000 + 100 + 2 x 2,030 = $9,160.)
    """
    inp = problem([cand("chat", "g", 1, 0.5, id="c")],
                  [host("own1", "g", 1, kind="owned", monthly=50, max_count=1),
                   host("srv4", "g", 4, kind="server", capex=5000, monthly=100, gpus_included=False)],
                  cards={"g": card("g", 2000, monthly=30)}, months=1)
    sol = solved(inp, solver, 7180.0)
    assert sol.hosts == {"own1": 1, "srv4": 1}
    assert sol.cards == {"g": 1}


@both_solvers
def test_owned_first_owned_hosts_too_small_for_tp(solver):
    """Three owned 1-GPU servers ($50/month each) and a bought 2-GPU server ($1,000 + $10/month), months = 1.

    The only candidate is TP2 (cov 1.0): one replica, which no 1-slot host can hold. owned_first asks
    only for the owned servers that can hold a TP group of g, and none can, so they stay off (paying
    for idle servers serves nothing): 1 bought 2-slot server holding the TP2 group, 1,000 + 10 =
    $1,010. (Before owned_first looked at usefulness, all three had to be on: $1,160.)
    """
    inp = problem([cand("chat", "g", 2, 1.0, id="c")],
                  [host("own1", "g", 1, kind="owned", monthly=50, max_count=3),
                   host("srv2", "g", 2, kind="server", capex=1000, monthly=10)])
    sol = solved(inp, solver, 1010.0)
    assert sol.hosts == {"srv2": 1}


# --------------------------------------------------------------------------------------------
# gpus_available_max
# --------------------------------------------------------------------------------------------


@both_solvers
def test_gpus_available_max_spills_to_the_dearer_gpu(solver):
    """Candidates on GPU a ($100 instance) and GPU b ($150 instance), each TP1 covering 0.25: 4 replicas.

    Uncapped: 4 x a = $400. available a = 2: gpus_available_max[a]: GPUs of a <= 2, so
      2 x a + 2 x b = 200 + 300 = $500.
    """
    cands = [cand("chat", "a", 1, 0.25, id="A"), cand("chat", "b", 1, 0.25, id="B")]
    hosts = [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=150)]
    solved(problem(cands, hosts), solver, 400.0)
    sol = solved(problem(cands, hosts, available={"a": 2}), solver, 500.0)
    assert sol.replicas == {"A": 2, "B": 2}
    assert sol.hosts == {"inst-a": 2, "inst-b": 2}


@both_solvers
def test_gpus_available_max_counts_whole_hosts(solver):
    """available counts installed GPUs, not used ones: a 4-GPU instance holds 4 GPUs of a.

    GPU a only comes as a 4-GPU instance at $200; GPU b as a 1-GPU instance at $100. Cov 0.25 on
    either: 4 replicas. Uncapped: one 4-GPU a instance, $200. available a = 3: the 4-GPU host alone
    would install 4 > 3 GPUs, so 4 x b = $400.
    """
    cands = [cand("chat", "a", 1, 0.25, id="A"), cand("chat", "b", 1, 0.25, id="B")]
    hosts = [host("inst-a4", "a", 4, monthly=200), host("inst-b", "b", 1, monthly=100)]
    solved(problem(cands, hosts), solver, 200.0)
    sol = solved(problem(cands, hosts, available={"a": 3}), solver, 400.0)
    assert sol.hosts == {"inst-b": 4}


@both_solvers
def test_gpus_available_max_counts_cards(solver):
    """PCIe: available counts the cards bought (the server's slots carry no GPU).

    GPU a: PCIe server 4 slots $1,000 + cards $100; GPU b: a bought 1-GPU server at $500, GPU
    included. Cov 0.25: 4 replicas, months = 1, no running costs.
      Uncapped: 1,000 + 4 x 100 = $1,400 (vs 4 x 500 = $2,000 on b).
      available a = 2: 1,000 + 2 x 100 + 2 x 500 = $2,200 (vs all b $2,000) -> $2,000 on b.
      available a = 3: 1,000 + 3 x 100 + 500 = $1,800.
    """
    cands = [cand("chat", "a", 1, 0.25, id="A"), cand("chat", "b", 1, 0.25, id="B")]
    hosts = [host("srv-a", "a", 4, kind="server", capex=1000, gpus_included=False),
             host("srv-b", "b", 1, kind="server", capex=500)]
    cards = {"a": card("a", 100)}
    solved(problem(cands, hosts, cards=cards), solver, 1400.0)
    sol = solved(problem(cands, hosts, cards=cards, available={"a": 2}), solver, 2000.0)
    assert sol.hosts == {"srv-b": 4}
    sol = solved(problem(cands, hosts, cards=cards, available={"a": 3}), solver, 1800.0)
    assert sol.cards == {"a": 3}
    assert sol.hosts == {"srv-a": 1, "srv-b": 1}


@both_solvers
def test_gpus_available_max_counts_owned_gpus(solver):
    """available counts GPUs on hand too (schema: "owned ones included").

    Owned 1-GPU server of a ($10/month) and bought 1-GPU servers of a ($100 capex); cov 0.5 ->
    2 replicas, months = 1. Uncapped: own + 1 bought = 10 + 100 = $110. available a = 1: the owned
    GPU uses the whole allowance, the second replica cannot be placed: infeasible.
    """
    cands = [cand("chat", "a", 1, 0.5, id="A")]
    hosts = [host("own-a", "a", 1, kind="owned", monthly=10, max_count=1),
             host("srv-a", "a", 1, kind="server", capex=100)]
    solved(problem(cands, hosts), solver, 110.0)
    assert solve(problem(cands, hosts, available={"a": 1}), solver=solver).status == "infeasible"


# --------------------------------------------------------------------------------------------
# budget_capex_max, budget_monthly_max
# --------------------------------------------------------------------------------------------


def _buy_xy(x_capex: float, x_monthly: float, y_capex: float, y_monthly: float, **kw) -> MilpInput:
    """One workload (cov 1.0: one replica) on GPU x or GPU y, each a bought 1-GPU server, 36 months."""
    return problem([cand("chat", "x", 1, 1.0, id="X"), cand("chat", "y", 1, 1.0, id="Y")],
                   [host("srv-x", "x", 1, kind="server", capex=x_capex, monthly=x_monthly, power_w=1000),
                    host("srv-y", "y", 1, kind="server", capex=y_capex, monthly=y_monthly, power_w=400)],
                   months=36, **kw)


@both_solvers
def test_budget_capex_max_forces_cheaper_to_buy(solver):
    """X: $1,000 + $100/month; Y: $3,000 + $20/month; 36 months.

      X: 1,000 + 36 x 100 = $4,600;   Y: 3,000 + 36 x 20 = $3,720  -> uncapped optimum Y, $3,720.
      capex cap $2,000: Y's 3,000 > 2,000, so X (dearer to run, cheaper to buy): $4,600.
    """
    sol = solved(_buy_xy(1000, 100, 3000, 20), solver, 3720.0)
    assert sol.hosts == {"srv-y": 1}
    sol = solved(_buy_xy(1000, 100, 3000, 20, capex_max_usd=2000), solver, 4600.0)
    assert sol.hosts == {"srv-x": 1}


@both_solvers
def test_budget_capex_max_infeasible(solver):
    """capex cap $500 < the cheaper server's $1,000: infeasible."""
    assert solve(_buy_xy(1000, 100, 3000, 20, capex_max_usd=500), solver=solver).status == "infeasible"


@both_solvers
def test_budget_monthly_max_forces_cheaper_to_run(solver):
    """X: $1,000 + $50/month; Y: $3,000 + $20/month; 36 months.

      X: 1,000 + 36 x 50 = $2,800;   Y: 3,000 + 36 x 20 = $3,720  -> uncapped optimum X, $2,800.
      monthly cap $40: X's 50 > 40, so Y (dearer to buy, cheaper to run): $3,720.
    """
    solved(_buy_xy(1000, 50, 3000, 20), solver, 2800.0)
    sol = solved(_buy_xy(1000, 50, 3000, 20, monthly_max_usd=40), solver, 3720.0)
    assert sol.hosts == {"srv-y": 1}


@both_solvers
def test_budget_monthly_max_infeasible(solver):
    """monthly cap $10 < the cheaper-to-run server's $20/month: infeasible."""
    assert solve(_buy_xy(1000, 50, 3000, 20, monthly_max_usd=10), solver=solver).status == "infeasible"


# --------------------------------------------------------------------------------------------
# power_max
# --------------------------------------------------------------------------------------------


@both_solvers
def test_power_max_forces_lower_power_with_pue(solver):
    """X: $1,000 + $50/month, 1,000 W; Y: $3,000 + $20/month, 400 W; 36 months; PUE 1.5.

      cost: X $2,800, Y $3,720 (see test_budget_monthly_max_forces_cheaper_to_run).
      facility power: X 1.5 x 1,000 W = 1.5 kW;  Y 1.5 x 400 W = 0.6 kW.
      power cap 1.2 kW: X's IT load (1.0 kW) would fit, but with PUE 1.5 kW > 1.2 -> Y, $3,720.
      power cap 1.5 kW: X fits exactly -> $2,800.   power cap 0.5 kW: 0.6 > 0.5 -> infeasible.
    """
    assert solved(_buy_xy(1000, 50, 3000, 20, pue=1.5, power_max_kw=1.2), solver, 3720.0).hosts == {"srv-y": 1}
    assert solved(_buy_xy(1000, 50, 3000, 20, pue=1.5, power_max_kw=1.5), solver, 2800.0).hosts == {"srv-x": 1}
    assert solve(_buy_xy(1000, 50, 3000, 20, pue=1.5, power_max_kw=0.5), solver=solver).status == "infeasible"


@both_solvers
def test_power_max_counts_cards(solver):
    """PCIe server 4 slots ($1,000, 200 W) + cards ($500, 300 W); cov 0.5 -> 2 cards; PUE 1.25; months 1.

      cost 1,000 + 2 x 500 = $2,000; power 1.25 x (200 + 2 x 300) = 1,000 W = 1.0 kW.
      cap 1.0 kW: feasible, $2,000;  cap 0.99 kW: infeasible.
    """
    def inp(cap):
        return problem([cand("chat", "g", 1, 0.5, id="c")],
                       [host("srv4", "g", 4, kind="server", capex=1000, power_w=200, gpus_included=False)],
                       cards={"g": card("g", 500, power_w=300)}, pue=1.25, power_max_kw=cap)
    solved(inp(1.0), solver, 2000.0)
    assert solve(inp(0.99), solver=solver).status == "infeasible"


@both_solvers
def test_power_max_ignores_cloud_instances(solver):
    """Instances are not in the facility: only the owned server's power counts. PUE 1.0, cap 0.1 kW.

    cov 0.5 -> 2 replicas: the owned 1-GPU server ($10/month, 50 W; owned_first uses it first) and
    one rented instance ($100/month, 5,000 W). Facility power 1.0 x 50 W = 0.05 kW <= 0.1 kW, so the
    plan stands at 10 + 100 = $110 (counting the instance, 5.05 kW, it would be infeasible). With
    an owned server of 5,000 W instead, its 5 kW > 0.1 kW: infeasible.
    """
    c = [cand("chat", "g", 1, 0.5, id="c")]
    sol = solved(problem(c, [host("own1", "g", 1, kind="owned", monthly=10, power_w=50, max_count=1),
                             host("inst1", "g", 1, monthly=100, power_w=5000)], power_max_kw=0.1), solver, 110.0)
    assert sol.hosts == {"own1": 1, "inst1": 1}
    hot = [host("own1", "g", 1, kind="owned", monthly=10, power_w=5000, max_count=1),
           host("inst1", "g", 1, monthly=100, power_w=5000)]
    assert solve(problem(c, hot, power_max_kw=0.1), solver=solver).status == "infeasible"


@both_solvers
def test_power_max_with_only_cloud_instances(solver):
    """Rent only, power cap 0.1 kW: no host is in the facility, so the cap cannot bind and the plan
    rents one $100 instance (cov 1.0) whatever it draws."""
    inp = problem([cand("chat", "g", 1, 1.0, id="c")], [host("inst1", "g", 1, monthly=100, power_w=5000)],
                  power_max_kw=0.1)
    assert solved(inp, solver, 100.0).hosts == {"inst1": 1}


# --------------------------------------------------------------------------------------------
# rack_space
# --------------------------------------------------------------------------------------------


def _racked(rack_usd: float | None) -> MilpInput:
    return problem([cand("chat", "g", 1, 0.09, id="c")],
                   [host("srv1", "g", 1, kind="server", capex=1000, rack_units=4),
                    host("srv4", "g", 4, kind="server", capex=4200, rack_units=4)],
                   months=36, rack_usd=rack_usd, rack_monthly_usd=10.0)


@both_solvers
def test_rack_space_prices_racks(solver):
    """cov 0.09 -> ceil(1 / 0.09) = 12 GPUs (11 cover 0.99). Servers: 1 GPU $1,000 or 4 GPUs $4,200,
    both 4U; no running costs. Racks: 42U, $2,000 + $10/month, 36 months -> $2,360 each.

      Unpriced racks (rack_usd None): 12 x 1-GPU = $12,000.
      Priced racks, by n4 4-GPU servers (n1 = 12 - 4 n4 1-GPU ones; racks = ceil(4 (n1 + n4) / 42)):
        n4 = 0: 12 servers, 48U -> 2 racks: 12,000 + 2 x 2,360 = $16,720
        n4 = 1:  9 servers, 36U -> 1 rack:   8,000 + 4,200 + 2,360 = $14,560
        n4 = 2:  6 servers -> 1 rack:        4,000 + 8,400 + 2,360 = $14,760
        n4 = 3:  3 servers -> 1 rack:              12,600 + 2,360 = $14,960
    Optimum: 8 x 1-GPU + 1 x 4-GPU + 1 rack = $14,560.
    """
    sol = solved(_racked(None), solver, 12000.0)
    assert sol.hosts == {"srv1": 12} and sol.racks == 0
    sol = solved(_racked(2000.0), solver, 14560.0)
    assert sol.hosts == {"srv1": 8, "srv4": 1}
    assert sol.racks == 1


@both_solvers
def test_rack_space_counts_only_bought_servers(solver):
    """Owned servers are already racked and rented instances are not in our racks: only bought
    servers take rack units. Every host below is 40U; racks $2,000; months = 1.

      w1 on GPU g: cov 0.5 -> 2 owned 1-GPU servers at $1/month        = $2
      w2 on GPU k: cov 1.0 -> 1 bought 1-GPU server, $1,000 capex       = $1,000
      w3 on GPU m: cov 1.0 -> 1 rented 1-GPU instance, $100/month        = $100
      racks: only the bought server's 40U -> 1 rack                     = $2,000
    Total $3,102. (Counting all four hosts, 160U, would take 4 racks.)
    """
    inp = problem([cand("w1", "g", 1, 0.5, id="a"), cand("w2", "k", 1, 1.0, id="b"), cand("w3", "m", 1, 1.0, id="c")],
                  [host("own-g", "g", 1, kind="owned", monthly=1, max_count=8, rack_units=40),
                   host("srv-k", "k", 1, kind="server", capex=1000, rack_units=40),
                   host("inst-m", "m", 1, monthly=100, rack_units=40)], rack_usd=2000.0)
    sol = solved(inp, solver, 3102.0)
    assert sol.hosts == {"own-g": 2, "srv-k": 1, "inst-m": 1}
    assert sol.racks == 1


# --------------------------------------------------------------------------------------------
# Constraint names
# --------------------------------------------------------------------------------------------


def _every_family() -> MilpInput:
    """One instance that triggers every constraint family."""
    return problem(
        [cand("w1", "g", 2, 0.5, id="a"), cand("w2", "g", 1, 0.5, id="b"), cand("w2", "k", 1, 0.5, id="c")],
        [host("own-g", "g", 1, kind="owned", monthly=5, max_count=1, power_w=100),
         host("srv-g", "g", 4, kind="server", capex=1000, monthly=10, power_w=200, gpus_included=False, rack_units=2,
              bays=8),
         host("srv-k", "k", 2, kind="server", capex=3000, monthly=20, power_w=500, rack_units=2)],
        cards={"g": card("g", 500, monthly=5, power_w=300)}, months=12, pue=1.2, min_replicas={"w1": 2},
        capex_max_usd=1e6, monthly_max_usd=1e5, power_max_kw=100.0, available={"g": 16, "k": 8}, rack_usd=1500.0,
        site_power_max_w=1e6,
    )


def _spot_run():
    """A batch job billed by the run with spot and on-demand instances, half of it on spot at most."""
    from test_spot import _job, spot_host
    return problem([cand("job", "g", 1, 0.5, id="J")], [spot_host("sp", "g", 1, 730), host("od", "g", 1, monthly=1460)],
                   runs={"job": _job(0.8)}, spot_share={"job": 0.5})


def test_every_constraint_is_named_for_a_registered_family():
    """build() names each linear constraint `<family>[...]` with a family of CONSTRAINT_FAMILIES, and
    an instance with owned and PCIe GPUs, inventory, budgets, power and racks, beside one of two
    length buckets routed in slices (bucket_routing, replica_load, route_slices), batch runs and the
    mixing and redundancy rows (test_policy's instances), uses them all."""
    routing = _two_buckets([cand("chat", "a", 1, 0.4, id="S"),
                            cand("chat", "b", 1, 0.5, id="L", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.1))],
                           [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=300)], slices=2)
    from test_batch_runs import _idle, _night, _window
    from test_policy import _one_bucket
    from test_policy import _two_buckets as _routed
    policies = (_one_bucket(redundancy={"w": "auto"}, mixing="single"),
                _routed(mixing="routed", redundancy={"w": "n_plus_1"}),
                _one_bucket(redundancy={"w": "zones:2"}), _routed(mixing="routed", redundancy={"w": "zones:2"}))
    tp2_job = problem([cand("job", "a", 2, 0.5, id="J")], [host("inst-a2", "a", 2, monthly=100)],
                      runs={"job": _window(4)})  # per-slot replicas on idle GPUs: batch_order
    models = [[c.name for c in build(inp)[0].linear_constraints()]
              for inp in (_every_family(), routing, _night(0.5, {"a": 4}), _idle(0.5), tp2_job, *policies,
                          _two_pool(0.5), _spot_run())]
    families = {n.split("[")[0] for names in models for n in names}
    assert families <= set(CONSTRAINT_FAMILIES), sorted(families - set(CONSTRAINT_FAMILIES))
    assert families == set(CONSTRAINT_FAMILIES), sorted(set(CONSTRAINT_FAMILIES) - families)
    assert all(len(names) == len(set(names)) for names in models)


@both_solvers
def test_every_family_instance_solves(solver):
    """The all-families instance is feasible and both solvers find the hand optimum, months = 12.

    w1 (min 2, TP2, cov 0.5): 2 TP2 groups = 4 GPUs of g; only the 4-slot PCIe server srv-g holds a
    TP2 group, so srv-g >= 1; owned_first then puts the owned g server in use (12 x 5 = $60).
    w2 needs 2 replicas (cov 0.5) of b (g) or c (k):
      A) 2 x b: g GPUs used 4 + 2 = 6 <= 1 owned + 4 srv-g  ->  srv-g = 2; cards >= 6 - 1 = 5.
         60 + 2 x (1,000 + 12 x 10) + 5 x (500 + 12 x 5) + 1 rack (4U) 1,500
         = 60 + 2,240 + 2,800 + 1,500 = $6,600
      B) 1 x b + 1 x c: srv-g = 1 (1 + 4 >= 5), cards 4, one srv-k (3,000 + 12 x 20 = 3,240):
         60 + 1,120 + 4 x 560 + 3,240 + 1,500 = $8,160
      C) 2 x c: srv-g = 1, cards 3 (4 - 1), one srv-k: 60 + 1,120 + 3 x 560 + 3,240 + 1,500 = $7,600
    Optimum A, $6,600 (capex 6,000, 2.4 kW, 6 GPUs of g: every cap is loose).
    """
    solved(_every_family(), solver, 6600.0)


# --------------------------------------------------------------------------------------------
# Solver plumbing
# --------------------------------------------------------------------------------------------


def test_unknown_solver_is_a_solver_error():
    inp = problem([cand("chat", "g", 1, 1.0)], [host("inst1", "g", 1, monthly=100)])
    with pytest.raises(SolverError, match="unknown solver 'nope'"):
        solve(inp, solver="nope")


@both_solvers
def test_duplicate_candidate_ids_are_a_solver_error(solver):
    """Two candidates with the same id give two variables `replicas[x]`: MathOpt would fail with an
    opaque StatusNotOk (an AttributeError); solve() names the duplicate in a SolverError."""
    inp = problem([cand("chat", "g", 1, 0.5, id="x"), cand("chat", "g", 1, 0.3, id="x")],
                  [host("inst1", "g", 1, monthly=100)])
    with pytest.raises(SolverError, match=r"duplicate MILP name 'replicas\[x\]'"):
        solve(inp, solver=solver)


@both_solvers
def test_duplicate_host_ids_are_a_solver_error(solver):
    inp = problem([cand("chat", "g", 1, 0.5, id="x")],
                  [host("h", "g", 1, monthly=100), host("h", "g", 2, monthly=150)])
    with pytest.raises(SolverError, match=r"duplicate MILP name 'hosts\[h\]'"):
        solve(inp, solver=solver)


def test_solution_reports_model_size():
    """n_variables and n_constraints count the built model: replicas[c] + hosts[h] variables, and
    demand_coverage[chat] + tp_packing[g,1] rows."""
    inp = problem([cand("chat", "g", 1, 0.5, id="c")], [host("inst1", "g", 1, monthly=100)])
    sol = solve(inp)
    assert (sol.n_variables, sol.n_constraints) == (2, 2)


# --------------------------------------------------------------------------------------------
# diagnose_caps
# --------------------------------------------------------------------------------------------


def _two_sizes(**kw) -> MilpInput:
    """cov 0.5 -> 2 TP1 replicas; bought servers of GPU g: 1 GPU ($1,000 capex, $100/month, 700 W)
    or 2 GPUs ($1,800, $300/month, 1,200 W); 36 months, PUE 1.5."""
    return problem([cand("chat", "g", 1, 0.5, id="c")],
                   [host("srv1", "g", 1, kind="server", capex=1000, monthly=100, power_w=700),
                    host("srv2", "g", 2, kind="server", capex=1800, monthly=300, power_w=1200)],
                   months=36, pue=1.5, **kw)


@both_solvers
def test_diagnose_caps_names_the_capex_cap(solver):
    """Cheapest plan: 2 x 1-GPU = 2,000 + 36 x 200 = $9,200 (1 x 2-GPU: 1,800 + 36 x 300 = $12,600).

    capex cap $1,500 (and a loose 100 kW power cap): infeasible. Least capex of any plan:
    min(2 x 1,000, 1,800) = $1,800 (the 2-GPU server, not the cheapest plan's $2,000). The power
    cap, dropped in turn, explains nothing (still infeasible), so only the capex line appears.
    """
    inp = _two_sizes(capex_max_usd=1500, power_max_kw=100.0)
    assert solve(inp, solver=solver).status == "infeasible"
    solved(_two_sizes(power_max_kw=100.0), solver, 9200.0)
    lines = diagnose_caps(inp, solver, 10.0)
    assert lines[0] == ("budget.capex_usd binds: it is $1,500; a plan needs at least $1,800 "
                        "(the least achievable with the other caps kept)")
    assert len(lines) == 2 and lines[1].startswith("To fix:")


@both_solvers
def test_diagnose_caps_names_the_power_cap(solver):
    """Power with PUE 1.5: 2 x 1-GPU = 1.5 x 1,400 W = 2.1 kW; 1 x 2-GPU = 1.5 x 1,200 W = 1.8 kW.

    power cap 1.0 kW: infeasible; the least facility power of any plan is 1.80 kW.
    """
    inp = _two_sizes(power_max_kw=1.0)
    assert solve(inp, solver=solver).status == "infeasible"
    lines = diagnose_caps(inp, solver, 10.0)
    assert lines[0] == ("power_kw_max binds: it is 1.00 kW; a plan needs at least 1.80 kW "
                        "(the least achievable with the other caps kept)")
    assert len(lines) == 2


@both_solvers
def test_diagnose_caps_power_cap_with_capex_cap_kept(solver):
    """Power cap 1.0 kW and capex cap $1,900: dropping the capex cap leaves the power cap binding
    (no line); dropping the power cap, the least power within $1,900 capex is the 2-GPU server
    (1,800 <= 1,900; two 1-GPU servers cost 2,000): 1.80 kW."""
    lines = diagnose_caps(_two_sizes(power_max_kw=1.0, capex_max_usd=1900), solver, 10.0)
    assert lines[0].startswith("power_kw_max binds: it is 1.00 kW; a plan needs at least 1.80 kW")
    assert len(lines) == 2


@both_solvers
def test_diagnose_caps_no_single_cap(solver):
    """capex cap $1,500 and power cap 1.0 kW. Dropping the capex cap leaves power 1.0 kW < 1.8 kW
    needed: infeasible; dropping the power cap leaves capex $1,500 < $1,800 needed: infeasible. No
    single cap explains it; without any cap the cheapest plan costs $9,200."""
    lines = diagnose_caps(_two_sizes(power_max_kw=1.0, capex_max_usd=1500), solver, 10.0)
    assert lines[0] == ("no single cap explains it: several caps bind together. Without any cap the cheapest "
                        "buy plan costs $9,200 (capex + running costs over the horizon)")


@both_solvers
def test_diagnose_caps_names_the_inventory_cap(solver):
    """The instance of test_gpus_available_max_counts_owned_gpus: available a = 1 but 2 GPUs of a are
    needed (the owned one and one bought): the line names gpus.available.a and 2 GPUs."""
    inp = problem([cand("chat", "a", 1, 0.5, id="A")],
                  [host("own-a", "a", 1, kind="owned", monthly=10, max_count=1),
                   host("srv-a", "a", 1, kind="server", capex=100)], available={"a": 1})
    lines = diagnose_caps(inp, solver, 10.0)
    assert lines[0] == ("gpus.available.a binds: it is 1 GPUs; a plan needs at least 2 GPUs "
                        "(the least achievable with the other caps kept)")


@both_solvers
def test_diagnose_caps_inventory_is_the_busiest_hour(solver):
    """Rented 1-GPU instances, one TP1 candidate covering 0.25 of the peak, three hourly periods at
    1, 0.5 and 0.25 of the peak: 4, 2 and 1 instances. available = 3 binds in the first hour only;
    the least cap that admits a plan is the busiest hour's 4 GPUs (not 4 + 2 + 1 = 7 summed over hours)."""
    inp = problem([cand("chat", "g", 1, 0.25, id="c")], [host("inst1", "g", 1, monthly=100)],
                  available={"g": 3}, periods=3, profile={"chat": (1.0, 0.5, 0.25)})
    assert solve(inp, solver=solver).status == "infeasible"
    lines = diagnose_caps(inp, solver, 10.0)
    assert lines[0] == ("gpus.available.g binds: it is 3 GPUs; a plan needs at least 4 GPUs "
                        "(the least achievable with the other caps kept)")


# --------------------------------------------------------------------------------------------
# bucket_routing and replica_load (several length buckets)
# --------------------------------------------------------------------------------------------


def _two_buckets(cands: list, hosts: list, **kw) -> MilpInput:
    """A workload `chat` of two length buckets: 80 % short (bucket 0), 20 % long (bucket 1)."""
    return problem(cands, hosts, shares={"chat": (0.8, 0.2)}, **kw)


@both_solvers
def test_bucket_routing_sends_each_bucket_to_the_cheapest_server_of_it(solver):
    """Short requests are cheap on GPU a, long ones only fit GPU b (Melange's point).

    S on a ($100/replica) serves only bucket 0 with coverage 0.4 (one replica takes 40 % of the
    workload's demand rate if every request were short); L on b ($300) serves both buckets, coverage
    0.5 on bucket 0 and 0.1 on bucket 1.
    bucket_routing: route[S,0] + route[L,0] >= 0.8, route[L,1] >= 0.2.
    replica_load: route[S,0] / 0.4 <= n_S;  route[L,0] / 0.5 + route[L,1] / 0.1 <= n_L.
    All on L: 0.8 / 0.5 + 0.2 / 0.1 = 1.6 + 2 = 3.6 -> 4 x $300 = $1,200.
    Split: long on L: 0.2 / 0.1 = 2 -> n_L = 2 ($600); short on S: 0.8 / 0.4 = 2 -> n_S = 2 ($200): $800.
    Mixed fill: n_L = 2 leaves no spare (2.0 used), so no cheaper variant: optimum $800.
    """
    cands = [cand("chat", "a", 1, 0.4, id="S"),
             cand("chat", "b", 1, 0.5, id="L", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.1))]
    inp = _two_buckets(cands, [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=300)])
    sol = solved(inp, solver, 800.0)
    assert sol.replicas == {"S": 2, "L": 2}
    assert sol.routes[("S", 0)][0] == pytest.approx(0.8, abs=1e-6)
    assert sol.routes[("L", 1)][0] == pytest.approx(0.2, abs=1e-6)


@both_solvers
def test_replica_load_fills_spare_capacity_with_the_other_bucket(solver):
    """The long replicas' spare capacity takes short requests (the aggregate load form).

    Shares 0.8 / 0.2. L (b, $300) covers 0.5 of bucket 0 and 0.15 of bucket 1; S (a, $100) covers
    0.25 of bucket 0 only.
      n_L = 2: the long bucket loads 0.2 / 0.15 = 1.33 replicas, the spare 0.67 carries 0.67 x 0.5 =
               0.33 of short demand; the other 0.47 needs 0.47 / 0.25 = 1.87 -> n_S = 2: $600 + $200 = $800.
               (n_S = 1 carries 0.33 + 0.25 = 0.58 < 0.8: short.)
      n_L = 3: spare 1.67 carries 0.83 >= 0.8 of short demand, n_S = 0: $900.
      n_L = 2 without the fill would need ceil(0.8 / 0.25) = 4 x S: $1,000.
    Optimum $800, and L carries at least 0.8 - 2 x 0.25 = 0.3 of the short bucket.
    """
    cands = [cand("chat", "a", 1, 0.25, id="S"),
             cand("chat", "b", 1, 0.5, id="L", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.15))]
    inp = _two_buckets(cands, [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=300)])
    sol = solved(inp, solver, 800.0)
    assert sol.replicas == {"S": 2, "L": 2}
    load_l = sol.routes[("L", 0)][0] / 0.5 + sol.routes[("L", 1)][0] / 0.15
    assert load_l <= 2 + 1e-6
    assert sol.routes[("L", 0)][0] >= 0.8 - 2 * 0.25 - 1e-6  # S's two replicas carry at most 0.5


@both_solvers
def test_route_slices_keeps_a_bucket_whole(solver):
    """The instance of test_replica_load_fills_spare_capacity_with_the_other_bucket ($800 when L's
    spare capacity takes 0.33 of the short bucket), with planning.bucket_slices = 1: a bucket goes
    wholly to S or to L (Melange's slice_factor 1).
      short bucket on S: 0.8 / 0.25 = 3.2 -> 4 S ($400); long on L: 0.2 / 0.15 = 1.33 -> 2 L ($600): $1,000.
      both on L: 0.8 / 0.5 + 0.2 / 0.15 = 1.6 + 1.33 = 2.93 -> 3 L: $900.
    Optimum $900, all on L; every route is 0 or its whole bucket."""
    cands = [cand("chat", "a", 1, 0.25, id="S"),
             cand("chat", "b", 1, 0.5, id="L", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.15))]
    inp = _two_buckets(cands, [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=300)], slices=1)
    sol = solved(inp, solver, 900.0)
    assert sol.replicas == {"L": 3}
    assert sol.routes[("L", 0)][0] == pytest.approx(0.8) and sol.routes[("L", 1)][0] == pytest.approx(0.2)


@both_solvers
def test_route_slices_in_fifths_reach_the_split_optimum(solver):
    """The same with 5 slices of the short bucket (0.16 each): L takes the long bucket (1.33
    replica-loads) and two slices (0.32 / 0.5 = 0.64): 1.97 <= 2 L ($600); S takes three slices,
    0.48 / 0.25 = 1.92 -> 2 S ($200): $800, the free split's optimum. One slice fewer on L needs
    0.64 / 0.25 = 2.56 -> 3 S ($900); one more loads L 2.29 -> 3 L."""
    cands = [cand("chat", "a", 1, 0.25, id="S"),
             cand("chat", "b", 1, 0.5, id="L", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.15))]
    inp = _two_buckets(cands, [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=300)], slices=5)
    sol = solved(inp, solver, 800.0)
    assert sol.replicas == {"S": 2, "L": 2}
    assert sol.routes[("L", 0)][0] == pytest.approx(0.32) and sol.routes[("S", 0)][0] == pytest.approx(0.48)


@both_solvers
def test_bucket_routing_infeasible_when_no_deployment_serves_a_bucket(solver):
    """Only S, which serves bucket 0: bucket_routing[chat,b1] is 0 >= 0.2, infeasible."""
    inp = _two_buckets([cand("chat", "a", 1, 0.4, id="S")], [host("inst-a", "a", 1, monthly=100)])
    assert solve(inp, solver=solver).status == "infeasible"


# --------------------------------------------------------------------------------------------
# Every constraint family has a test
# --------------------------------------------------------------------------------------------


FAMILY_TESTS = {
    "demand_coverage": [test_demand_coverage_rounds_replicas_up, test_demand_coverage_picks_cheapest_gpu,
                        test_demand_coverage_mix_of_gpus_wins, test_demand_coverage_per_workload],
    "bucket_routing": [test_bucket_routing_sends_each_bucket_to_the_cheapest_server_of_it,
                       test_bucket_routing_infeasible_when_no_deployment_serves_a_bucket],
    "replica_load": [test_bucket_routing_sends_each_bucket_to_the_cheapest_server_of_it,
                     test_replica_load_fills_spare_capacity_with_the_other_bucket],
    "route_slices": [test_route_slices_keeps_a_bucket_whole, test_route_slices_in_fifths_reach_the_split_optimum],
    "min_replicas": [test_min_replicas_above_demand, test_min_replicas_counts_replicas_of_every_candidate],
    "tp_packing": [test_tp_packing_tp2_cannot_split_across_1_slot_hosts, test_tp_packing_big_host_wins_when_cheaper,
                   test_tp_packing_workloads_share_a_host, test_tp_packing_infeasible_without_a_big_enough_host],
    "pcie_replicas_max": [test_pcie_replicas_max_splits_one_candidate_over_both_pools],
    "card_packing": [test_card_packing_tp4_needs_a_4_slot_pcie_server, test_cards_cover_owned_gpus_do_not_join_a_pcie_group],
    "cards_cover": [test_cards_cover_buys_one_card_per_gpu_used, test_cards_cover_capex_only,
                    test_owned_first_before_pcie_cards, test_cards_cover_owned_gpus_do_not_join_a_pcie_group,
                    test_cards_cover_rented_gpus_do_not_join_a_pcie_group],
    "server_power_max": [test_server_power_max_three_cards_fit_one_server, test_server_power_max_four_cards_need_two_servers,
                         test_server_power_max_tp4_group_cannot_be_powered,
                         test_server_power_max_tp2_groups_use_two_of_three_cards],
    "cards_fit": [test_cards_fit_needs_a_second_server],
    "owned_first": [test_owned_first_uses_the_server_on_hand, test_owned_first_then_buys_the_rest,
                    test_owned_first_before_pcie_cards],
    "gpus_available_max": [test_gpus_available_max_spills_to_the_dearer_gpu, test_gpus_available_max_counts_whole_hosts,
                           test_gpus_available_max_counts_cards, test_gpus_available_max_counts_owned_gpus,
                           test_diagnose_caps_names_the_inventory_cap],
    "rack_space": [test_rack_space_prices_racks, test_rack_space_counts_only_bought_servers],
    "budget_capex_max": [test_budget_capex_max_forces_cheaper_to_buy, test_budget_capex_max_infeasible,
                         test_diagnose_caps_names_the_capex_cap],
    "budget_monthly_max": [test_budget_monthly_max_forces_cheaper_to_run, test_budget_monthly_max_infeasible],
    "batch_routing": [test_batch_routing_pays_instance_hours, test_daily_job_rents_its_overflow_every_day],
    "batch_load": [test_batch_load_bills_a_partial_last_hour_in_full, test_batch_routing_pays_instance_hours],
    "batch_packing": [test_batch_packing_runs_on_idle_gpus_for_free, test_batch_packing_rents_what_idle_gpus_lack,
                      test_daily_job_in_the_night_valley_costs_nothing_more],
    "batch_rented_packing": [test_batch_rented_packing_pools_instance_hours_of_alike_slots,
                             test_batch_packing_rents_what_idle_gpus_lack],
    "batch_gpus_available": [test_batch_gpus_available_caps_the_run],
    "batch_order": [test_batch_routing_pays_instance_hours],
    "deployment_used": [test_mixing_one_bucket, test_static_types_when_the_plan_holds_bought_or_owned_hosts],
    "mixing_single": [test_mixing_one_bucket, test_static_types_when_the_plan_holds_bought_or_owned_hosts],
    "bucket_served_by": [test_mixing_routed_two_buckets],
    "mixing_routed": [test_mixing_routed_two_buckets],
    "deployment_on": [test_n_plus_1_two_replica_case_by_hand, test_every_policy_family_is_built],
    "one_replica": [test_n_plus_1_one_bucket],
    "spare_coverage": [test_n_plus_1_one_bucket, test_n_plus_1_two_replica_case_by_hand],
    "spare_replica": [test_mixing_routed_two_buckets],
    "zone_size": [test_zones_one_bucket_by_hand, test_zones_two_buckets_by_hand],
    "zone_hosts": [test_zones_need_n_hosts],
    "zone_replicas_min": [test_zones_one_bucket_by_hand],
    "zone_coverage": [test_zones_one_bucket_by_hand, test_zones_need_n_hosts],
    "zone_replica": [test_zones_two_buckets_by_hand],
    "power_max": [test_power_max_forces_lower_power_with_pue, test_power_max_counts_cards,
                  test_power_max_ignores_cloud_instances, test_power_max_with_only_cloud_instances,
                  test_diagnose_caps_names_the_power_cap],
    "site_power_max": [test_site_power_max_picks_the_towers_the_circuit_can_carry],
    "spot_replicas_max": [test_spot_replicas_max_keeps_spot_within_replicas, test_spot_share_max_binds_on_two_pools],
    "spot_packing": [test_spot_packing_keeps_tp_groups_in_their_pool],
    "spot_share_max": [test_spot_share_max_binds_on_two_pools, test_spot_packing_keeps_tp_groups_in_their_pool],
    "batch_spot_share_max": [test_batch_spot_share_max_moves_half_the_run_on_demand],
}
"""Constraint family -> the hand-derived tests that exercise it (tests/test_exhaustive.py checks every family against a brute force of physically valid plans)."""


def test_every_constraint_family_has_a_test():
    """A new family in CONSTRAINT_FAMILIES fails here until a test for it is listed in FAMILY_TESTS."""
    assert set(FAMILY_TESTS) == set(CONSTRAINT_FAMILIES)
    for family, tests in FAMILY_TESTS.items():
        assert tests, family
        for t in tests:
            assert t.__name__.startswith("test_") and globals()[t.__name__] is t, (family, t)


def test_solver_output_stays_off_stdout(capfd):
    """What C++ solver code writes to file descriptor 1 during a solve never reaches stdout, so
    stdout keeps only the report (`--format json` stays valid JSON): it is dropped, or put on
    stderr when the solver log is at DEBUG (`planner --debug`)."""
    import logging

    from planner.optimize.milp_parts import SOLVER_LOG, solver_output_to_stderr

    with solver_output_to_stderr():
        os.write(1, b"solver chatter\n")
    os.write(1, b"report\n")
    out, err = capfd.readouterr()
    assert out == "report\n" and "solver chatter" not in err
    level = SOLVER_LOG.level
    SOLVER_LOG.setLevel(logging.DEBUG)
    try:
        with solver_output_to_stderr():
            os.write(1, b"solver chatter\n")
    finally:
        SOLVER_LOG.setLevel(level)
    out, err = capfd.readouterr()
    assert out == "" and "solver chatter" in err


def test_a_solver_error_status_is_a_bug_not_a_limit(monkeypatch):
    """ortools 9.15 reports an error status from MathOpt as `AttributeError: 'StatusNotOk' object has
    no attribute ...`; solve() turns it into SolverBug (exit 1, a planner bug), not exit 4 (limit)."""
    from ortools.math_opt.python import mathopt

    from planner.errors import EXIT_BUG, SolverBug

    def refuse(*args, **kwargs):
        raise AttributeError("'StatusNotOk' object has no attribute 'canonical_code'")

    monkeypatch.setattr(mathopt, "solve", refuse)
    inp = problem([cand("chat", "g", 1, 1.0, id="c")], [host("inst1", "g", 1, monthly=100)])
    with pytest.raises(SolverBug, match="refused the fleet model") as exc:
        solve(inp)
    assert exc.value.exit_code == EXIT_BUG
