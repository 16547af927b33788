"""Rent plans with hourly profiles solved hour by hour (`planner.optimize.by_hour`): the
decomposition gives the coupled model's plan where it claims to be exact, solves hours with the
same demand once, and leaves every other model to the coupled MILP."""

from __future__ import annotations

import dataclasses

import pytest
from milp_factories import cand, host, problem

from planner.optimize import by_hour, milp
from planner.optimize.chain import milp_input, solve_loaded
from planner.spec.loader import load_spec


def _three_hours(**kw):
    """One workload on two instance types. S (GPU a, $100/month) covers 0.4 of the peak per replica;
    L (GPU b, 2 GPUs per replica, $180/month for its 2-GPU instance) covers 1.0. Hours at 100 %, 30 %
    and 100 % of the peak.

    Hour at 100 %: 3 S = $300 (3 x 0.4 >= 1) against 1 L = $180, or 1 L + 0 S: L, $180.
    Hour at 30 %: 1 S covers 0.4 >= 0.3 for $100 (L: $180): S.
    Instances cost monthly / T per hour, so the month is (180 + 100 + 180) / 3 = $153.33
    (plus the tie-break term, 1e-4 per replica-GPU-hour / 3)."""
    cands = [cand("chat", "a", 1, 0.4, id="S"), cand("chat", "b", 2, 1.0, id="L")]
    hosts = [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 2, monthly=180)]
    return problem(cands, hosts, periods=3, profile={"chat": (1.0, 0.3, 1.0)}, **kw)


def _same(a: milp.MilpSolution, b: milp.MilpSolution) -> None:
    assert a.status == b.status == "optimal"
    assert a.objective_usd == pytest.approx(b.objective_usd, rel=1e-9)
    assert a.replicas_by_hour == b.replicas_by_hour
    assert a.replicas == b.replicas
    assert {k: v for k, v in a.hosts_by_hour.items() if any(v)} == {k: v for k, v in b.hosts_by_hour.items() if any(v)}
    assert a.hosts == b.hosts and a.cards == b.cards


@pytest.mark.parametrize("solver", milp.SOLVERS)
def test_hour_by_hour_equals_the_coupled_model(solver):
    """The derivation in `_three_hours`: L, S, L by hour for $153.33; the coupled MILP agrees."""
    inp = _three_hours()
    assert by_hour.exact(inp)
    split, whole = by_hour.solve(inp, solver, 10.0), milp.solve(inp, solver, 10.0)
    _same(split, whole)
    assert split.replicas_by_hour == {"L": [1, 0, 1], "S": [0, 1, 0]}
    assert split.objective_usd == pytest.approx(460.0 / 3, abs=0.01)


def test_hours_with_the_same_demand_are_solved_once(monkeypatch):
    """Hours 1 and 3 share the level 1.0: two one-hour models, not three."""
    calls = []
    real = milp.solve

    def counting(inp, solver="highs", time_limit_s=60.0):
        calls.append(inp.periods)
        return real(inp, solver, time_limit_s)

    monkeypatch.setattr(milp, "solve", counting)
    sol = by_hour.solve(_three_hours())
    assert calls == [1, 1]
    assert sol.models == 2 and milp.solve(_three_hours()).models == 1
    assert sol.replicas_by_hour["L"] == [1, 0, 1]


def test_a_monthly_budget_below_the_cheapest_plan_falls_back_to_the_coupled_model():
    """$150 < $153.33: the decomposed plan breaks the budget, so the coupled model decides, and
    (the decomposed plan being the cheapest there is) finds it infeasible. At $160 the decomposed
    plan fits and stands."""
    assert by_hour.solve(_three_hours(monthly_max_usd=150.0)).status == "infeasible"
    assert milp.solve(_three_hours(monthly_max_usd=150.0)).status == "infeasible"
    fits = by_hour.solve(_three_hours(monthly_max_usd=160.0))
    assert fits.status == "optimal" and fits.objective_usd == pytest.approx(460.0 / 3, abs=0.01)


def test_models_that_couple_their_hours_are_not_split():
    """Bought hosts, a capex cap, a cap-diagnosis objective or one period couple or need no split."""
    inp = _three_hours()
    assert not by_hour.exact(dataclasses.replace(inp, periods=1, profile={}))
    assert not by_hour.exact(dataclasses.replace(inp, objective="power_kw"))
    assert not by_hour.exact(dataclasses.replace(inp, capex_max_usd=1e6))
    bought = host("srv-a", "a", 1, kind="server", capex=1000, monthly=10)
    assert not by_hour.exact(dataclasses.replace(inp, hosts=[*inp.hosts, bought]))


def test_shipped_daily_profile_rent_plan_is_the_coupled_optimum():
    """problems/hybrid-daily-profile.yaml, priced to rent (24 hourly periods): hour by hour gives the
    coupled MILP's objective and replicas and instances in every hour."""
    loaded = load_spec("problems/hybrid-daily-profile.yaml")
    out = solve_loaded(loaded)
    inp, _ = milp_input(out.resolved, out.candidates, out.book, "rent")
    assert inp.periods == 24 and by_hour.exact(inp)
    _same(by_hour.solve(inp), milp.solve(inp))


def _hybrid_four_hours():
    """`_three_hours`' deployments over four hours at 100 %, 30 %, 100 %, 30 %, with a server of
    GPU b to buy ($1,000 capex, $20/month, 2 slots) beside the instances, over 12 months.

    Renting L every hour costs 12 x 180 x 2/4 = $1,080 for the peaks plus S at night,
    12 x 100 x 2/4 = $600: $1,680. Buying the server ($1,000 + 12 x $20 = $1,240) runs L in
    every hour, night included (1.0 >= 0.3): $1,240, the optimum. Hours 0 and 2 are alike, and
    1 and 3: two periods of two hours each."""
    cands = [cand("chat", "a", 1, 0.4, id="S"), cand("chat", "b", 2, 1.0, id="L")]
    hosts = [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 2, monthly=180),
             host("srv-b", "b", 2, kind="server", capex=1000, monthly=20)]
    return problem(cands, hosts, months=12, periods=4, profile={"chat": (1.0, 0.3, 1.0, 0.3)})


@pytest.mark.parametrize("solver", milp.SOLVERS)
def test_alike_hours_merge_into_one_period_with_the_same_optimum(solver):
    """A hybrid model is not split by hour, but its alike hours merge (4 periods -> 2) and the
    merged model gives the 4-period model's plan: the bought server, L in every hour, $1,240."""
    inp = _hybrid_four_hours()
    assert not by_hour.exact(inp)
    small = by_hour.merged(inp)
    assert small.periods == 2 and small.hours == ((0, 2), (1, 3))
    merged, whole = by_hour.solve(inp, solver, 10.0), milp.solve(inp, solver, 10.0)
    _same(merged, whole)
    assert merged.hosts == {"srv-b": 1} and merged.replicas_by_hour == {"L": [1, 1, 1, 1]}
    assert merged.objective_usd == pytest.approx(1240.0, abs=0.01)


@pytest.mark.parametrize("solver", milp.SOLVERS)
def test_a_day_of_alike_hours_merges_into_one_period(solver):
    """Every hour at 100 %: one period standing for all four, still billed hour by hour; the
    server carries L all day as in the derivation of `_hybrid_four_hours` ($1,240, now against
    12 x 180 = $2,160 to rent L every hour)."""
    inp = dataclasses.replace(_hybrid_four_hours(), profile={"chat": (1.0,) * 4})
    small = by_hour.merged(inp)
    assert small.periods == 1 and small.hours == ((0, 1, 2, 3),) and small.hourly
    merged, whole = by_hour.solve(inp, solver, 10.0), milp.solve(inp, solver, 10.0)
    _same(merged, whole)
    assert merged.replicas_by_hour == {"L": [1, 1, 1, 1]} and merged.hosts == {"srv-b": 1}
    assert merged.objective_usd == pytest.approx(1240.0, abs=0.01)


def test_no_merge_when_every_hour_differs():
    inp = dataclasses.replace(_hybrid_four_hours(), profile={"chat": (1.0, 0.3, 0.9, 0.2)})
    assert by_hour.merged(inp) is None


def test_shipped_hybrid_plan_is_the_same_with_hours_merged():
    """problems/hybrid-daily-profile.yaml's hybrid model: the chat's profile takes 10 distinct
    values over its 24 hours (0.1, 0.15, 0.25, 0.5, 0.8, 1.0, 0.9, 0.7, 0.35, 0.2) and the summaries
    are flat, so 10 demand levels; the merged model reaches the 24-period model's objective and
    hour-by-hour plan."""
    out = solve_loaded(load_spec("problems/hybrid-daily-profile.yaml"))
    inp, _ = milp_input(out.resolved, out.candidates, out.book, "hybrid")
    assert by_hour.merged(inp).periods == 10
    _same(by_hour.solve(inp), milp.solve(inp))
