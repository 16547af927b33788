"""Mixing policy (planning.mixing), N+1 and zones redundancy (workloads[].redundancy): the MILP rows of
`optimize.policy_rows` on hand-derived instances (HiGHS and SCIP), their re-check, and the policy
on a shipped seed problem end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from milp_factories import cand, cost_of, host, problem

from planner.optimize import policy_rows
from planner.optimize.milp import solve

ROOT = Path(__file__).resolve().parents[1]
both_solvers = pytest.mark.parametrize("solver", ["highs", "scip"])


def solved(inp, solver: str, expected_usd: float):
    """Solve, check the status and the cost against the hand value, return the solution."""
    sol = solve(inp, solver=solver)
    assert sol.status == "optimal", sol
    assert cost_of(inp, sol) == pytest.approx(expected_usd, abs=1e-3)
    return sol


def _one_bucket(**kw):
    """Workload w of one bucket: `big` covers all of it with one replica on a $250/month instance,
    `small` half of it on a $100/month instance."""
    cands = [cand("w", "g", 1, 1.0, id="w:big"), cand("w", "h", 1, 0.5, id="w:small")]
    hosts = [host("inst-g", "g", 1, monthly=250), host("inst-h", "h", 1, monthly=100)]
    return problem(cands, hosts, **kw)


@both_solvers
@pytest.mark.parametrize("redundancy, expected, replicas", [
    # none: 2 small (1.0 covered) $200 beats 1 big $250.
    (None, 200.0, {"w:small": 2}),
    # n_plus_1: any one replica lost, the rest cover 1.0. 3 small (1.5; 1.0 left) $300; 2 big $500;
    # 1 big + 2 small (2.0; losing big leaves 1.0) $450. So 3 small.
    ("n_plus_1", 300.0, {"w:small": 3}),
    # auto: a plan of one replica needs no spare, so 1 big $250 beats 3 small $300 (2 small, a
    # plan of two replicas, would need the spare).
    ("auto", 250.0, {"w:big": 1}),
])
def test_n_plus_1_one_bucket(solver, redundancy, expected, replicas):
    inp = _one_bucket(redundancy={"w": redundancy} if redundancy else {})
    sol = solved(inp, solver, expected)
    assert sol.replicas == replicas


@both_solvers
def test_n_plus_1_two_replica_case_by_hand(solver):
    """The two-replica case: one deployment type of coverage 0.5 at $100/month; demand 1.0 needs 2
    replicas ($200), and with one lost the other covers 0.5 < 1.0, so N+1 makes it 3 ($300): losing
    any one of 3 leaves 2 x 0.5 = 1.0. Rows spare_coverage and deployment_on are in the model."""
    base = problem([cand("w", "h", 1, 0.5, id="w:small")], [host("inst-h", "h", 1, monthly=100)])
    assert solved(base, solver, 200.0).replicas == {"w:small": 2}
    inp = problem([cand("w", "h", 1, 0.5, id="w:small")], [host("inst-h", "h", 1, monthly=100)],
                  redundancy={"w": "n_plus_1"})
    assert solved(inp, solver, 300.0).replicas == {"w:small": 3}


@both_solvers
@pytest.mark.parametrize("mixing, expected", [
    # free: 2 a (0.9) + 1 b (0.1) = $240 (3 a $300, 1 a + 6 b $340, 10 b $400).
    ("free", 240.0),
    # single, and routed with one bucket: one type: 3 a $300 or 10 b $400.
    ("single", 300.0),
    ("routed", 300.0),
])
def test_mixing_one_bucket(solver, mixing, expected):
    cands = [cand("w", "g", 1, 0.45, id="w:a"), cand("w", "h", 1, 0.1, id="w:b")]
    hosts = [host("inst-g", "g", 1, monthly=100), host("inst-h", "h", 1, monthly=40)]
    sol = solved(problem(cands, hosts, mixing=mixing), solver, expected)
    assert len(sol.replicas) == (2 if mixing == "free" else 1)


def _two_buckets(**kw):
    """Bucket 0 (share 0.9) is served by A (coverage 0.6, $60) and B (0.6, $100); bucket 1 (share
    0.1) only by B (coverage 0.3)."""
    cands = [cand("w", "g", 1, 0.6, id="w:A", buckets=(0,), shares=(0.9,)),
             cand("w", "h", 1, 0.6, id="w:B", buckets=(0, 1), shares=(0.9, 0.1), coverages=(0.6, 0.3))]
    hosts = [host("inst-g", "g", 1, monthly=60), host("inst-h", "h", 1, monthly=100)]
    return problem(cands, hosts, shares={"w": (0.9, 0.1)}, **kw)


@both_solvers
@pytest.mark.parametrize("mixing, redundancy, expected, replicas", [
    # free: 1 B takes bucket 1 (load 0.1/0.3 = 1/3) and 0.4 of bucket 0 (load 2/3): full; 1 A the
    # other 0.5 (load 5/6): $160. Nothing cheaper: bucket 1 needs a B, one B cannot carry all of bucket 0.
    ("free", None, 160.0, {"w:A": 1, "w:B": 1}),
    # routed: bucket 0 wholly to A (load 1.5: 2 A) + bucket 1 to B (1 B) = $220, or both buckets to
    # B (load 1.5 + 1/3: 2 B) = $200.
    ("routed", None, 200.0, {"w:B": 2}),
    # routed + N+1 (spare_replica: load <= replicas - 1): both to B, 3 B $300; bucket 0 to A
    # (3 A, $180) + bucket 1 to B (2 B, $200) = $380.
    ("routed", "n_plus_1", 300.0, {"w:B": 3}),
])
def test_mixing_routed_two_buckets(solver, mixing, redundancy, expected, replicas):
    inp = _two_buckets(mixing=mixing, redundancy={"w": redundancy} if redundancy else {})
    sol = solved(inp, solver, expected)
    assert sol.replicas == replicas


@both_solvers
def test_static_types_when_the_plan_holds_bought_or_owned_hosts(solver):
    """Two periods: demand 1.0 then 0.25 (each period billed half a month). a covers 1.0 on a
    $100/month instance, b 0.25 on a $30 one. Hour by hour the cheapest type is a (100 < 4 x 30),
    then b (30 < 100): (100 + 30) / 2 = $65 in a rent-only plan, which chooses types per hour. With
    an owned server in the model (of a third GPU, free) the workload keeps one type all day:
    all a (100 + 100) / 2 = $100, all b (120 + 30) / 2 = $75, so $75."""
    cands = [cand("w", "g", 1, 1.0, id="w:a"), cand("w", "h", 1, 0.25, id="w:b")]
    rent = [host("inst-g", "g", 1, monthly=100), host("inst-h", "h", 1, monthly=30)]
    kw = dict(periods=2, profile={"w": (1.0, 0.25)}, mixing="single")
    inp = problem(cands, rent, **kw)
    assert cost_of(inp, solve(inp, solver=solver)) == pytest.approx(65.0, abs=1e-3)
    owned = rent + [host("own-z", "z", 1, kind="owned", max_count=1)]
    inp = problem(cands, owned, **kw)
    assert policy_rows.static_types(inp)
    sol = solve(inp, solver=solver)
    assert cost_of(inp, sol) == pytest.approx(75.0, abs=1e-3)
    assert set(sol.replicas) == {"w:b"}


def test_every_policy_family_is_built():
    """The rows of each policy family appear in a model that asks for them."""
    from planner.optimize.milp import build

    names = set()
    for inp in (_one_bucket(redundancy={"w": "auto"}, mixing="single"),
                _two_buckets(mixing="routed", redundancy={"w": "n_plus_1"}),
                _one_bucket(redundancy={"w": "zones:2"}), _two_buckets(mixing="routed", redundancy={"w": "zones:2"})):
        names |= {c.name.split("[")[0] for c in build(inp)[0].linear_constraints()}
    assert {"deployment_used", "mixing_single", "bucket_served_by", "mixing_routed", "deployment_on", "one_replica",
            "spare_coverage", "spare_replica", "zone_size", "zone_hosts", "zone_replicas_min", "zone_coverage",
            "zone_replica"} <= names


@both_solvers
@pytest.mark.parametrize("zones, expected, replicas", [
    # One type of coverage 0.5 at $100 for demand 1.0 (2 replicas carry it). Zones N: a lost host
    # takes ceil(R / N), so R - ceil(R / N) >= 2. N = 2: R = 3 leaves 3 - 2 = 1, R = 4 leaves 4 - 2 = 2:
    # $400. N = 3: R = 3 leaves 3 - 1 = 2: $300 (as N+1 here).
    (2, 400.0, 4),
    (3, 300.0, 3),
    # N = 4: R = 3 would leave 2 but zone_replicas_min asks R >= 4 (4 - 1 = 3): $400.
    (4, 400.0, 4),
])
def test_zones_one_bucket_by_hand(solver, zones, expected, replicas):
    inp = problem([cand("w", "h", 1, 0.5, id="w:small")], [host("inst-h", "h", 1, monthly=100)],
                  redundancy={"w": f"zones:{zones}"})
    assert solved(inp, solver, expected).replicas == {"w:small": replicas}


@both_solvers
def test_zones_need_n_hosts(solver):
    """zone_hosts: coverage 0.5, TP1, demand 1.0; a 4-GPU instance at $360 or 1-GPU ones at $100.
    No redundancy: 2 replicas, 2 small instances $200 (one quad $360). Zones 2: 4 replicas; one quad
    holds all 4 ($360) but is one host, so N = 2 hosts are needed: 2 quads $720, a quad and a single
    $460, or 4 singles $400: $400."""
    cands = [cand("w", "h", 1, 0.5, id="w:small")]
    hosts = [host("quad", "h", 4, monthly=360), host("single", "h", 1, monthly=100)]
    assert solved(problem(cands, hosts), solver, 200.0).hosts == {"single": 2}
    sol = solved(problem(cands, hosts, redundancy={"w": "zones:2"}), solver, 400.0)
    assert sol.hosts == {"single": 4} and sol.replicas == {"w:small": 4}


@both_solvers
def test_zones_two_buckets_by_hand(solver):
    """zone_replica under routed mixing (the two-bucket instance above): a deployment's routed load
    <= R - ceil(R / 2). Both buckets to B: load 0.9/0.6 + 0.1/0.3 = 1.83, R = 4 (4 - 2 = 2): $400.
    Bucket 0 to A (load 1.5: R = 4, $240) and bucket 1 to B (load 0.33: R = 2, $200): $440. So 4 B."""
    sol = solved(_two_buckets(mixing="routed", redundancy={"w": "zones:2"}), solver, 400.0)
    assert sol.replicas == {"w:B": 4}


def test_spare_upper_bound_leaves_room_for_the_zone_share():
    """u = 5 replicas cover the demand alone. N+1: 6. Zones 2: 5 + ceil(5/1) = 10 (10 - 5 = 5);
    zones 3: 5 + ceil(5/2) = 8 (8 - 3 = 5); zones 4 with u = 1: 1 + 1 = 2 < N, so 4."""
    assert policy_rows.spare_upper_bound(5, "n_plus_1") == 6
    assert policy_rows.spare_upper_bound(5, None) == 5
    assert policy_rows.spare_upper_bound(5, "zones:2") == 10
    assert policy_rows.spare_upper_bound(5, "zones:3") == 8
    assert policy_rows.spare_upper_bound(1, "zones:4") == 4


def test_check_zones():
    """check under zones 3, coverage 0.5, demand 1.0: 3 replicas lose ceil(3/3) = 1 and keep 2 x 0.5 =
    1.0 (ok); 2 replicas are fewer than the 3 zones. Two buckets: a routed load of 0.5/0.5 + 0.25/0.5
    = 1.5 replicas on 3 fits 3 - 1 = 2 (ok); 1.0/0.5 + 0.5/0.5 = 3 on 4 exceeds 4 - ceil(4/3) = 2."""
    cov = {0: 0.5}
    assert policy_rows.check("w", "routed", "zones:3", [("c", 3, {}, cov)], 1, 1.0).spare_ok is True
    assert policy_rows.check("w", "routed", "zones:3", [("c", 2, {}, cov)], 1, 1.0).spare_ok is False
    loaded = [("c", 3, {0: 0.5, 1: 0.25}, {0: 0.5, 1: 0.5})]  # load 1.0 + 0.5 = 1.5 <= 2
    assert policy_rows.check("w", "routed", "zones:3", loaded, 2, 1.0).spare_ok is True
    loaded = [("c", 4, {0: 1.0, 1: 0.5}, {0: 0.5, 1: 0.5})]  # load 3 > 4 - 2
    assert policy_rows.check("w", "routed", "zones:3", loaded, 2, 1.0).spare_ok is False


def test_check_flags_a_missing_spare_and_a_mixed_bucket():
    """policy_rows.check on hand lines: 2 replicas of coverage 0.5 for demand 1.0 have no spare
    (1.0 - 0.5 < 1.0); 3 have (1.5 - 0.5 = 1.0). Two deployments routed bucket 0 break `routed`."""
    cov = {0: 0.5}
    two = policy_rows.check("w", "routed", "n_plus_1", [("c", 2, {}, cov)], 1, 1.0)
    three = policy_rows.check("w", "routed", "n_plus_1", [("c", 3, {}, cov)], 1, 1.0)
    assert (two.spare_ok, three.spare_ok) == (False, True)
    assert policy_rows.check("w", "routed", "auto", [("c", 1, {}, {0: 1.0})], 1, 1.0).spare_ok is None
    mixed = [("a", 1, {0: 0.3}, {0: 0.5, 1: 0.5}), ("b", 1, {0: 0.2, 1: 0.5}, {0: 0.5, 1: 0.5})]
    assert not policy_rows.check("w", "routed", None, mixed, 2, 1.0).mixing_ok
    assert policy_rows.check("w", "free", None, mixed, 2, 1.0).mixing_ok
    # several buckets, spare: b's load 0.2/0.5 + 0.5/0.5 = 1.4 > 1 - 1.
    assert policy_rows.check("w", "free", "n_plus_1", mixed, 2, 1.0).spare_ok is False


def _solve_json(run_cli, tmp_path, path: Path, edit) -> dict:
    data = yaml.safe_load(path.read_text())
    edit(data)
    f = tmp_path / path.name
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = run_cli(["solve", str(f), "--format", "json", "--no-timings"])
    assert code == 0, err
    return json.loads(out)


def test_seed000_13b_single_against_free(run_cli, tmp_path):
    """seed000-13b (one bucket, 50 requests/s): with mixing free and no redundancy the plan may
    patch GH200 capacity with a second card type; `single` (and the default `routed`, one bucket)
    runs one type, at a cost no lower than free's. The default also plans N+1: one GH200 replica
    beyond the replicas the demand needs, so the replica count is ceil(1 / coverage) + 1."""
    seed = ROOT / "problems" / "seed000-13b-chatbot-50qps.yaml"

    def with_policy(mixing, redundancy):
        def edit(d):
            d.setdefault("planning", {})["mixing"] = mixing
            for w in d["workloads"]:
                w["redundancy"] = redundancy
        return _solve_json(run_cli, tmp_path, seed, edit)["plans"][0]

    free, single = with_policy("free", "none"), with_policy("single", "none")
    assert len({d["gpu"] for d in free["deployments"]}) >= 1
    assert len(single["deployments"]) == 1
    assert single["cost"]["monthly_usd"] >= free["cost"]["monthly_usd"] - 1e-6
    default = _solve_json(run_cli, tmp_path, seed, lambda d: None)["plans"][0]
    (line,) = default["deployments"]
    (res,) = default["resilience"]
    assert res["spare_replica"] and res["deployment_types"] == 1 and res["mixing"] == "routed"
    assert line["replicas"] >= 2


def test_spec_rejects_slices_with_routed_and_n_plus_1_on_batch(tmp_path):
    """bucket_slices > 1 splits a bucket, which routed forbids; n_plus_1 on a batch job is refused."""
    from planner.errors import PlannerError
    from planner.spec.loader import load_spec

    seed = yaml.safe_load((ROOT / "problems" / "seed000-13b-chatbot-50qps.yaml").read_text())
    seed.setdefault("planning", {})["bucket_slices"] = 4
    f = tmp_path / "slices.yaml"
    f.write_text(yaml.safe_dump(seed, sort_keys=False))
    with pytest.raises(PlannerError, match="bucket_slices.*mixing: routed"):
        load_spec(f)
    seed["planning"]["mixing"] = "free"
    f.write_text(yaml.safe_dump(seed, sort_keys=False))
    load_spec(f)
    batch = yaml.safe_load((ROOT / "problems" / "seed003-overnight-batch-100k-docs.yaml").read_text())
    batch["workloads"][0]["redundancy"] = "n_plus_1"
    f.write_text(yaml.safe_dump(batch, sort_keys=False))
    with pytest.raises(PlannerError, match="redundancy.*online serving"):
        load_spec(f)


def test_seed000_13b_zones_spread_over_three_hosts(run_cli, tmp_path):
    """seed000-13b with `redundancy: {zones: 3}`: the replicas span at least 3 hosts, no lost host
    leaves the demand short, and the plan costs at least the default N+1 plan (a lost host takes
    ceil(R / 3) >= 1 replicas, N+1 plans for one)."""
    seed = ROOT / "problems" / "seed000-13b-chatbot-50qps.yaml"

    def edit(d):
        d["workloads"][0]["redundancy"] = {"zones": 3}

    zoned = _solve_json(run_cli, tmp_path, seed, edit)["plans"][0]
    default = _solve_json(run_cli, tmp_path, seed, lambda d: None)["plans"][0]
    (res,) = zoned["resilience"]
    assert res["zones"] == 3 and res["redundancy"] == "zones: 3" and res["host_loss_short"] == []
    assert res["hosts_spanned"] >= 3
    assert zoned["cost"]["monthly_usd"] >= default["cost"]["monthly_usd"] - 1e-6
    r = sum(d["replicas"] for d in zoned["deployments"])
    assert r >= 3


@pytest.mark.parametrize("value, message", [
    ({"zones": 1}, r"workloads\[0\]\.redundancy\.zones: must be >= 2 \(got 1\)"),
    ({"zonez": 3}, r"workloads\[0\]\.redundancy\.zonez: unknown key 'zonez'; did you mean 'zones'\?"),
    ("n_plus_2", r"workloads\[0\]\.redundancy: unknown value 'n_plus_2'; did you mean 'n_plus_1'\?"),
])
def test_zones_spec_errors_are_one_located_line(tmp_path, value, message):
    """A bad redundancy gets one message at its own key, not one per form the field accepts."""
    from planner.errors import InputError
    from planner.spec.loader import load_spec

    seed = yaml.safe_load((ROOT / "problems" / "seed000-13b-chatbot-50qps.yaml").read_text())
    seed["workloads"][0]["redundancy"] = value
    f = tmp_path / "z.yaml"
    f.write_text(yaml.safe_dump(seed, sort_keys=False))
    with pytest.raises(InputError) as err:
        load_spec(f)
    lines = str(err.value).splitlines()
    assert len(lines) == 1, lines
    assert __import__("re").search(message, lines[0]), lines[0]
