"""Every shipped problem's plan, simulated: the simulated SLO percentile of every online workload
meets its SLO within the stated tolerance (serving_check.SIM_TOLERANCE), and the simulation is
deterministic. Two minutes of peak traffic each (the first tenth is warm-up), to keep the suite short;
`planner simulate` runs ten by default."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
from planner.errors import InfeasibleError

REPO = Path(__file__).resolve().parent.parent
PROBLEMS = sorted(p for p in (REPO / "problems").glob("*.yaml") if not p.name.startswith("infeasible-"))


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_shipped_plan_meets_its_slo_in_simulation(path):
    try:
        result = planner.simulate(path, duration_s=120.0, seed=0)
    except InfeasibleError:  # pragma: no cover - every shipped problem but the infeasible ones solves
        pytest.fail(f"{path.name} has no plan")
    for plan in result.plans:
        sim = plan.simulation
        assert sim is not None
        assert sim.misses == [], sim.misses
        for name, r in sim.workloads.items():
            assert r.requests > 0, name
            assert r.rejected == 0, name


def test_simulation_is_deterministic():
    path = REPO / "problems" / "chat-rag-length-mix.yaml"
    a = planner.simulate(path, duration_s=60.0, seed=3).plans[0].simulation.workloads
    b = planner.simulate(path, duration_s=60.0, seed=3).plans[0].simulation.workloads
    assert {k: (v.ttft_ms, v.tpot_ms, v.e2e_ms, v.requests) for k, v in a.items()} == \
        {k: (v.ttft_ms, v.tpot_ms, v.e2e_ms, v.requests) for k, v in b.items()}
