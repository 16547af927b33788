"""The MILP's warm start (`planner.optimize.warm_start`): the plan it hands the solver is a feasible
point of the full model, built only from the deployments the relaxation uses, and it is offered
only to models with several length buckets. Hand-built inputs (tests/milp_factories.py)."""

from __future__ import annotations

from milp_factories import cand, host, problem

from planner.optimize import milp, warm_start


def _three_deployments():
    """Workload `chat`, 80 % short (bucket 0) and 20 % long (bucket 1) requests.

    S on GPU a ($100/replica) serves bucket 0 with coverage 0.4; L on b ($300) covers 0.5 of bucket
    0 and 0.1 of bucket 1; X on c ($1,000) covers 0.2 of each. Per unit of demand the relaxation
    pays 100 / 0.4 = $250 for bucket 0 on S (L: 600, X: 5,000) and 300 / 0.1 = $3,000 for bucket 1
    on L (X: 5,000), so it uses S and L only. On them the integer optimum is 2 S + 2 L: 0.8 / 0.4 =
    2 and 0.2 / 0.1 = 2 replicas, 2 x $100 + 2 x $300 = $800 (test_milp's routing case)."""
    cands = [cand("chat", "a", 1, 0.4, id="S"),
             cand("chat", "b", 1, 0.5, id="L", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.5, 0.1)),
             cand("chat", "c", 1, 0.2, id="X", buckets=(0, 1), shares=(0.8, 0.2), coverages=(0.2, 0.2))]
    hosts = [host("inst-a", "a", 1, monthly=100), host("inst-b", "b", 1, monthly=300),
             host("inst-c", "c", 1, monthly=1000)]
    return problem(cands, hosts, shares={"chat": (0.8, 0.2)})


def test_hint_is_a_feasible_plan_of_the_relaxations_deployments():
    """Every row of the full model holds at the hint, integers are whole, X (unused by the
    relaxation) has no replica, and the hint costs the $800 derived above."""
    inp = _three_deployments()
    model, replicas, *_ = milp.build(inp)
    values = warm_start.hint(inp, model, replicas, milp.build, 10.0)
    assert values is not None
    for row in model.linear_constraints():
        lhs = sum(t.coefficient * values[t.variable] for t in row.terms())
        assert row.lower_bound - 1e-6 <= lhs <= row.upper_bound + 1e-6, row.name
    for v in model.variables():
        assert v.lower_bound - 1e-9 <= values[v] <= v.upper_bound + 1e-9, v.name
        if v.integer:
            assert abs(values[v] - round(values[v])) < 1e-6, v.name
    assert round(values[replicas["X"][0]]) == 0
    assert (round(values[replicas["S"][0]]), round(values[replicas["L"][0]])) == (2, 2)
    cost = model.objective.offset + sum(t.coefficient * values[t.variable] for t in model.objective.linear_terms())
    assert abs(cost - 800.0) < 0.01  # $800 plus the tie-break term (1e-4 per replica-GPU)


def test_no_hint_for_one_bucket_workloads():
    """With one length bucket per workload the relaxation routes nothing thin: no warm start."""
    inp = problem([cand("chat", "a", 1, 0.4, id="S")], [host("inst-a", "a", 1, monthly=100)])
    model, replicas, *_ = milp.build(inp)
    assert warm_start.hint(inp, model, replicas, milp.build, 10.0) is None


def test_solve_from_the_hint_keeps_the_optimum():
    """HiGHS and SCIP, started from the hint, prove the $800 optimum of the derivation above."""
    for solver in milp.SOLVERS:
        sol = milp.solve(_three_deployments(), solver, 10.0)
        assert sol.status == "optimal" and abs(sol.objective_usd - 800.0) < 0.01
        assert sol.replicas == {"S": 2, "L": 2}
