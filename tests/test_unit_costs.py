"""Unit costs: $ per million tokens, per thousand requests, output tokens/s per GPU, and the cost of
shared servers split among workloads by GPU-hours (planner.money.unit_costs states the rules)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from planner.money.unit_costs import WorkloadUsage, unit_costs

HOURS_PER_MONTH = 730  # catalog/running_costs.csv: 8,760 hours per year / 12
TODAY = ["--no-timings", "--today", "2026-11-21", "--format", "json"]


def test_costs_split_by_gpu_hours_and_divided_by_volume():
    """A plan at $4,000/month serving A (1,000 GPU-hours, 10^6 requests, 2x10^9 input and 10^9 output
    tokens, 5,000 output tokens/s on 4 GPUs at the peak) and B (3,000 GPU-hours, 4x10^6 requests,
    10^9 input and 3x10^9 output tokens, 6,000 tokens/s on 12 GPUs):
    A's share 1,000 / 4,000 = 25 % -> $1,000: $1,000 / 1,000 M output tokens = $1.00 per million,
    $1,000 / 3,000 M tokens = $0.333, $1,000 / 1,000 thousand requests = $1.00 per thousand,
    5,000 / 4 = 1,250 tokens/s per GPU. B: $3,000, $3,000 / 3,000 M = $1.00, $3,000 / 4,000 M =
    $0.75, $3,000 / 4,000 k = $0.75, 500 tokens/s per GPU. The plan: $4,000 / 4,000 M output = $1.00,
    $4,000 / 7,000 M = $0.571, $4,000 / 5,000 k = $0.80, 11,000 / 16 = 687.5 tokens/s per GPU."""
    a = WorkloadUsage("a", 1e6, 2e9, 1e9, 1_000, 5_000, 4)
    b = WorkloadUsage("b", 4e6, 1e9, 3e9, 3_000, 6_000, 12)
    (ua, ub), whole = unit_costs(4_000, [a, b])
    assert (ua.usd_per_month, ua.cost_share, ub.usd_per_month) == (1_000, 0.25, 3_000)
    assert ua.usd_per_million_output_tokens == pytest.approx(1.0)
    assert ua.usd_per_million_tokens == pytest.approx(1 / 3)
    assert ua.usd_per_1k_requests == pytest.approx(1.0)
    assert ua.output_tokens_per_s_per_gpu == 1_250
    assert (ub.usd_per_million_output_tokens, ub.usd_per_million_tokens) == pytest.approx((1.0, 0.75))
    assert (ub.usd_per_1k_requests, ub.output_tokens_per_s_per_gpu) == pytest.approx((0.75, 500))
    assert whole.usd_per_month == 4_000 and whole.usd_per_million_tokens == pytest.approx(4 / 7)
    assert (ua.gpu_hours_per_month, whole.gpu_hours_per_month) == (1_000, 4_000)
    assert (whole.usd_per_1k_requests, whole.output_tokens_per_s_per_gpu) == pytest.approx((0.8, 687.5))


def test_no_volume_has_no_unit_cost():
    (u,), _ = unit_costs(100, [WorkloadUsage("idle", 0, 0, 0, 10, 0, 0)])
    assert u.usd_per_million_output_tokens is None and u.usd_per_1k_requests is None
    assert u.output_tokens_per_s_per_gpu is None and u.usd_per_month == 100


def _plans(run_cli, problem: str) -> list[dict]:
    code, out, err = run_cli(["solve", f"problems/{problem}.yaml", *TODAY])
    assert code == 0, err
    return json.loads(out)["plans"]


def test_seed001_unit_costs_from_its_own_figures(run_cli):
    """seed001 (512 in / 200 out per request): requests per month = planned QPS x 3,600 x 730 h, so
    at 1.95 QPS 5.125 million; the rent plan's $284.70 / (5.125 M x 200 output tokens) x 10^6 =
    $0.2778 per million output tokens; the buy plan spreads its capex over 36 months plus its monthly costs."""
    for plan in _plans(run_cli, "seed001-qwen7b-50-users"):
        (dep,) = plan["deployments"]
        uc = plan["unit_costs"]["workloads"][0]
        usd = plan["cost"]["total_usd"] / plan["cost"]["horizon_months"]
        requests = dep["demand_qps"] * 3600 * HOURS_PER_MONTH
        assert uc["usd_per_month"] == pytest.approx(usd, abs=1e-3)
        assert uc["requests_per_month"] == pytest.approx(requests, rel=1e-4)
        assert uc["output_tokens_per_month"] == pytest.approx(requests * 200, rel=1e-4)
        assert uc["total_tokens_per_month"] == pytest.approx(requests * 712, rel=1e-4)
        assert uc["usd_per_million_output_tokens"] == pytest.approx(usd / (requests * 200) * 1e6, rel=1e-3)
        assert uc["output_tokens_per_s_per_gpu"] == pytest.approx(dep["demand_qps"] * 200 / dep["tp"], rel=1e-3)
        assert plan["unit_costs"]["plan"]["usd_per_month"] == uc["usd_per_month"]
    rent = _plans(run_cli, "seed001-qwen7b-50-users")[0]
    assert rent["unit_costs"]["plan"]["usd_per_million_output_tokens"] == pytest.approx(0.2778, abs=2e-4)


def test_shared_servers_split_by_gpus_in_a_flat_plan(run_cli):
    """multi-model-fleet's buy plan has one period: each workload's share of the cost is its replica
    GPUs over all replica GPUs, and the shares add up to the whole."""
    plan = next(p for p in _plans(run_cli, "multi-model-fleet") if p["pricing"] == "buy")
    gpus: dict[str, int] = {}
    for d in plan["deployments"]:
        gpus[d["workload"]] = gpus.get(d["workload"], 0) + d["replicas"] * d["tp"]
    total = sum(gpus.values())
    per = {u["name"]: u for u in plan["unit_costs"]["workloads"]}
    for name, n in gpus.items():
        assert per[name]["cost_share"] == pytest.approx(n / total, abs=1e-4)
    whole = plan["cost"]["total_usd"] / plan["cost"]["horizon_months"]
    assert sum(u["usd_per_month"] for u in per.values()) == pytest.approx(whole, rel=1e-6)


def test_profiled_volume_follows_the_profile(run_cli):
    """hybrid-daily-profile's support chat runs at its peak only some hours: its monthly requests are
    the peak rate x the mean of its 24 profile values x 3,600 x 730; rent hour by hour, its GPU-hours
    are the replica GPUs summed over the day / 24 x 730."""
    spec = yaml.safe_load(open("problems/hybrid-daily-profile.yaml", encoding="utf-8"))
    plan = next(p for p in _plans(run_cli, "hybrid-daily-profile") if p["pricing"] == "rent")
    for w in spec["workloads"]:
        profile = w["traffic"].get("profile")
        uc = next(u for u in plan["unit_costs"]["workloads"] if u["name"] == w["name"])
        peak = sum(d["demand_qps"] for d in plan["deployments"] if d["workload"] == w["name"])
        level = sum(profile) / 24 if profile else 1.0
        assert uc["requests_per_month"] == pytest.approx(peak * level * 3600 * HOURS_PER_MONTH, rel=1e-3)
        assert not math.isclose(level, 1.0) or profile is None
        replica_gpu_hours = sum(sum(d["replicas_by_hour"]) * d["tp"] for d in plan["deployments"]
                                if d["workload"] == w["name"])
        assert uc["gpu_hours_per_month"] == pytest.approx(replica_gpu_hours / 24 * HOURS_PER_MONTH, rel=1e-6)
