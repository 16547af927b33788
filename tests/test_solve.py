"""`planner solve` end to end: every shipped problem against its golden, the JSON contract, the
output formats, determinism, verification, and properties of the optimum (hypothesis).

Goldens hold no timings (`--no-timings`) and a fixed staleness date (`--today`). Refresh after an
intended change with `python -m pytest --update-golden`, then review the diff.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from small_spec import small_spec

from planner.errors import InfeasibleError
from planner.optimize.chain import solve_loaded
from planner.optimize.verify import VerificationError, verify_plan
from planner.spec.loader import load_spec_text

REPO = Path(__file__).resolve().parent.parent
PROBLEMS = sorted((REPO / "problems").glob("*.yaml"))
GOLDEN = REPO / "tests" / "golden" / "problems"
TODAY = "2026-11-21"
SEED_FILES = (
    "seed001-qwen7b-50-users", "seed003-llama3-70b-8k-100-users", "seed000-13b-chatbot-50qps",
    "seed000-34b-service-20qps", "seed000-70b-service-40qps", "seed003-overnight-batch-100k-docs",
)


def _solve_cli(run_cli, path: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli(["solve", str(path.relative_to(REPO)), "--format", "json", "--no-timings", "--today", TODAY, *extra])


def test_problem_set_covers_the_issue():
    """At least ten problems: the six seed scenarios, a >= 4-model fleet with an MoE, a China-market
    problem, an infeasible one, and fleet-20 with >= 20 workloads."""
    names = {p.stem for p in PROBLEMS}
    assert len(names) >= 10
    assert set(SEED_FILES) <= names
    assert any(n.startswith("infeasible") for n in names)
    from planner.catalog.resolve import resolve
    from planner.catalog.store import load_catalog
    from planner.spec.loader import load_spec

    cat = load_catalog()
    fleet = resolve(load_spec(REPO / "problems" / "multi-model-fleet.yaml"), cat)
    assert len({w.model.id for w in fleet.workloads}) >= 4 and any(w.model.is_moe for w in fleet.workloads)
    assert load_spec(REPO / "problems" / "china-qwen72b-deepseek-r1.yaml").spec.gpus.market == "china"
    assert len(load_spec(REPO / "problems" / "fleet-20.yaml").spec.workloads) >= 20


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_problem_matches_golden(run_cli, update_golden, path):
    """Each problem solves (or, for infeasible-*, exits 3 with its diagnosis) exactly as its golden says."""
    code, out, err = _solve_cli(run_cli, path)
    infeasible = path.stem.startswith("infeasible")
    assert code == (3 if infeasible else 0), err
    text = err if infeasible else out
    golden = GOLDEN / (path.stem + (".txt" if infeasible else ".json"))
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    if infeasible:
        assert "Traceback" not in err and "To fix" in err
        return
    data = json.loads(out)
    assert data["status"] == "optimal"
    assert {"status", "plans", "solver"} <= set(data) and {"name", "seconds", "gap"} <= set(data["solver"])
    for plan in data["plans"]:
        assert plan["pricing"] in ("rent", "buy", "hybrid")
        assert plan["deployments"] or plan.get("batch_runs"), "an optimal plan deploys something"
        for d in plan["deployments"]:
            assert {"workload", "model", "gpu", "precision", "tp", "replicas", "ttft_ms", "tpot_ms", "capacity_qps"} <= set(d)
        for line in plan["bom"]:
            assert {"item", "quantity", "unit_usd", "total_usd", "source"} <= set(line)
            assert line["source"], f"untraceable BOM line: {line['item']}"
            assert line["as_of"] or line["category"] == "owned", f"undated BOM line: {line['item']}"
            assert math.isclose(line["total_usd"], line["quantity"] * line["unit_usd"], rel_tol=1e-3, abs_tol=0.01) \
                or line["category"] in ("power", "maintenance")
        assert {"capex_usd", "monthly_usd"} <= set(plan["cost"])
        # Models with batch runs stop at batch_runs.GAP (the status still says optimal: within it).
        from planner.optimize.batch_runs import GAP
        assert plan["solver"]["gap"] is not None and plan["solver"]["gap"] <= (GAP if plan.get("batch_runs") else 1e-6)


def test_every_problem_description_compares_with_the_seed_hardware():
    """Each seed example's description names the hardware the seed picked and the plan's choice."""
    for stem in SEED_FILES:
        text = (REPO / "problems" / f"{stem}.yaml").read_text(encoding="utf-8")
        assert "Plan:" in text and "(filled in after solving)" not in text, stem


def test_same_input_gives_byte_identical_output(run_cli):
    """Determinism: two runs of the same file print the same bytes (timings off)."""
    path = REPO / "problems" / "multi-model-fleet.yaml"
    first = _solve_cli(run_cli, path)
    second = _solve_cli(run_cli, path)
    assert first[0] == 0 and first == second


def test_highs_and_scip_reach_the_same_cost(run_cli):
    """The two solvers agree on the optimum of a multi-workload buy problem."""
    path = REPO / "problems" / "multi-model-fleet.yaml"
    costs = []
    for solver in ("highs", "scip"):
        code, out, err = _solve_cli(run_cli, path, "--solver", solver)
        assert code == 0, err
        plan = json.loads(out)["plans"][0]
        costs.append(plan["cost"]["capex_usd"] + plan["cost"]["horizon_months"] * plan["cost"]["monthly_usd"])
    assert costs[0] == pytest.approx(costs[1], rel=1e-6)


def test_output_formats_and_out_dir(run_cli, tmp_path):
    """table, csv and markdown render; --out writes plan.json, plan.md, deployments.csv, bom.csv, report.html
    (tests/test_report_html.py) and the chart."""
    path = "problems/seed001-qwen7b-50-users.yaml"
    code, out, err = run_cli(["solve", path, "--today", TODAY, "--out", tmp_path / "o"])
    assert code == 0, err
    assert "Bill of materials" in out and "solver highs: optimal" in out
    # seed001 is objective: compare, so the chart comes too (tests/test_compare.py checks it)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["bom.csv", "cumulative_cost.png", "deployments.csv",
                                                                  "plan.json", "plan.md", "report.html"]
    code, out, _ = run_cli(["solve", path, "--format", "csv", "--today", TODAY])
    assert code == 0 and out.splitlines()[0].startswith("pricing,workload,model,gpu,precision")
    code, out, _ = run_cli(["solve", path, "--format", "markdown", "--today", TODAY])
    assert code == 0 and "## Rent:" in out and "## Buy:" in out and "| item |" in out


def test_staleness_warning_names_the_oldest_price(run_cli):
    """A price dated more than six months before --today is named with a warning."""
    code, out, _ = run_cli(["solve", "problems/seed001-qwen7b-50-users.yaml", "--format", "json", "--no-timings",
                            "--today", TODAY])
    assert code == 0
    prices = json.loads(out)["prices"]
    assert prices["oldest_as_of"] and prices["oldest_as_of"] < TODAY
    _code, out2, _ = run_cli(["solve", "problems/seed001-qwen7b-50-users.yaml", "--format", "json", "--no-timings",
                             "--today", prices["oldest_as_of"]])
    assert json.loads(out2)["prices"]["warning"] is None
    assert json.loads(out)["prices"]["warning"] is not None


def test_candidates_command(run_cli):
    """`planner candidates` lists kept candidates, their dominance and the rejections with reasons."""
    code, out, err = run_cli(["candidates", "problems/seed001-qwen7b-50-users.yaml", "--format", "json"])
    assert code == 0, err
    data = json.loads(out)
    statuses = {r["status"] for r in data["candidates"]}
    assert statuses == {"kept", "dominated", "rejected"}
    assert data["summary"]["kept"] == sum(r["status"] == "kept" for r in data["candidates"])
    code, out, _ = run_cli(["candidates", "problems/seed001-qwen7b-50-users.yaml", "--format", "csv", "--ladder"])
    assert code == 0 and out.startswith("workload,status,gpu")
    code, out, _ = run_cli(["candidates", "problems/seed001-qwen7b-50-users.yaml"])
    assert code == 0 and "kept of" in out


def test_bad_file_exits_2_with_location(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nworkloads:\n  - name: a\n    model: no-such-model\n    batch: {requests: 1, input_tokens: 1,"
                   " output_tokens: 1, deadline_hours: 1}\n", encoding="utf-8")
    code, _out, err = run_cli(["solve", bad])
    assert code == 2
    assert f"{bad}:4:" in err and "no-such-model" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# Small problems: a cost derivable from the plan, verification, properties
# ---------------------------------------------------------------------------------------------

_spec = small_spec


def _cost(text: str) -> float | None:
    try:
        out = solve_loaded(load_spec_text(text, "small.yaml"))
    except InfeasibleError:
        return None
    p = out.plans[0]
    return p.capex_usd + (p.horizon_months if p.pricing == "buy" else 1) * p.monthly_usd


def test_single_gpu_rent_cost_is_replicas_times_instance_price():
    """With one GPU type on 1-GPU instances, the plan is ceil(demand / capacity per replica) replicas
    of the best candidate plus one spare (the default N+1 of a workload of more than one replica),
    each on one instance costing $/h x 730 h (the catalogue's hours/month)."""
    out = solve_loaded(load_spec_text(_spec(qps=6.0, gpus=("l4-24gb",), extra="rent: {providers: [aws]}"), "s.yaml"))
    plan = out.plans[0]
    (d,) = plan.deployments
    assert d.replicas == math.ceil(6.0 / d.candidate.capacity_qps - 1e-9) + 1
    (host, n) = plan.hosts[0]
    assert host.offer.provider == "aws" and host.slots == 1 and n == d.replicas * d.candidate.tp
    assert plan.monthly_usd == pytest.approx(n * 0.8048 * 730, rel=1e-9)  # AWS g6.xlarge $0.8048/h


def test_verification_catches_a_tampered_plan():
    """verify_plan re-derives demand coverage from the formulas: a plan with a replica removed fails."""
    from dataclasses import replace

    loaded = load_spec_text(_spec(qps=6.0), "s.yaml")
    out = solve_loaded(loaded)
    plan = out.plans[0]
    from planner.optimize.chain import milp_input

    inp, _ = milp_input(out.resolved, out.candidates, out.book, "rent")
    verify_plan(out.resolved, inp, plan, out.book, out.candidates.mixes)  # the real plan passes
    d = plan.deployments[0]
    plan.deployments[0] = replace(d, replicas=d.replicas - 1)
    with pytest.raises(VerificationError) as exc:
        verify_plan(out.resolved, inp, plan, out.book, out.candidates.mixes)
    assert exc.value.exit_code == 1
    assert any("cover" in v or "min_replicas" in v for v in exc.value.violations)


PROPS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(qps=st.floats(0.2, 40.0), extra=st.floats(0.0, 30.0))
def test_more_demand_never_costs_less(qps, extra):
    low, high = _cost(_spec(qps=qps)), _cost(_spec(qps=qps + extra))
    if low is None:
        assert high is None, "more demand cannot make an infeasible problem feasible"
    elif high is not None:
        assert high >= low - 1e-6


@PROPS
@given(tpot=st.floats(25.0, 120.0), looser=st.floats(0.0, 80.0), ttft=st.floats(200.0, 3000.0))
def test_looser_slo_never_costs_more(tpot, looser, ttft):
    tight, loose = _cost(_spec(tpot_ms=tpot, ttft_ms=ttft)), _cost(_spec(tpot_ms=tpot + looser, ttft_ms=ttft * 1.5))
    if tight is not None:
        assert loose is not None and loose <= tight + 1e-6


@PROPS
@given(qps=st.floats(0.5, 30.0), objective=st.sampled_from(["rent", "buy"]))
def test_larger_catalogue_never_costs_more(qps, objective):
    small = _cost(_spec(qps=qps, gpus=("l4-24gb",), objective=objective))
    large = _cost(_spec(qps=qps, gpus=("l4-24gb", "l40s-48gb", "h100-sxm-80gb", "rtx-4090-24gb"), objective=objective))
    if small is not None:
        assert large is not None and large <= small + 1e-6


def test_solve_and_candidates_count_the_same_deployments(run_cli):
    """`planner solve` and `planner candidates` report the same number of admissible deployments
    (workload x GPU x precision x TP) for one file, and the table titles of `candidates` add up to it."""
    path = REPO / "problems" / "seed001-qwen7b-50-users.yaml"
    code, out, _ = _solve_cli(run_cli, path)
    assert code == 0
    solved = json.loads(out)["candidates"]
    code, out, _ = run_cli(["candidates", str(path), "--format", "json"])
    assert code == 0
    listed = json.loads(out)
    assert listed["summary"]["admissible"] == solved["admissible"]
    assert solved["admissible"] == len({(r["workload"], r["gpu"], r["precision"], r["tp"])
                                        for r in listed["candidates"] if r["status"] != "rejected"})
    assert solved["dominated_dropped"] + solved["kept"] == solved["admissible"]
    code, out, _ = run_cli(["candidates", str(path)])
    assert f"kept of {solved['admissible']} admissible deployments" in out


def test_capacity_used_is_demand_over_the_capacity_shown(run_cli):
    """The table's `cap. used` is what its own columns give: a workload's demand QPS over the sum of
    its lines' cap. QPS (seed001: 1.81 / 3.50 = 52 %), and utilisation of raw capacity is that times
    max_utilization (0.8): 41 %."""
    code, out, _ = _solve_cli(run_cli, REPO / "problems" / "seed001-qwen7b-50-users.yaml")
    for plan in json.loads(out)["plans"]:
        by_w: dict[str, list[dict]] = {}
        for d in plan["deployments"]:
            by_w.setdefault(d["workload"], []).append(d)
        for lines in by_w.values():
            total = sum(d["capacity_qps"] for d in lines)
            for d in lines:
                assert d["capacity_used"] == pytest.approx(d["demand_qps"] / total, abs=1e-3)
                assert d["utilization"] == pytest.approx(d["capacity_used"] * 0.9, abs=1e-3)


def test_compare_file_solved_shows_break_even_in_every_format(run_cli):
    """A file with `objective: compare` printed by `planner solve` carries the break-even and the
    utilisation threshold in the table and the Markdown, as its JSON does."""
    path = REPO / "problems" / "seed001-qwen7b-50-users.yaml"
    for fmt, marker in (("table", "break-even: never within the 36-month horizon"),
                        ("markdown", "## Rent or buy"), ("markdown", "Rent utilisation threshold: 1.623")):
        code, out, _ = run_cli(["solve", str(path), "--format", fmt, "--no-timings", "--today", TODAY])
        assert code == 0 and marker in out, fmt


def test_a_fleet_beyond_any_cluster_is_rejected_quickly(run_cli, tmp_path):
    """1e6 requests/s of 1,024-token answers is 1.024e9 output tokens/s. An L4 replica of Qwen-7B
    makes at most a few thousand tokens/s (`planner estimate`), so every deployment needs far more
    than MAX_REPLICAS_PER_DEPLOYMENT (100,000) replicas: each is rejected as "fleet too large"
    (exit 3, with the nearest miss) instead of placing millions of replicas for minutes."""
    import time

    path = tmp_path / "huge.yaml"
    path.write_text("""\
name: huge
objective: rent
gpus: {allow: [l4-24gb]}
workloads:
  - name: chat
    model: qwen-7b
    traffic: {peak_qps: 1.0e+6, input_tokens: 512, output_tokens: 1024}
    slo: {ttft_ms: 5000, tpot_ms: 200}
""", encoding="utf-8")
    start = time.perf_counter()
    code, _, err = run_cli(["solve", str(path)])
    assert code == 3
    assert time.perf_counter() - start < 10.0
    assert "fleet too large" in err and "nearest fleet too large miss: l4-24gb" in err
