"""`planner sweep`: the optimal cost at each value of one input, the knee, the Pareto chart, and the
same results on one process, a process pool and a Ray cluster."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import planner
from planner.errors import InputError
from planner.optimize.sweep import MAX_POINTS, Sweep, knee_index, parse_vary, varied_spec
from planner.spec.loader import load_spec

REPO = Path(__file__).resolve().parents[1]
MIX = REPO / "problems" / "chat-rag-length-mix.yaml"
FLEET = REPO / "problems" / "multi-model-fleet.yaml"
OVERNIGHT = REPO / "problems" / "seed003-overnight-batch-100k-docs.yaml"
TODAY = "2026-11-21"


def test_start_stop_n_is_evenly_spaced_with_both_ends():
    """200:2000:10 -> 200, 400, ..., 2000 (step (2000 - 200) / 9 = 200)."""
    s = parse_vary("slo.ttft_ms=200:2000:10")
    assert s == Sweep("slo.ttft_ms", tuple(200.0 * k for k in range(1, 11)))
    assert parse_vary("demand=0.5,1,2", "chat").values == (0.5, 1.0, 2.0)


@pytest.mark.parametrize("text, message", [
    ("slo.ttft=1:2:3", "cannot vary 'slo.ttft'"),
    ("slo.ttft_ms", "has no values"),
    ("slo.ttft_ms=1:2", "values are not numbers"),
    ("slo.ttft_ms=a,b", "values are not numbers"),
    ("slo.ttft_ms=100:200:1", "N must be at least 2"),
    ("slo.ttft_ms=100,100", "a value is repeated"),
    ("slo.ttft_ms=nan,1", "finite"),
    ("horizon_months=12:36:6", "whole months (got 16.8)"),
    (f"demand=1:2:{MAX_POINTS + 1}", "more than 200 solves"),
])
def test_bad_vary_is_a_located_input_error(text, message, run_cli):
    """Each defect of --vary: exit 2, one line naming --vary and what is wrong (12:36:6 steps by 4.8)."""
    code, out, err = run_cli(["sweep", MIX, "--vary", text, "--jobs", "1"])
    assert code == 2 and out == ""
    assert err.startswith("error: --vary: ") and message in err, err


def test_values_out_of_range_fail_before_any_solve(run_cli):
    """slo.tpot_ms=0.01 is below the field's 0.1 ms minimum: the file as varied is checked first."""
    code, _, err = run_cli(["sweep", MIX, "--vary", "slo.tpot_ms=0.01,50", "--jobs", "1"])
    assert code == 2 and "--vary: slo.tpot_ms=0.01 gives workloads.0.slo.tpot_ms" in err, err


def test_slo_of_a_batch_only_file_is_an_input_error():
    loaded = load_spec(OVERNIGHT)
    with pytest.raises(InputError, match="has none"):
        varied_spec(loaded.spec, parse_vary("slo.ttft_ms=1,2"), 1.0)
    with pytest.raises(InputError, match="no workload named 'nope'"):
        varied_spec(loaded.spec, parse_vary("demand=1,2", "nope"), 1.0)


def test_demand_scales_rates_users_and_batch_requests():
    """multi-model-fleet at demand x 1.5: every peak_qps x 1.5, users rounded x 1.5, batch requests
    rounded x 1.5 (at least 1); only the named workload when one is named."""
    spec = load_spec(FLEET).spec
    varied = varied_spec(spec, parse_vary("demand=1,1.5"), 1.5)
    for w, v in zip(spec.workloads, varied.workloads):
        if w.traffic is not None and w.traffic.peak_qps is not None:
            assert math.isclose(v.traffic.peak_qps, 1.5 * w.traffic.peak_qps)
        if w.traffic is not None and w.traffic.concurrent_users is not None:
            assert v.traffic.concurrent_users == max(1, round(1.5 * w.traffic.concurrent_users))
        if w.batch is not None:
            assert v.batch.requests == max(1, round(1.5 * w.batch.requests))
    first = spec.workloads[0].name
    one = varied_spec(spec, parse_vary("demand=1,2", first), 2.0)
    assert one.workloads[1:] == spec.workloads[1:] and one.workloads[0] != spec.workloads[0]


def test_knee_is_the_point_farthest_from_the_chord():
    """(0, 1), (1, 0.3), (2, 0.1), (3, 0) scaled to [0, 1]: x = 0, 1/3, 2/3, 1; the chord is x + y = 1;
    distances |x + y - 1| / sqrt 2 = 0.259 (x = 1/3) and 0.165 (x = 2/3): the knee is the second point.
    Fewer than three points, or a flat curve, have no knee."""
    assert knee_index([0, 1, 2, 3], [1, 0.3, 0.1, 0]) == 1
    assert knee_index([0, 1], [1, 0]) is None
    assert knee_index([0, 1, 2], [5, 5, 5]) is None
    assert knee_index([0, 1, 2], [0, 1, 2]) is None  # a straight line: every point on the chord


def test_a_looser_slo_never_costs_more():
    """chat-rag-length-mix with its TTFT SLO at 300, 600, 1200 and 2400 ms: each rent plan is proven
    optimal and costs no more than the one before (a plan for a tighter SLO meets a looser one)."""
    result = planner.sweep(MIX, "slo.ttft_ms=300,600,1200,2400", jobs=1)
    costs = [pt.plans[0]["usd_per_month"] for pt in result.points]
    assert all(pt.plans[0]["status"] == "optimal" for pt in result.points)
    assert all(b <= a + 0.005 for a, b in zip(costs, costs[1:])), costs
    assert costs[0] > costs[-1]
    frame = result.to_frame()
    assert list(frame["value"]) == [300.0, 600.0, 1200.0, 2400.0]


def test_infeasible_points_are_reported_not_fatal(run_cli):
    """A 1 ms TTFT has no deployment: that point is `infeasible` with the reason; the others solve."""
    code, out, err = run_cli(["sweep", MIX, "--vary", "slo.ttft_ms=1,1000", "--format", "json", "--jobs", "1",
                              "--no-timings", "--today", TODAY])
    assert code == 0, err
    points = json.loads(out)["points"]
    assert points[0]["status"] == "infeasible" and points[0]["plans"] == [] and points[0]["reason"]
    assert points[1]["status"] == "ok" and points[1]["plans"][0]["pricing"] == "rent"


def test_pool_gives_the_in_process_results_and_files_are_deterministic(run_cli, tmp_path):
    """--jobs 2 (a spawned process pool) and --jobs 1 give byte-identical JSON; --out writes sweep.json
    (the same JSON), sweep.csv (a row per point and pricing) and a PNG chart, the same bytes twice."""
    args = ["sweep", MIX, "--vary", "slo.ttft_ms=300:1200:4", "--no-timings", "--today", TODAY]
    runs = [run_cli([*args, "--format", "json", "--jobs", str(j), "--out", tmp_path / f"o{j}"]) for j in (1, 2)]
    assert [r[0] for r in runs] == [0, 0], [r[2] for r in runs]
    assert runs[0][1] == runs[1][1]
    record = json.loads(runs[0][1])
    assert record["vary"]["values"] == [300.0, 600.0, 900.0, 1200.0]
    assert (tmp_path / "o1" / "sweep.json").read_text(encoding="utf-8") == runs[0][1]
    csv_lines = (tmp_path / "o1" / "sweep.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0].startswith("key,workload,value,pricing,status,usd_per_month") and len(csv_lines) == 5
    png = [(tmp_path / f"o{j}" / "sweep.png").read_bytes() for j in (1, 2)]
    assert png[0].startswith(b"\x89PNG") and png[0] == png[1]


def test_table_marks_the_knee(run_cli):
    code, out, _ = run_cli(["sweep", MIX, "--vary", "slo.ttft_ms=200:2000:10", "--jobs", "1", "--no-timings",
                            "--today", TODAY])
    assert code == 0
    record = json.loads(run_cli(["sweep", MIX, "--vary", "slo.ttft_ms=200:2000:10", "--jobs", "1", "--no-timings",
                                 "--today", TODAY, "--format", "json"])[1])
    knee = record["knees"]["rent"]
    assert f"knee (rent): slo.ttft_ms = {knee:g}" in out and "knee (rent)" in out


@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="Ray is an optional extra (planner[ray]); the test extra installs it")
def test_ray_cluster_gives_the_pool_results(tmp_path, run_cli):
    """A local Ray cluster started here (`ray start --head`): --ray ADDRESS gives the JSON of --jobs 1."""
    ray_bin = Path(sys.executable).with_name("ray")
    ray = str(ray_bin) if ray_bin.exists() else shutil.which("ray")
    env_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    start = subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--disable-usage-stats",
                            "--include-dashboard=false", f"--temp-dir={env_dir}", "--port", "0"],
                           capture_output=True, text=True, timeout=180)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        address = next(line.split("'")[1] for line in (start.stdout + start.stderr).splitlines()
                       if "ray start --address=" in line)
        args = ["sweep", MIX, "--vary", "slo.ttft_ms=400,800,1600", "--no-timings", "--today", TODAY,
                "--format", "json"]
        on_ray = run_cli([*args, "--ray", address])
        local = run_cli([*args, "--jobs", "1"])
        assert on_ray[0] == 0, on_ray[2]
        assert on_ray[1] == local[1]
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(env_dir, ignore_errors=True)
