"""The sensitivity report (`solve --sensitivity`) and `planning.robustness`.

Numbers are derived in each docstring from the formulas (`perf.prefill_time`, the speed factors of
catalog/model_error.csv), not copied from the program's output.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

import planner
from planner import perf
from planner.catalog.model_error import load_model_error, scaled_efficiency, speed_factor_for
from planner.catalog.store import load_catalog
from planner.optimize.sensitivity import BREAK_TOLERANCE, breaking_multiplier
from planner.perf.model_error import speed_factor, speed_ratios

REPO = Path(__file__).resolve().parents[1]


def _with_robustness(loaded, value):
    planning = loaded.spec.planning.model_copy(update={"robustness": value})
    return dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"planning": planning}))


def test_bisection_finds_a_hand_placed_break():
    """misses(m) iff m >= 2.5: the answer is the bracket's upper end, at or above 2.5 and within
    the 1 % tolerance of a multiplier that met; never-missing gives None; missing at 1 gives 1."""
    check = lambda m: SimpleNamespace(misses=["x"] if m >= 2.5 else [])
    b = breaking_multiplier(check)
    assert 2.5 <= b.multiplier <= 2.5 * (1 + BREAK_TOLERANCE)
    assert b.low < 2.5 and b.multiplier / b.low <= 1 + BREAK_TOLERANCE
    assert breaking_multiplier(lambda m: SimpleNamespace(misses=[])).multiplier is None
    assert breaking_multiplier(lambda m: SimpleNamespace(misses=["x"])).multiplier == 1.0
    # Known points narrow the bracket and are not simulated again.
    seen = []
    b = breaking_multiplier(lambda m: seen.append(m) or check(m), known={1.0: [], 1.2: [], 1.5: []})
    assert 1.0 not in seen and 1.5 not in seen and 2.5 <= b.multiplier <= 2.5 * 1.01


def test_breaking_multiplier_of_a_single_server_queue(tmp_path):
    """One replica serving one-token answers with max_num_seqs 1 is a single server whose service
    time S is one prefill (the iteration that prefills a 1,000-token prompt emits the only token):
    S = perf.prefill_time(Llama-3.1-8B, H100, fp16, tp 1, 1000). Arrivals almost regular (cv 0.1)
    at 0.3 / S requests/s (one replica by the planner's queueing model): no queue until the rate reaches 1 / S, then a queue that grows by
    (rate - 1 / S) requests each second, so TTFT passes its SLO (10 S) within seconds. The fleet
    breaks at m* = (1 / S) / (0.3 / S) = 10 / 3, up to the search tolerance and the sampling."""
    cat = load_catalog()
    g, m, p = cat.gpu("h100"), cat.model("llama-3.1-8b"), cat.precision("fp16")
    s = perf.prefill_time(m, g, p, 1, 1000, cat.efficiency_for(g)).total_s
    path = tmp_path / "queue.yaml"
    path.write_text(f"""name: single-server
gpus: {{allow: [h100-sxm-80gb]}}
planning: {{tp_degrees: [1], max_num_seqs: 1}}
workloads:
  - name: q
    model: llama-3.1-8b
    precisions: [fp16]
    traffic: {{peak_qps: {0.3 / s!r}, input_tokens: 1000, output_tokens: 1, arrival_cv: 0.1}}
    slo: {{ttft_ms: {10 * s * 1e3!r}, tpot_ms: 1000}}
""", encoding="utf-8")
    result = planner.plan(path, sensitivity=True)
    plan = result.plans[0]
    assert [d.replicas for d in plan.deployments] == [1]
    b = plan.sensitivity.breaking
    assert b.multiplier == pytest.approx(10 / 3, rel=0.03)
    names = [sc.name for sc in plan.sensitivity.scenarios]
    assert names == ["nominal", "demand x1.2", "demand x1.5", "performance x0.8"]
    # Below the break every scenario meets the SLO; x0.8 performance is S / 0.8 = 1.25 S per request
    # at 0.3 / S: utilisation 0.375, still no queue.
    assert all(sc.meets_slo for sc in plan.sensitivity.scenarios)


def test_sensitivity_json_markdown_and_html(tmp_path):
    """`solve --sensitivity --out` carries the scenarios in plan.json, plan.md and report.html, and
    the same seed gives the same bytes."""
    from click.testing import CliRunner

    from planner.cli.app import cli

    args = ["solve", str(REPO / "problems/seed000-70b-service-40qps.yaml"), "--sensitivity", "--no-timings",
            "--today", "2026-11-21", "--format", "json"]
    runner = CliRunner()
    first = runner.invoke(cli, [*args, "--out", str(tmp_path / "a")])
    second = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    plan = json.loads(first.output)["plans"][0]
    assert [s["scenario"] for s in plan["sensitivity"]] == ["nominal", "demand x1.2", "demand x1.5",
                                                            "performance x0.8"]
    x15 = plan["sensitivity"][2]
    assert set(x15["fleet_fixed"]["workloads"]["large-app-70b"]) >= {"ttft_ms", "attainment", "meets_slo"}
    assert x15["resolved"]["monthly_usd"] > plan["cost"]["monthly_usd"]  # 1.5 x the demand costs more
    brk = plan["breaking_demand_multiplier"]
    lo, hi = plan["sensitivity_search"]["bracket"]
    assert 1.0 < brk == hi and hi / lo <= 1.0 + BREAK_TOLERANCE
    # The fleet misses at 1.5 x the demand, so it broke below it.
    assert not x15["fleet_fixed"]["meets_slo"] and brk <= 1.5
    assert "### Sensitivity" in (tmp_path / "a" / "plan.md").read_text(encoding="utf-8")
    assert 'id="sensitivity-rent"' in (tmp_path / "a" / "report.html").read_text(encoding="utf-8")


def test_demand_multiplier_costs_the_same_as_scaled_demand(tmp_path):
    """robustness: 1.3 on seed000-70b (40 requests/s) costs what the file with peak_qps 52 costs."""
    loaded = planner.load(REPO / "problems/seed000-70b-service-40qps.yaml")
    robust = planner.plan(_with_robustness(loaded, 1.3), today=None).plans[0]
    w = loaded.spec.workloads[0]
    traffic = w.traffic.model_copy(update={"peak_qps": 40 * 1.3})
    scaled_spec = loaded.spec.model_copy(update={"workloads": [w.model_copy(update={"traffic": traffic})]})
    scaled = planner.plan(dataclasses.replace(loaded, spec=scaled_spec)).plans[0]
    plain = planner.plan(loaded).plans[0]
    assert robust.total_usd == pytest.approx(scaled.total_usd, rel=1e-9)
    assert robust.total_usd > plain.total_usd


def test_model_error_derates_speed_by_the_family_factor():
    """A batch job's capacity is its saturation rate b / (decode step + b / out x prefill): with
    every step time / f (f = the Hopper speed factor of catalog/model_error.csv) and the same
    memory-bound batch cap, each TP-1 H100 candidate's capacity is exactly f x the nominal one (at
    TP > 1 the fixed all-reduce latency is not scaled, so the factor is a little closer to 1)."""
    f = speed_factor_for("hopper").speed_factor
    assert 0 < f < 1
    text = """name: batch-h100
gpus: {allow: [h100-sxm-80gb]}
workloads:
  - name: job
    model: llama-3.1-8b
    precisions: [fp16]
    batch: {requests: 100000, input_tokens: 1000, output_tokens: 200, deadline_hours: 10}
"""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "b.yaml"
        path.write_text(text, encoding="utf-8")
        loaded = planner.load(path)
        nominal = planner.plan(loaded).outcome.candidates
        derated = planner.plan(_with_robustness(loaded, "model_error")).outcome.candidates
    by_id = {c.id: c for c in derated.candidates}
    pairs = [(c, by_id[c.id]) for c in nominal.candidates if c.id in by_id and c.tp == 1]
    assert pairs
    for a, b in pairs:
        for qa, qb in zip(a.slo_qps, b.slo_qps):
            assert qb == pytest.approx(f * qa, rel=1e-9)


def test_scaled_efficiency_divides_every_step_time():
    """TP 1 (no all-reduce latency): decode step and prefill at speed 0.8 are the nominal / 0.8."""
    cat = load_catalog()
    g, m, p = cat.gpu("a100"), cat.model("llama-3.1-8b"), cat.precision("fp16")
    eff = cat.efficiency_for(g)
    slow = scaled_efficiency(eff, 0.8)
    for fn in (lambda e: perf.decode_step_time(m, g, p, 2.0, 1, 16, 1500.0, e).total_s,
               lambda e: perf.prefill_time(m, g, p, 1, 1500, e).total_s):
        assert fn(slow) == pytest.approx(fn(eff) / 0.8, rel=1e-12)


def test_speed_factor_is_the_tenth_percentile():
    """Ratios 0.5, 0.9, 1.0, 1.1, 1.2: position (5 - 1) x 0.1 = 0.4 between 0.5 and 0.9 -> 0.66;
    ratios all above 1 are capped at 1."""
    assert speed_factor([1.2, 0.5, 1.0, 0.9, 1.1]) == pytest.approx(0.66)
    assert speed_factor([1.5, 2.0]) == 1.0


def test_shipped_model_error_table_matches_the_measurements():
    """The own-fit rows of catalog/model_error.csv are what the shipped measurements give today
    (the leave-one-family-out default row needs three refits: `python tools/model_error.py`)."""
    from planner.perf import calibration as V

    cat = load_catalog()
    text = (REPO / "catalog/measured/calibration.csv").read_text(encoding="utf-8")
    cases, _ = V.read_cases(cat, text, "calibration.csv")
    ratios = speed_ratios(cases, cat.efficiency_for, cat.engine_factors_for)
    table = load_model_error()
    own = [r for r in table.values() if r.basis == "own fit"]
    assert {r.family for r in own} == {f for f in cat.efficiency if f != "default"}
    for r in own:
        mine = [x for fam, x in ratios if fam == r.family]
        assert r.rows == len(mine)
        assert r.speed_factor == pytest.approx(speed_factor(mine), abs=5e-5)
    # Families without their own fit are derated more than any fitted one.
    assert table["default"].speed_factor < min(r.speed_factor for r in own)
    assert math.isclose(speed_factor_for("blackwell").speed_factor, table["default"].speed_factor)
