"""Measured capacity tables (`workloads[].capacity_table`) and Mélange's published example.

Mélange (Griggs et al., "Mélange: Cost Efficient Large Language Model Serving by Exploiting GPU
Heterogeneity", arXiv 2404.14527) takes, per GPU type, the requests/s it serves within the SLO in
each (input, output) length bucket, the workload's request rate and its share per bucket, and
hourly GPU prices; an ILP picks the cheapest GPU mix. tests/data/melange_example.json is its
example input, copied verbatim from tyler-griggs/melange-release `melange/config/example.json`
@d46ab438; the repository's README (same commit, "Solver Output") gives the optimum:
{"A10G": 3, "A100-80GB": 1, "cost": 6.7}: 3 A10G and 1 A100-80GB, $6.70 per hour.

Mélange's ILP (`melange/solver.py`): each of a bucket's `slice_factor` slices goes wholly to one
GPU type (C1), and a type's count covers the sum over its slices of rate / max throughput (C2).
The planner's MILP is the same with `planning.bucket_slices: 1` (route_slices: a bucket's route is
all or nothing), `max_utilization: 1` (the table's rates are used in full), the table as the only
candidates on those GPUs (`replica_load` is C2, `bucket_routing` is C1) and the prices as rent per
GPU-hour on one-GPU instances. Without bucket_slices the planner may split a bucket between GPU
types, which Mélange's example (slice_factor 1) does not: a cheaper plan, derived below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planner import api

EXAMPLE = Path(__file__).resolve().parent / "data" / "melange_example.json"
GPU_IDS = {"A10G": "a10-24gb", "A100-80GB": "a100-sxm-80gb"}
"""Mélange's GPU names → catalogue GPUs with one-GPU rental offers (the A10G is AWS's A10 24 GB)."""
INPUT_TOKENS = (100, 1000)
OUTPUT_TOKENS = (100, 500)
"""Lengths that label Mélange's 2 x 2 buckets (row i: input bucket, column j: output bucket). The
example gives none; with a capacity table the lengths only name buckets (and size the memory
figures), the capacities are the table's."""
HOURS_PER_MONTH = 730
"""catalog/running_costs.csv `hours_per_month`: 8,760 hours a year / 12; rent is $/h x this."""


def melange_problem(tmp_path: Path, slices: int | None) -> Path:
    """Mélange's example as a workload file and a capacity table (buckets in Mélange's row-major order)."""
    ex = json.loads(EXAMPLE.read_text())
    rows = ["gpu,precision,tp,input_tokens,output_tokens,max_qps"]
    for name, info in ex["gpu_info"].items():
        for i, n_in in enumerate(INPUT_TOKENS):
            for j, n_out in enumerate(OUTPUT_TOKENS):
                rows.append(f"{GPU_IDS[name]},fp16,1,{n_in},{n_out},{info['tputs'][i][j]}")
    (tmp_path / "melange_table.csv").write_text("\n".join(rows) + "\n")
    lengths = [{"input_tokens": n_in, "output_tokens": n_out, "share": ex["workload_distribution"][i][j]}
               for i, n_in in enumerate(INPUT_TOKENS) for j, n_out in enumerate(OUTPUT_TOKENS)]
    spec = {
        "name": "melange-example", "objective": "rent",
        "gpus": {"allow": list(GPU_IDS.values())},
        "costs": {"rent_usd_per_gpu_hour": {GPU_IDS[n]: info["cost"] for n, info in ex["gpu_info"].items()}},
        # Melange's ILP: buckets split freely between GPU types (in slices), no spare replica.
        "planning": {"max_utilization": 1.0, "tp_degrees": [1], "bucket_slices": slices, "mixing": "free"},
        "workloads": [{"name": "chat", "model": "llama-2-7b", "precisions": ["fp16"], "min_replicas": 0,
                       "redundancy": "none",
                       "capacity_table": "melange_table.csv",
                       "traffic": {"peak_qps": ex["total_request_rate"], "lengths": lengths},
                       "slo": {"ttft_ms": 5000, "tpot_ms": 200}}],
    }
    if slices is None:
        del spec["planning"]["bucket_slices"]
    path = tmp_path / "melange.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def gpu_counts(result) -> dict[str, int]:
    (plan,) = result.plans
    counts: dict[str, int] = {}
    for line in plan.deployments:
        counts[line.candidate.gpu] = counts.get(line.candidate.gpu, 0) + line.replicas * line.candidate.tp
    return counts


def test_melange_example_optimum_is_reproduced(tmp_path):
    """Mélange's example with its slice_factor 1: 3 A10G + 1 A100-80GB, $6.70/h (its README).

    By hand: rates per bucket 30 x (0.2, 0.1, 0.5, 0.2) = 6, 3, 15, 6 requests/s. A10G loads
    (rate / max rate) 6/2, 3/1, 15/5, 6/2 = 3 each; A100 loads 6/20, 3/20, 15/40, 6/20 = 0.3, 0.15,
    0.375, 0.3 (1.125 in all). Whole buckets: all on A10G, 12 GPUs ($12.12); all on A100, 2 ($7.34);
    one A100 takes any three buckets (at most 0.975) and the fourth loads the A10Gs 3: 3 A10G +
    1 A100 = 3 x 1.01 + 3.67 = $6.70/h. Rent: $6.70 x 730 h = $4,891 a month."""
    result = api.plan(melange_problem(tmp_path, slices=1))
    (plan,) = result.plans
    assert gpu_counts(result) == {"a10-24gb": 3, "a100-sxm-80gb": 1}
    assert plan.monthly_usd == pytest.approx((3 * 1.01 + 3.67) * HOURS_PER_MONTH, abs=0.01)
    assert plan.monthly_usd / HOURS_PER_MONTH == pytest.approx(6.70, abs=1e-9)
    shares = {0: 0.2, 1: 0.1, 2: 0.5, 3: 0.2}  # buckets sorted by (input, output) = Mélange's row-major order
    for line in plan.deployments:  # every bucket routed whole (route_slices with one slice)
        for b, routed in line.routes.items():
            assert routed == pytest.approx(shares[b], abs=1e-9)


def test_free_split_undercuts_whole_buckets(tmp_path):
    """Without bucket_slices a bucket may be split between GPU types. By hand: an A100 serves a
    bucket for 1.10 to 1.38 $/h of bucket (0.3 x 3.67 ...), an A10G for 3.03 (3 x 1.01), so the
    A100 takes all it can: one A100 carries 1.0 of the 1.125 A100-loads; the 0.125 left, taken
    from the bucket where the A10G is least behind (15 requests/s: A10G load 3 against 0.375, a
    ratio of 8), is 1/3 of that bucket: A10G load 1. 1 A10G + 1 A100 = $4.68/h, below Mélange's
    $6.70 with whole buckets (two A100s, $7.34, or no A100, $12.12, cost more)."""
    result = api.plan(melange_problem(tmp_path, slices=None))
    (plan,) = result.plans
    assert gpu_counts(result) == {"a10-24gb": 1, "a100-sxm-80gb": 1}
    assert plan.monthly_usd / HOURS_PER_MONTH == pytest.approx(1.01 + 3.67, abs=1e-9)


def test_measured_lines_are_reported_as_measured(tmp_path, run_cli):
    """The table's deployments replace the model's on its GPUs: the plan's lines are the measured
    candidates, their capacity per replica is the table's (the A100 on its mix), and their
    latencies are unknown (null in JSON): the table says the SLO holds up to its rates."""
    code, out, err = run_cli(["solve", melange_problem(tmp_path, slices=1), "--format", "json", "--no-timings"])
    assert code == 0, err
    (plan,) = json.loads(out)["plans"]
    ids = sorted(d["candidate"] for d in plan["deployments"])
    assert ids == ["chat:llama-2-7b@a10-24gb/fp16/tp1/measured", "chat:llama-2-7b@a100-sxm-80gb/fp16/tp1/measured"]
    for d in plan["deployments"]:
        assert d["ttft_ms"] is None and d["tpot_ms"] is None
        assert d["bottleneck"] == "measured capacity"


def test_capacity_table_errors_are_located(tmp_path, run_cli):
    """Every defect of a table at once, at its line: an unknown GPU, a bucket the workload lacks,
    a TP degree not in 1/2/4/8, a rate that is not positive, a row given twice."""
    problem = melange_problem(tmp_path, slices=1)
    table = tmp_path / "melange_table.csv"
    table.write_text("gpu,precision,tp,input_tokens,output_tokens,max_qps\n"
                     "a10-24gb,fp16,1,100,100,2\n"
                     "h1000,fp16,1,100,100,2\n"
                     "a10-24gb,fp16,1,100,200,2\n"
                     "a10-24gb,fp16,3,100,100,2\n"
                     "a10-24gb,fp16,1,1000,100,0\n"
                     "a10-24gb,fp16,1,100,100,3\n")
    code, _, err = run_cli(["solve", problem])
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: {table}:3: gpu: unknown gpu 'h1000'.")
    assert lines[1:] == [
        f"error: {table}:4: input_tokens: no bucket of 100 in / 200 out in the workload; expected the lengths of "
        "one of its buckets (100/100, 100/500, 1000/100, 1000/500)",
        f"error: {table}:5: tp: must be one of 1, 2, 4, 8 (got 3)",
        f"error: {table}:6: max_qps: must be > 0 (got 0)",
        f"error: {table}:7: input_tokens: a10-24gb fp16 tp1 at 100 in / 100 out given twice (first at line 2); "
        "expected one row per deployment and bucket",
    ]


def test_capacity_table_file_must_exist_and_not_go_with_users(tmp_path, run_cli):
    """A missing table is located at its key in the workload file; a table with concurrent_users
    is a schema error (a measured capacity is a rate; users become one only through latencies)."""
    problem = melange_problem(tmp_path, slices=1)
    (tmp_path / "melange_table.csv").unlink()
    code, _, err = run_cli(["solve", problem])
    assert code == 2
    assert f"{problem}:" in err and "workloads[0].capacity_table: no capacity table 'melange_table.csv'" in err
    spec = yaml.safe_load(problem.read_text())
    spec["workloads"][0]["traffic"] = {"concurrent_users": 50, "input_tokens": 100, "output_tokens": 100}
    problem.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, _, err = run_cli(["solve", problem])
    assert code == 2 and "capacity_table: not allowed with concurrent_users" in err
