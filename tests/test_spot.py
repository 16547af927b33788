"""Spot capacity as a risk: the availability formula (`planner.money.spot`), the interruption table
(`planner.catalog.spot`), the two rental pools and the spot share cap in the MILP
(`planner.optimize.spot_rows`, hand-derived on HiGHS and SCIP), a batch job's restart allowance and
the `rent.spot_max_share` field.

Prices are monthly rents; for batch runs monthly = $/h x 730, so an instance of monthly 730 x p
costs p dollars an hour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from milp_factories import cand, cost_of, host, problem

from planner.catalog.spot import load_spot_rates, parse_spot_rates
from planner.errors import CatalogError, InputError
from planner.money.spot import (batch_lost_hours, interruptions_per_hour, lost_fraction, spot_availability,
                                spot_share)
from planner.optimize.batch_runs import JobWindow, runs_per_month
from planner.optimize.milp import SOLVERS, build, solve
from planner.optimize.spot_rows import capacity_weight, job_availability
from planner.spec.loader import load_spec_text

both_solvers = pytest.mark.parametrize("solver", SOLVERS)
H = 730.0


def spot_host(id: str, gpu: str, slots: int, monthly: float, availability: float = 1.0):
    """A rented spot instance type whose replicas serve `availability` of the time."""
    return replace(host(id, gpu, slots, monthly=monthly), tier="spot", availability=availability)


# ------------------------------------------------------------------------------------------------
# The formula
# ------------------------------------------------------------------------------------------------


def test_spot_availability_formula():
    """lambda = per month / 730; f = lambda L / (1 + lambda L); a = 1 / (1 + lambda L).

    AWS row: 0.25 a month -> lambda = 0.25 / 730 = 3.4247e-4 /h; 10 min = 1/6 h: lambda L = 5.7078e-5,
    a = 1 / 1.000057078 = 0.99994293. One a day (30.4 a month is 730 / 24), 10 min: lambda L = 1/144,
    a = 144 / 145 = 0.993103. A batch replica redoing a 360 s request also loses 0.1 h: L = 1/6 + 0.1
    = 0.26667 h, lambda L = 1/90, a = 90 / 91."""
    lam = interruptions_per_hour(0.25, H)
    assert lam == pytest.approx(3.4247e-4, rel=1e-4)
    assert spot_availability(lam, 10 / 60) == pytest.approx(1 / (1 + 0.25 / 730 / 6), rel=1e-12)
    assert spot_availability(lam, 10 / 60) == pytest.approx(0.99994293, abs=1e-8)
    daily = interruptions_per_hour(730 / 24, H)
    assert spot_availability(daily, 10 / 60) == pytest.approx(144 / 145)
    assert lost_fraction(daily, 10 / 60) == pytest.approx(1 / 145)
    assert batch_lost_hours(10, 360) == pytest.approx(1 / 6 + 0.1)
    assert spot_availability(daily, batch_lost_hours(10, 360)) == pytest.approx(90 / 91)
    assert spot_availability(0.0, 1.0) == 1.0


def test_spot_share_defaults():
    """null: 0.5 for an online workload, 1.0 for a batch job; a number applies to both."""
    assert (spot_share(None, False), spot_share(None, True)) == (0.5, 1.0)
    assert (spot_share(0.2, False), spot_share(0.2, True)) == (0.2, 0.2)


# ------------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------------

HEADER = ("provider,gpu,interruptions_per_instance_month,published_band,restart_minutes,basis,confidence,source,"
          "as_of,notes\n")


def test_shipped_table_has_a_rate_for_every_spot_provider():
    """Every provider with a spot price has its own row or falls to the `*` row; AWS's is its band
    converted (not an assumption), GCP's an assumption."""
    rates = load_spot_rates()
    assert rates.rate("aws", "h100-sxm-80gb").basis == "band"
    assert rates.rate("aws", "h100-sxm-80gb").interruptions_per_instance_month == 0.25
    assert rates.rate("gcp", "l4-24gb").assumed
    assert rates.rate("some-new-cloud", "l4-24gb").provider == "*"
    assert all(r.source and r.as_of for r in rates.rows)


def test_bad_interruption_row_is_located():
    """A non-number rate, a negative restart and an unknown basis: each at its line and column."""
    text = HEADER + ("aws,,abc,,10,band,low,src,2026-01-01,\n"
                     "gcp,,1,,-5,assumption,low,src,2026-01-01,\n"
                     "*,,1,,5,guess,low,src,2026-01-01,\n")
    with pytest.raises(CatalogError) as exc:
        parse_spot_rates(text, "catalog/spot_interruption.csv")
    lines = str(exc.value)
    assert "catalog/spot_interruption.csv:2: interruptions_per_instance_month: not a number (got 'abc')" in lines
    assert "catalog/spot_interruption.csv:3: restart_minutes: must be in [0, 1440] (got -5)" in lines
    assert "catalog/spot_interruption.csv:4: basis: unknown value 'guess'" in lines


def test_interruption_table_needs_the_any_provider_row():
    with pytest.raises(CatalogError, match="no row for provider '\\*'"):
        parse_spot_rates(HEADER + "aws,,1,,10,band,low,src,2026-01-01,\n", "catalog/spot_interruption.csv")


def test_spot_max_share_out_of_range_is_located():
    """rent.spot_max_share 1.5: a located error at its line and column, exit 2 (InputError)."""
    text = ("name: t\nobjective: rent\nrent:\n  pricing: spot\n  spot_max_share: 1.5\nworkloads:\n"
            "  - name: chat\n    model: qwen2.5-7b\n    traffic: {peak_qps: 1}\n"
            "    slo: {ttft_ms: 1000, tpot_ms: 100}\n")
    with pytest.raises(InputError) as exc:
        load_spec_text(text, "x.yaml")
    assert "x.yaml:5:19: rent.spot_max_share:" in str(exc.value)
    assert exc.value.exit_code == 2


# ------------------------------------------------------------------------------------------------
# The MILP: two pools and the share cap
# ------------------------------------------------------------------------------------------------


def _two_pool(share: float):
    """One workload, one TP1 candidate covering 0.25 of the demand; an on-demand 1-GPU instance at
    $100 and a spot one at $30 whose replicas serve 0.8 of the time."""
    return problem([cand("w", "g", 1, 0.25, id="c")],
                   [host("od", "g", 1, monthly=100), spot_host("sp", "g", 1, 30, availability=0.8)],
                   spot_share={"w": share})


@both_solvers
def test_spot_share_max_binds_on_two_pools(solver):
    """n on-demand, m spot replicas: demand_coverage 0.25 (n + 0.8 m) >= 1, i.e. n + 0.8 m >= 4;
    spot_share_max 0.25 m <= 0.5 x 0.25 (n + m), i.e. m <= n. Minimise 100 n + 30 m:
    n = 2 needs m >= 2.5 > n; n = 3 needs m >= 1.25, so m = 2: $360 (n = 4, m = 0: $400).
    At share 1.0 the cap is gone: m = 5 (0.8 x 5 = 4), $150."""
    sol = solve(_two_pool(0.5), solver)
    assert cost_of(_two_pool(0.5), sol) == pytest.approx(360.0, abs=1e-6)
    assert (sol.replicas["c"], sol.spot_replicas["c"], sol.hosts) == (5, [2], {"od": 3, "sp": 2})
    sol = solve(_two_pool(1.0), solver)
    assert cost_of(_two_pool(1.0), sol) == pytest.approx(150.0, abs=1e-6)
    assert (sol.replicas["c"], sol.spot_replicas["c"], sol.hosts) == (5, [5], {"sp": 5})


@both_solvers
def test_spot_packing_keeps_tp_groups_in_their_pool(solver):
    """A TP2 candidate covering 0.5: two replicas. Spot 2-GPU instance $50, on-demand $200.
    Share 1.0: both on spot, 2 x 50 = $100. Share 0.5: spot_share_max 0.5 m <= 0.25 (n + m) gives
    m <= n, so m = n = 1: one spot and one on-demand instance, $250; the on-demand replica cannot
    sit on the spot instance's GPUs (tp_packing counts on-demand hosts only, spot_packing the
    spot ones), nor the spot one on the on-demand instance."""
    def inp(share):
        return problem([cand("w", "g", 2, 0.5, id="c")],
                       [host("od", "g", 2, monthly=200), spot_host("sp", "g", 2, 50)], spot_share={"w": share})
    sol = solve(inp(1.0), solver)
    assert cost_of(inp(1.0), sol) == pytest.approx(100.0, abs=1e-6) and sol.hosts == {"sp": 2}
    sol = solve(inp(0.5), solver)
    assert cost_of(inp(0.5), sol) == pytest.approx(250.0, abs=1e-6) and sol.hosts == {"od": 1, "sp": 1}
    assert sol.spot_replicas["c"] == [1]


@both_solvers
def test_spot_replicas_max_keeps_spot_within_replicas(solver):
    """Two workloads on one GPU: w1's candidate a (cov 1) and w2's b (cov 1), 1-GPU instances,
    on-demand $100, spot $10 (share 1.0). Without spot_replicas_max, a could claim 2 spot replicas
    of its 1 and free an on-demand slot for b on paper; with it, each has 1 replica, both on spot:
    2 x $10 = $20, spot replicas never above replicas."""
    inp = problem([cand("w1", "g", 1, 1.0, id="a"), cand("w2", "g", 1, 1.0, id="b")],
                  [host("od", "g", 1, monthly=100), spot_host("sp", "g", 1, 10)], spot_share={"w1": 1.0, "w2": 1.0})
    sol = solve(inp, solver)
    assert cost_of(inp, sol) == pytest.approx(20.0, abs=1e-6)
    assert all(sol.spot_replicas[k][0] <= sol.replicas[k] for k in sol.spot_replicas)
    assert sol.hosts == {"sp": 2}


def test_spot_rows_are_named_and_coverage_counts_availability():
    """build() adds spot_replicas_max, spot_packing and spot_share_max rows, and demand_coverage
    gets -(1 - a) cov = -(0.2 x 0.25) = -0.05 on the spot variable."""
    model, *_ = build(_two_pool(0.5))
    names = {c.name for c in model.linear_constraints()}
    assert {"spot_replicas_max[c]", "spot_packing[g,1]", "spot_share_max[w]"} <= names
    cov = next(c for c in model.linear_constraints() if c.name == "demand_coverage[w]")
    spot = next(v for v in model.variables() if v.name == "spot_replicas[c]")
    assert cov.get_coefficient(spot) == pytest.approx(-0.05)


def test_capacity_weight_of_a_mix():
    """Two buckets, shares 0.8 / 0.2 of w, coverages 0.5 / 0.1: kappa = 1 / (0.8 / 0.5 + 0.2 / 0.1)
    = 1 / 3.6 = 0.2778; with one bucket kappa = cov."""
    c = cand("w", "g", 1, 0.5, buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.1))
    assert capacity_weight(c) == pytest.approx(1 / 3.6)
    assert capacity_weight(cand("w", "g", 1, 0.25)) == pytest.approx(0.25)


# ------------------------------------------------------------------------------------------------
# Batch jobs on spot
# ------------------------------------------------------------------------------------------------


def _job(availability: float) -> JobWindow:
    return JobWindow(hours=4, start_hour=0, schedule="once", runs_per_month=runs_per_month("once", H),
                     availability=availability)


@both_solvers
def test_batch_restart_allowance_grows_the_run(solver):
    """A once-job in a 4 h window, one replica (cov 0.5) does 0.5 / 4 = 0.125 of it an hour: 8
    replica-hours. With the restart allowance a = 0.8 each hour counts 0.8: 8 / 0.8 = 10 spot
    instance-hours at $1 = $10 (a = 1: $8)."""
    for a, usd in ((1.0, 8.0), (0.8, 10.0)):
        inp = problem([cand("job", "g", 1, 0.5, id="J")], [spot_host("sp", "g", 1, 1 * H)],
                      runs={"job": _job(a)}, spot_share={"job": 1.0})
        sol = solve(inp, solver)
        assert cost_of(inp, sol) == pytest.approx(usd, abs=1e-6)


@both_solvers
def test_batch_spot_share_max_moves_half_the_run_on_demand(solver):
    """The same job (10 replica-hours with a = 0.8), spot $1/h, on-demand $2/h. Share 1.0: 10 spot
    hours, $10. Share 0.5: spot GPU-hours <= 0.5 x 10 replica GPU-hours: 5 spot + 5 on-demand,
    5 + 10 = $15."""
    for share, usd in ((1.0, 10.0), (0.5, 15.0)):
        inp = problem([cand("job", "g", 1, 0.5, id="J")],
                      [spot_host("sp", "g", 1, 1 * H), host("od", "g", 1, monthly=2 * H)],
                      runs={"job": _job(0.8)}, spot_share={"job": share})
        sol = solve(inp, solver)
        assert cost_of(inp, sol) == pytest.approx(usd, abs=1e-6), share
        if share < 1:
            assert {h: sum(n) for h, n in sol.runs["job"].run_hosts.items()} == {"sp": 5, "od": 5}


def test_job_availability_from_the_spot_rate():
    """A spot host of the GCP row (30.4 interruptions a month, 10 min restart); the job's longest
    request 360 s: a = 1 / (1 + 30.4 / 730 x (1/6 + 0.1)) = 0.98902 (about 90 / 91: 30.4 is 730 / 24
    rounded); no spot host: 1."""
    rate = load_spot_rates().rate("gcp", "l4-24gb")
    h = replace(spot_host("sp", "g", 1, 10), spot=rate)
    c = replace(cand("job", "g", 1, 0.5), e2e_s=360.0)
    assert job_availability([c], [h], H) == pytest.approx(1 / (1 + 30.4 / 730 * (1 / 6 + 0.1)), rel=1e-12)
    assert job_availability([c], [h], H) == pytest.approx(0.98902, abs=1e-5)
    assert job_availability([c], [host("od", "g", 1, monthly=10)], H) == 1.0


# ------------------------------------------------------------------------------------------------
# End to end: a shipped online problem rented at spot
# ------------------------------------------------------------------------------------------------


def _spot_copy(tmp_path, **rent):
    import yaml

    repo = Path(__file__).resolve().parent.parent
    data = yaml.safe_load((repo / "problems" / "seed000-70b-service-40qps.yaml").read_text(encoding="utf-8"))
    data["rent"] = {"pricing": "spot", **rent}
    path = tmp_path / "spot.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_spot_plan_lines_placement_rates_and_warnings(tmp_path):
    """The 70B service at spot with the default share 0.5: every line says spot, on-demand or both;
    spot replicas carry at most half the capacity (kappa = coverage); each spot replica sits on a
    spot instance and every other one on an on-demand instance; the JSON lists the spot rates used,
    and a rate that is an assumption is warned about."""
    from planner.optimize.chain import solve_file
    from planner.report.records import outcome_record

    out = solve_file(_spot_copy(tmp_path))
    plan = out.plans[0]
    spot = sum(d.candidate.coverage * d.spot_replicas for d in plan.deployments)
    every = sum(d.candidate.coverage * d.replicas for d in plan.deployments)
    assert 0 < spot <= 0.5 * every + 1e-9
    assert all(d.rental in ("spot", "on-demand") or " spot + " in d.rental for d in plan.deployments)
    types = {label: h for label, h in ((lbl, next(h for h, _ in plan.hosts if lbl.startswith(h.id + " #")))
                                       for lbl, _ in plan.placement)}
    for d in plan.deployments:
        on_spot = sum(cid == d.candidate.id and types[lbl].is_spot for lbl, content in plan.placement for cid in content)
        assert on_spot == d.spot_replicas
    import datetime as dt
    record = outcome_record(out, timings=False, today=dt.date(2026, 12, 5))
    rates = record["plans"][0]["spot"]
    assert rates and all(0 < r["availability"] < 1 and r["source"] for r in rates)
    assert {r["rental"] for r in record["plans"][0]["deployments"]} <= {d.rental for d in plan.deployments}
    assumed = [r["provider"] for r in rates if r["basis"] == "assumption"]
    assert all(any(f"spot interruption rate of {p} is a planner assumption" in w for w in record["warnings"])
               for p in assumed)


def test_all_spot_on_one_provider_is_a_single_point_of_failure(tmp_path):
    """Share 1.0 and AWS alone: every replica on AWS spot instances; the single-points-of-failure
    warning names the provider (or the one host)."""
    from planner.optimize.chain import solve_file
    from planner.report.failure_out import spof_warnings

    out = solve_file(_spot_copy(tmp_path, providers=["aws"], spot_max_share=1.0))
    assert all(d.rental == "spot" for d in out.plans[0].deployments)
    warnings = spof_warnings(out)
    assert any("rented from one provider (aws)" in w or "on one host (instance:aws/" in w for w in warnings), warnings
