"""Property tests over whole workload files through the command line (`planner.cli.main`, in-process):
valid files, each number drawn across its whole range (both ends included), and the same files
with one field broken.

Invariants:
- a valid file exits 0 (a plan, which passed verify: a plan failing verify exits 1) or 3
  (infeasible); never 1 (a bug), 2 (its input is valid) or 4 (a solver failure on a sane input);
- a file with one broken field exits 2, and every `error:` line starts with `FILE:line:col:` (or at
  least `FILE:line:`);
- nothing ever prints a traceback or an internal error.

Problems are tiny (1-3 GPU types, 1-2 workloads of 1-8 B models, TP 1-2, demand up to 1,000
requests/s: see MAX_DEMAND_QPS) and the runs derandomized, so the file runs in well under a minute. A third property checks that the two YAML parsers the
loader uses (libyaml's events, PyYAML's pure-Python parser) give the same tree and marks.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli import main

GPUS = ["l4-24gb", "a100-sxm-80gb", "h100-sxm-80gb", "rtx-4090-24gb", "l40s-48gb", "t4-16gb"]
MODELS = ["qwen-7b", "llama-3-8b", "llama-3.1-8b", "mistral-7b", "llama-3.2-1b"]
PRECISIONS = ["fp16", "int8", "int4", "fp8"]

RANGES: dict[str, tuple[type, float, float]] = {
    "horizon_months": (int, 1, 240),
    "gpus.available.*": (int, 0, 1_000_000),
    "budget.capex_usd": (float, 1, 1e12),
    "budget.monthly_usd": (float, 1, 1e11),
    "power_kw_max": (float, 0.01, 1e7),
    "owned[].count": (int, 1, 1_000_000),
    "costs.electricity_usd_per_kwh": (float, 0.0001, 10),
    "costs.pue": (float, 1, 5),
    "costs.colocation_usd_per_kw_month": (float, 0, 10_000),
    "costs.maintenance_fraction_of_capex_per_year": (float, 0, 1),
    "costs.gpu_power_utilization": (float, 0.01, 1),
    "costs.gpu_usd.*": (float, 1, 1e7),
    "costs.rent_usd_per_gpu_hour.*": (float, 0.001, 1000),
    "planning.max_utilization": (float, 0.1, 1),
    "planning.mem_utilization": (float, 0.1, 1),
    "planning.max_num_seqs": (int, 1, 1_000_000),
    "workloads[].traffic.concurrent_users": (int, 1, 10_000_000),
    "workloads[].traffic.think_time_s": (float, 0, 86_400),
    "workloads[].traffic.peak_qps": (float, 1e-6, 1e6),
    "workloads[].traffic.input_tokens": (int, 1, 10_000_000),
    "workloads[].traffic.output_tokens": (int, 1, 10_000_000),
    "workloads[].slo.ttft_ms": (float, 0.1, 86_400_000),
    "workloads[].slo.tpot_ms": (float, 0.1, 86_400_000),
    "workloads[].batch.requests": (int, 1, 10**10),
    "workloads[].batch.input_tokens": (int, 1, 10_000_000),
    "workloads[].batch.output_tokens": (int, 1, 10_000_000),
    "workloads[].batch.deadline_hours": (float, 0.01, 8760),
    "workloads[].min_replicas": (int, 0, 10_000),
    "workloads[].max_utilization": (float, 0.1, 1),
}
"""Each numeric field's range as the field table states it (README, `planner.spec.values`)."""


MAX_DEMAND_QPS = 1_000
"""Demand drawn for valid files: up to 1,000 requests/s (and 100,000 users), not the schema's
1,000,000. Placement and verify handle a plan replica by replica, so the top of the range can mean
millions of replicas and a minute of solving (1e6 requests/s of 1,024-token answers on L4s: 2.4
million replicas, 49 s, 1.7 GB); that is a scaling limit of the optimiser, not this test's subject."""


MODERATE: dict[str, tuple[float, float]] = {
    "workloads[].traffic.peak_qps": (0.01, 50), "workloads[].traffic.concurrent_users": (1, 500),
    "workloads[].traffic.input_tokens": (16, 2048), "workloads[].traffic.output_tokens": (16, 512),
    "workloads[].slo.ttft_ms": (300, 10_000), "workloads[].slo.tpot_ms": (40, 1_000),
    "workloads[].batch.deadline_hours": (1, 48), "workloads[].max_utilization": (0.5, 1),
    "workloads[].traffic.think_time_s": (0, 60),
}
"""Everyday values, for the half of the valid files meant to have a plan (so verify runs)."""


def in_range(key: str, low: float | None = None, high: float | None = None) -> st.SearchStrategy:
    """A value of field `key`: either end of its range or anything between (log-uniform for wide
    ranges), optionally narrowed to [low, high] where the whole range would make the test slow
    without testing more (a million GPUs of one type)."""
    kind, lo, hi = RANGES[key]
    lo, hi = max(lo, low) if low is not None else lo, min(hi, high) if high is not None else hi
    if kind is int:
        ends, inner = st.sampled_from([int(lo), int(hi)]), st.integers(int(lo), int(hi))
    else:
        ends, inner = st.sampled_from([float(lo), float(hi)]), st.floats(lo, hi, allow_nan=False)
        if lo > 0 and hi / lo > 1e3:
            inner = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: min(max(10.0 ** e, lo), hi))
    return st.one_of(inner, inner, inner, ends)  # an end of the range about one time in four


@st.composite
def workload(draw, name: str, stress: bool = True) -> dict:
    """One workload; `stress` draws every number across its whole range, else everyday values."""
    if not stress:
        def in_range(key, low=None, high=None):
            lo, hi = MODERATE[key]
            kind = RANGES[key][0]
            return st.integers(int(lo), int(hi)) if kind is int else st.floats(lo, hi)
    else:
        in_range = globals()["in_range"]
    w: dict = {"name": name, "model": draw(st.sampled_from(MODELS))}
    if draw(st.booleans()):
        w["precisions"] = draw(st.lists(st.sampled_from(PRECISIONS), min_size=1, max_size=2, unique=True))
    tokens = {"input_tokens": draw(in_range("workloads[].traffic.input_tokens", high=4096)),
              "output_tokens": draw(in_range("workloads[].traffic.output_tokens", high=1024))}
    if draw(st.booleans()):
        if draw(st.booleans()):
            traffic = {"peak_qps": draw(in_range("workloads[].traffic.peak_qps", high=MAX_DEMAND_QPS))}
        else:
            traffic = {"concurrent_users": draw(in_range("workloads[].traffic.concurrent_users", high=100_000))}
            if draw(st.booleans()):
                traffic["think_time_s"] = draw(in_range("workloads[].traffic.think_time_s"))
        w["traffic"] = {**traffic, **tokens}
        w["slo"] = {"ttft_ms": draw(in_range("workloads[].slo.ttft_ms")),
                    "tpot_ms": draw(in_range("workloads[].slo.tpot_ms"))}
    else:
        hours = draw(in_range("workloads[].batch.deadline_hours"))
        most = max(1, min(10**10, int(MAX_DEMAND_QPS * hours * 3600)))  # requests / deadline <= MAX_DEMAND_QPS
        w["batch"] = {"requests": draw(st.sampled_from([1, most]) | st.integers(1, most)), **tokens,
                      "deadline_hours": hours}
    if draw(st.booleans()):
        w["min_replicas"] = draw(st.integers(0, 4))
    if draw(st.booleans()):
        w["max_utilization"] = draw(in_range("workloads[].max_utilization"))
    return w


@st.composite
def valid_files(draw) -> dict:
    """A workload file every field of which is within its range and every name in the catalogue:
    half of them with every number across its whole range (most of these are infeasible: a 0.1 ms
    TTFT, a $1 budget), half with everyday workloads and no limits (most of these have a plan)."""
    gpus = draw(st.lists(st.sampled_from(GPUS), min_size=1, max_size=3, unique=True))
    data: dict = {"name": "fuzz", "objective": draw(st.sampled_from(["rent", "buy", "compare", "hybrid"])),
                  "gpus": {"allow": gpus}, "planning": {"tp_degrees": [1, 2]}}
    if not draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["chat", "docs", "code"]), min_size=1, max_size=2, unique=True))
        data["workloads"] = [draw(workload(n, stress=False)) for n in names]
        return data
    if draw(st.booleans()):
        data["horizon_months"] = draw(in_range("horizon_months"))
    if draw(st.booleans()):
        data["planning"]["max_utilization"] = draw(in_range("planning.max_utilization"))
        data["planning"]["mem_utilization"] = draw(in_range("planning.mem_utilization"))
        data["planning"]["max_num_seqs"] = draw(in_range("planning.max_num_seqs"))
    if draw(st.booleans()):
        data["budget"] = {"capex_usd": draw(in_range("budget.capex_usd")),
                          "monthly_usd": draw(in_range("budget.monthly_usd"))}
    if draw(st.booleans()):
        data["power_kw_max"] = draw(in_range("power_kw_max"))
    if draw(st.booleans()):
        data["gpus"]["available"] = {gpus[0]: draw(in_range("gpus.available.*", high=64))}
    if draw(st.booleans()):
        count = draw(in_range("owned[].count", high=8))
        data["owned"] = [{"gpu": gpus[-1], "count": count}]
        if gpus[-1] in data["gpus"].get("available", {}):
            data["gpus"]["available"][gpus[-1]] = max(data["gpus"]["available"][gpus[-1]], count)
    if draw(st.booleans()):
        data["costs"] = {key.split(".")[1]: draw(in_range(key)) for key in (
            "costs.electricity_usd_per_kwh", "costs.pue", "costs.colocation_usd_per_kw_month",
            "costs.maintenance_fraction_of_capex_per_year", "costs.gpu_power_utilization")}
        data["costs"]["gpu_usd"] = {gpus[0]: draw(in_range("costs.gpu_usd.*"))}
        data["costs"]["rent_usd_per_gpu_hour"] = {"l4-24gb": draw(in_range("costs.rent_usd_per_gpu_hour.*"))}
    names = draw(st.lists(st.sampled_from(["chat", "docs", "code"]), min_size=1, max_size=2, unique=True))
    data["workloads"] = [draw(workload(n)) for n in names]
    return data


def _numeric_leaves(data, path=()):
    """(location, range key) of every number in `data` that RANGES describes."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _numeric_leaves(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _numeric_leaves(v, (*path, i))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        parts, key = [], ""
        for p in path:
            if isinstance(p, int):
                key += "[]"
            else:
                parts.append(p)
                key = f"{key}.{p}" if key else p
        for candidate in (key, key.rsplit(".", 1)[0] + ".*"):
            if candidate in RANGES:
                yield path, candidate
                break


def _bad_numbers(key: str) -> list:
    """Values outside field `key`'s range, or not numbers at all."""
    kind, lo, hi = RANGES[key]
    bad = [hi * 10 + 1, 1e308, float("nan"), "5", True, [1]]
    if lo > 0:
        bad += [lo / 10 if kind is float else lo - 1, 5e-324, -1]
    else:
        bad += [-1]
    if kind is int:
        bad += [10**30, lo + 0.5]
    return bad


def _set(data, path, value) -> None:
    for p in path[:-1]:
        data = data[p]
    data[path[-1]] = value


@st.composite
def broken_files(draw) -> dict:
    """A valid file with exactly one defect: a number outside its range (or not a number), an
    unknown GPU, model or precision name, or an unknown key."""
    data = draw(valid_files())
    kind = draw(st.sampled_from(["number", "number", "number", "name", "key"]))
    if kind == "number":
        path, key = draw(st.sampled_from(list(_numeric_leaves(data))))
        _set(data, path, draw(st.sampled_from(_bad_numbers(key))))
    elif kind == "name":
        target = draw(st.sampled_from(["gpu", "model", "precision"]))
        if target == "gpu":
            data["gpus"]["allow"][0] = "h1000"
        elif target == "model":
            data["workloads"][0]["model"] = "qwen-7bb"
        else:
            data["workloads"][0]["precisions"] = ["fp61"]
    else:
        section = draw(st.sampled_from([(), ("gpus",), ("planning",), ("workloads", 0)]))
        target = data
        for p in section:
            target = target[p]
        target["surplus_key"] = 1
    return data


def _run(data: dict) -> tuple[int, str, str, str]:
    """Write `data` as YAML and run `planner solve` on it: (exit code, stdout, stderr, path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "fuzz.yaml")
        Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["solve", path, "--format", "json", "--no-timings", "--today", "2026-11-21",
                         "--time-limit-s", "20"])
    return code, out.getvalue(), err.getvalue(), path


def _assert_no_crash(code: int, out: str, err: str) -> None:
    assert code in (0, 2, 3, 4), (code, err[-3000:])
    assert "Traceback" not in err + out and "internal error" not in err, err[-3000:]


PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(data=valid_files())
def test_valid_files_plan_or_are_infeasible(data):
    """A file within every range exits 0 with a verified plan, or 3 (infeasible), never 1, 2 or 4."""
    code, out, err, _ = _run(data)
    _assert_no_crash(code, out, err)
    assert code in (0, 3), (code, err[-3000:], yaml.safe_dump(data))
    if code == 0:
        plans = json.loads(out)["plans"]
        assert plans and all(p["deployments"] or p.get("batch_runs") for p in plans)


@PROPERTY
@given(data=broken_files())
def test_broken_files_are_located_input_errors(data):
    """A file with one defect exits 2, and every `error:` line is located `FILE:line:col:`."""
    code, out, err, path = _run(data)
    _assert_no_crash(code, out, err)
    assert code == 2, (code, err[-3000:], yaml.safe_dump(data))
    lines = [line for line in err.splitlines() if line.strip()]
    located = re.compile(re.escape(f"error: {path}:") + r"\d+(:\d+)?: ")
    assert lines and all(located.match(line) for line in lines), lines


yaml_data = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=30)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=yaml_data, flow=st.booleans())
def test_fast_and_pure_yaml_parsers_agree(data, flow):
    """The loader reads with libyaml's event parser where PyYAML has it and falls back to the
    pure-Python parser only on a syntax error; both must give the same data and the same marks
    (line and column of every node), or a location would depend on how PyYAML was installed."""
    from planner.spec import yaml_tree

    if len(yaml_tree._LOADERS) == 1:
        pytest.skip("PyYAML without libyaml: only the pure-Python parser is used")
    text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=flow)
    fast, pure = (loader(text) for loader in yaml_tree._LOADERS)

    def marks(node, out):
        out.append((type(node).__name__, node.tag, node.start_mark.line, node.start_mark.column))
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                marks(child, out)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                marks(k, out)
                marks(v, out)
        return out

    fast_root, pure_root = fast.get_single_node(), pure.get_single_node()
    assert marks(fast_root, []) == marks(pure_root, [])
    # Not `== data`: PyYAML folds line-break characters such as U+0085 in what it writes.
    assert fast.construct_document(fast_root) == pure.construct_document(pure_root) == yaml.safe_load(text)
