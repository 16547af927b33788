"""Batch jobs billed for the hours they run (`planner.optimize.batch_runs`): hand-derived MILP
instances on both solvers, and the shipped overnight job priced by the instance-hour.

Prices are given as monthly rent = $/h x 730 (MilpInput.hours_per_month), so an instance of
monthly 730 x p costs p dollars an hour."""

from __future__ import annotations

import pytest
from milp_factories import cand, cost_of, host, problem

from planner.errors import InfeasibleError
from planner.optimize import by_hour
from planner.optimize.batch_runs import JobWindow, runs_per_month
from planner.optimize.chain import solve_file
from planner.optimize.milp import SOLVERS, build, solve

both_solvers = pytest.mark.parametrize("solver", SOLVERS)
H = 730.0


def _window(hours: float, schedule: str = "once", start: int = 0) -> JobWindow:
    return JobWindow(hours=hours, start_hour=start, schedule=schedule, runs_per_month=runs_per_month(schedule, H))


def _run_cost(sol, job: str) -> float:
    return sol.runs[job].usd_per_run


@both_solvers
def test_batch_routing_pays_instance_hours(solver):
    """A once-job in a 4 h window; one replica (1 GPU, $2/h instance) covers 0.5 of the demand rate
    requests / (4 x 3600), so it does 0.5 / 4 = 0.125 of the job in a full hour: 1 / 0.125 = 8
    replica-hours, 8 instance-hours x $2 = $16, paid once (not a monthly cost: objective = $16)."""
    inp = problem([cand("job", "a", 1, 0.5, id="J")], [host("inst-a", "a", 1, monthly=2 * H)],
                  runs={"job": _window(4)})
    sol = solve(inp, solver)
    assert sol.status == "optimal"
    assert cost_of(inp, sol) == pytest.approx(16.0, abs=1e-6)
    assert _run_cost(sol, "job") == pytest.approx(16.0)
    assert sum(sol.runs["job"].replicas["J"]) == 8
    n = sol.runs["job"].replicas["J"]  # batch_order: the 4 alike slots are used first to last
    assert n == sorted(n, reverse=True)
    assert sum(sum(v) for v in sol.runs["job"].work.values()) >= 1 - 1e-9


@both_solvers
def test_batch_load_bills_a_partial_last_hour_in_full(solver):
    """Window 2.5 h: slots 0, 1 full, slot 2 half. A replica covering the whole demand rate (cov 1)
    does 1 / 2.5 = 0.4 of the job in a full hour, 0.2 in the half hour, each billed one
    instance-hour ($2). Fewest instance-hours with 0.4 a + 0.2 b >= 1: a = 3 (1.2) or a = 2, b = 1
    (1.0): 3 instance-hours, $6 (2 instance-hours do at most 0.8)."""
    inp = problem([cand("job", "a", 1, 1.0, id="J")], [host("inst-a", "a", 1, monthly=2 * H)],
                  runs={"job": _window(2.5)})
    sol = solve(inp, solver)
    assert cost_of(inp, sol) == pytest.approx(6.0, abs=1e-6)
    assert sum(sol.runs["job"].run_hosts["inst-a"]) == 3


@both_solvers
def test_batch_rented_packing_pools_instance_hours_of_alike_slots(solver):
    """A once-job in a 4 h window (one period: the 4 full hours are alike, one pooled group k00x4).
    A replica (TP1, cov 0.8) does 0.8 / 4 = 0.2 of the job an hour: 5 replica-hours. Instances of
    GPU a: 1 GPU at $2/h, 2 GPUs at $3/h. Five 1-GPU hours cost $10, three 2-GPU hours $9, two
    2-GPU hours and one 1-GPU hour hold the 5 replica-hours for $8 (no cheaper way: 5 GPU-hours
    need 2-GPU hours x 2 + 1-GPU hours >= 5 at $1.5 and $2 per GPU-hour, and 2 + 2 + 1 is the only
    mix within $8). The schedule: instance-hours largest first, dealt to hours 0, 1, 2 in turn; the
    replicas fill them: 2, 2, 1."""
    inp = problem([cand("job", "a", 1, 0.8, id="J")],
                  [host("inst-a1", "a", 1, monthly=2 * H), host("inst-a2", "a", 2, monthly=3 * H)],
                  runs={"job": _window(4)})
    names = [c.name for c in build(inp)[0].linear_constraints()]
    assert "batch_rented_packing[job,a,k00x4]" in names
    sol = solve(inp, solver)
    assert sol.status == "optimal"
    assert cost_of(inp, sol) == pytest.approx(8.0, abs=1e-6)
    run = sol.runs["job"]
    assert run.run_hosts == {"inst-a1": [0, 0, 1, 0], "inst-a2": [1, 1, 0, 0]}
    assert run.replicas["J"] == [2, 2, 1, 0]
    assert [round(x, 9) for x in run.work["J"]] == [0.4, 0.4, 0.2, 0.0]


def _idle(job_cov: float):
    """Chat (24/7, one period) on GPU a: a replica covers 0.4 of its peak, so 3 replicas (1.2); the
    4-GPU instance ($4/h, $2,920 a month) holds them for less than 3 one-GPU instances ($1.5/h:
    3 x 1.5 x 730 = $3,285). One GPU of it is idle all day. A once-job in a 4 h window on GPU a."""
    cands = [cand("chat", "a", 1, 0.4, id="C"), cand("job", "a", 1, job_cov, id="J")]
    hosts = [host("inst-a4", "a", 4, monthly=4 * H), host("inst-a1", "a", 1, monthly=1.5 * H)]
    return problem(cands, hosts, runs={"job": _window(4)})


@both_solvers
def test_batch_packing_runs_on_idle_gpus_for_free(solver):
    """Job cov 1.0: a replica does 1 / 4 of it an hour, 4 replica-hours: the idle GPU for the 4
    hours of the window. The plan costs what the chat alone does: $2,920."""
    inp = _idle(1.0)
    sol = solve(inp, solver)
    assert cost_of(inp, sol) == pytest.approx(2920.0, abs=0.01)
    assert _run_cost(sol, "job") == 0.0
    assert sol.hosts == {"inst-a4": 1}


@both_solvers
def test_batch_packing_rents_what_idle_gpus_lack(solver):
    """Job cov 0.5: 8 replica-hours; 4 on the idle GPU, 4 more rented: one 4-GPU instance-hour
    ($4) beats four 1-GPU ones ($6); renting the chat on 1-GPU instances ($3,285) and the job
    ($8) costs more. $2,920 + $4 once."""
    inp = _idle(0.5)
    sol = solve(inp, solver)
    assert cost_of(inp, sol) == pytest.approx(2924.0, abs=0.01)
    assert sol.runs["job"].run_hosts == {"inst-a4": [1 if n else 0 for n in sol.runs["job"].run_hosts["inst-a4"]]}
    assert _run_cost(sol, "job") == pytest.approx(4.0)


def _night(job_cov: float, available: dict | None = None):
    """24 hourly periods. Chat: peak 08:00-20:00, none at night; a replica (1 GPU) covers 0.5 of it,
    so 2 replicas by day. A bought 2-GPU server ($1,000 capex, 12 months) holds them; renting them
    by day instead costs 2 GPUs x 12 h x 730 / 24 x 12 months = $8,760. A daily job from 00:00 in
    a 4 h window on GPU a; a 1-GPU instance at $1/h."""
    profile = tuple(1.0 if 8 <= t < 20 else 0.0 for t in range(24))
    cands = [cand("chat", "a", 1, 0.5, id="C"), cand("job", "a", 1, job_cov, id="J")]
    hosts = [host("srv", "a", 2, kind="server", capex=1000.0), host("inst-a", "a", 1, monthly=H)]
    return problem(cands, hosts, months=12, periods=24, profile={"chat": profile},
                   runs={"job": _window(4, "daily", 0)}, available=available or {})


@both_solvers
def test_daily_job_in_the_night_valley_costs_nothing_more(solver):
    """Job cov 0.5: 0.125 of it per replica-hour, 8 replica-hours = the server's 2 idle GPUs x the
    4 night hours. The plan costs what the chat alone does: the $1,000 server."""
    inp = _night(0.5)
    sol = by_hour.solve(inp, solver)
    chat = problem([cand("chat", "a", 1, 0.5, id="C")], inp.hosts, months=12, periods=24, profile=inp.profile)
    alone = by_hour.solve(chat, solver)
    assert cost_of(inp, sol) == pytest.approx(1000.0, abs=0.01)
    assert cost_of(chat, alone) == pytest.approx(1000.0, abs=0.01)
    assert _run_cost(sol, "job") == 0.0


@both_solvers
def test_daily_job_rents_its_overflow_every_day(solver):
    """Job cov 4 / 9: 1 / 9 per replica-hour, 9 replica-hours: 8 on the idle server, one rented
    instance-hour a day ($1) x 730 / 24 runs a month x 12 months = $365 (a second server: $1,000).
    $1,365."""
    inp = _night(4 / 9)
    sol = by_hour.solve(inp, solver)
    assert cost_of(inp, sol) == pytest.approx(1000.0 + 730.0 / 24.0 * 12.0, abs=0.01)
    assert sol.runs["job"].usd_per_run == pytest.approx(1.0)
    assert sol.runs["job"].usd_per_month == pytest.approx(730.0 / 24.0)


@both_solvers
def test_batch_gpus_available_caps_the_run(solver):
    """As above with at most 2 GPUs of a: the overflow hour cannot be rented, so a second server is
    not allowed either: infeasible."""
    assert by_hour.solve(_night(4 / 9, {"a": 2}), solver).status == "infeasible"
    inp = _night(0.5, {"a": 2})
    assert cost_of(inp, by_hour.solve(inp, solver)) == pytest.approx(1000.0, abs=0.01)


def test_window_hours_are_not_merged():
    """The night profile has two levels, but the 4 window hours each get a period of their own:
    2 + 4 = 6 periods, and none is hour by hour (the job couples them)."""
    inp = _night(0.5)
    small = by_hour.merged(inp)
    assert small.periods == 6 and not by_hour.exact(inp)
    assert all(len(hs) == 1 for hs in small.hours if hs[0] < 4)
    names = {c.name.split("[")[0] for c in build(inp)[0].linear_constraints()}
    assert {"batch_routing", "batch_load", "batch_packing"} <= names


def test_overnight_seed_is_priced_by_the_instance_hour():
    """seed003's 100,000 documents: the run's cost is the instance-hours rented x each instance's
    $/h (its monthly rent / 730), paid once: the monthly cost is 0 and the 36-month total is the run."""
    out = solve_file("problems/seed003-overnight-batch-100k-docs.yaml")
    plan = out.plans[0]
    run = plan.runs["summarise-100k-docs"]
    expected = sum(run.hourly_usd[h] * sum(n) for h, n in run.run_hosts.items())
    assert run.usd_per_run == pytest.approx(expected)
    assert plan.monthly_usd == 0.0 and plan.once_usd == pytest.approx(expected)
    assert plan.total_usd == pytest.approx(expected)
    assert run.window.start_hour == 22 and run.window.slots == 10
    assert expected < 1000  # was $13,629 a month for the fleet rented all month


def test_window_too_short_is_infeasible_with_its_reason(tmp_path):
    """20,000-token answers of a 70B model take minutes; a 36 s window (0.01 h) fits none."""
    path = tmp_path / "short.yaml"
    path.write_text("name: short\nobjective: rent\nworkloads:\n  - name: long\n    model: llama-3.1-70b\n"
                    "    batch: {requests: 10, input_tokens: 1000, output_tokens: 20000, deadline_hours: 0.01}\n",
                    encoding="utf-8")
    with pytest.raises(InfeasibleError) as e:
        solve_file(path)
    text = "\n".join(e.value.lines())
    assert "window too short 85" in text or "window too short" in text
    assert "batch window 0.01 h is too short for every deployment" in text
    assert "To fix: a longer batch.deadline_hours" in text
