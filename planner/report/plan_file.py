"""A plan read back for export: the part of the `planner solve --format json` contract that the
deployment export uses, checked with every problem located in the file.

The same record is built from a fresh solve (`from_record(outcome_record(...))`) and from a file
(`read_plan_json`), so the export never depends on where the plan came from. The contract carries no
version number: a file from another planner version is accepted when it holds every key the export
reads, with the right types, and reported key by key otherwise.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import InputError, Problem
from planner.spec.textfile import read_user_text
from planner.spec.yaml_tree import YamlDocument, parse_yaml

MAX_PLAN_NODES = 2_000_000
"""Most JSON values a plan file may hold when its problems are located (fleet-20's plan holds
about 5,000; hourly plans add 24 numbers per deployment and host)."""

PLAN_HINT = "a plan JSON written by `planner solve FILE --format json` (or plan.json of `--out DIR`)"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(ge=0)]


class FactorsIn(_Record):
    engine: str
    """The engine whose speed factors the plan used (`efficiency_factors.engine`)."""
    engine_basis: str


class DeploymentIn(_Record):
    workload: str
    model: str
    gpu: str
    precision: str
    kv_precision: str
    tp: Positive
    replicas: Count
    batch_cap: Positive
    context_tokens: Positive
    chunk_tokens: Positive
    buckets: list[Count]
    latency_percentile: Annotated[int, Field(ge=1, le=99)]
    ttft_ms: Rate
    tpot_ms: Rate
    e2e_ms: Rate
    demand_qps: Rate
    capacity_qps_per_replica: Rate
    mem_capacity_gib_per_gpu: Annotated[float, Field(gt=0)]
    candidate: Annotated[str, Field(min_length=1)]
    efficiency_factors: FactorsIn | None = None
    """Absent in plans of planners before engines were modelled."""


class BucketIn(_Record):
    index: Count
    input_tokens: Count
    output_tokens: Positive
    share: Annotated[float, Field(gt=0, le=1)]


class RouteIn(_Record):
    bucket: BucketIn
    deployment: str
    share_of_bucket: Annotated[float, Field(ge=0)]
    """May sum to more than 1 over a bucket's routes: the plan's coverage is a lower bound."""


class SloIn(_Record):
    percentile: Annotated[int, Field(ge=1, le=99)]
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None


class WorkloadIn(_Record):
    name: str
    arrival_cv: Annotated[float, Field(ge=0)]
    slo: SloIn | None
    routing: list[RouteIn]


class PlacementIn(_Record):
    host: str
    replicas: list[str]


class CostIn(_Record):
    total_usd: float


class PlanIn(_Record):
    pricing: str
    deployments: list[DeploymentIn]
    workloads: list[WorkloadIn]
    placement: list[PlacementIn] = []
    cost: CostIn | None = None


class PlanFile(_Record):
    format: Literal["planner-plan/1"] | None = None
    """The contract version `planner solve` writes (`PLAN_FORMAT`); absent in plans written before it had one."""
    name: str
    objective: str
    plans: Annotated[list[PlanIn], Field(min_length=1)]


def from_record(record: dict, label: str = "<plan>", text: str | None = None) -> PlanFile:
    """The plan contract `record` checked; problems located in `text` (the file) when given."""
    if not isinstance(record, dict) or "plans" not in record:
        what = "a JSON object without a plans key" if isinstance(record, dict) else f"a JSON {type(record).__name__}"
        raise InputError(Problem(f"not a plan: {what}", file=label, line=1 if text is not None else None,
                                 col=1 if text is not None else None, expected=PLAN_HINT))
    try:
        plan = PlanFile.model_validate(record)
    except ValidationError as exc:
        raise InputError(_problems(exc, label, text)) from None
    problems = _cross_check(plan, label)
    if problems:
        raise InputError(problems)
    return plan


def read_plan_json(path: str) -> PlanFile:
    """The plan JSON at `path`, checked (InputError with every problem located)."""
    from pathlib import Path

    text = read_user_text(Path(path))
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"not JSON: {exc.msg}", file=path, line=exc.lineno, col=exc.colno,
                                 expected=PLAN_HINT)) from None
    return from_record(record, path, text)


def _problems(exc: ValidationError, label: str, text: str | None) -> list[Problem]:
    """One located problem per validation error; located through the YAML node tree (JSON is
    YAML) only when there are errors, so a good file is parsed once, by the json module."""
    doc = None
    if text is not None:
        try:
            root, _, _ = parse_yaml(text, label, MAX_PLAN_NODES)
            doc = YamlDocument(root, label)
        except InputError:
            doc = None
    out = []
    for e in exc.errors(include_url=False):
        loc = tuple(e["loc"])
        missing = e["type"] == "missing"
        message = "missing key" if missing else e["msg"].lower()
        if not missing and "input" in e and not isinstance(e["input"], (dict, list)):
            message += f" (got {json.dumps(e['input'])})"
        expected = f"{PLAN_HINT}, from this planner version (solve again to refresh it)" if missing else None
        if doc is not None:
            p = doc.problem(loc, message, expected)
        else:
            p = Problem(message, file=label, key=_key(loc), expected=expected)
        out.append(p)
    out.sort(key=lambda p: (p.line or 0, p.col or 0))
    return out


def _key(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _cross_check(plan: PlanFile, label: str) -> list[Problem]:
    """References inside the plan: every routed deployment and every deployment's workload exist."""
    problems = []
    for i, p in enumerate(plan.plans):
        ids = {d.candidate for d in p.deployments}
        names = {w.name for w in p.workloads}
        for j, d in enumerate(p.deployments):
            if d.workload not in names:
                problems.append(Problem(f"workload {d.workload!r} is not among the plan's workloads", file=label,
                                        key=f"plans[{i}].deployments[{j}].workload"))
        for j, w in enumerate(p.workloads):
            for k, r in enumerate(w.routing):
                if r.deployment not in ids:
                    problems.append(Problem(f"routes to {r.deployment!r}, which is not a deployment of the plan",
                                            file=label, key=f"plans[{i}].workloads[{j}].routing[{k}].deployment"))
    return problems


def pick_plan(plan: PlanFile, pricing: str | None, label: str) -> PlanIn:
    """The plan to export: `pricing` when given; else the only plan, the objective's own plan
    (rent, buy, hybrid), or for `compare` the one cheaper over the horizon as the file states it."""
    by = {p.pricing: p for p in plan.plans}
    if pricing is not None:
        if pricing not in by:
            raise InputError(Problem(f"no {pricing} plan in this file", file=label, key="--plan",
                                     expected="one of " + ", ".join(by)))
        return by[pricing]
    if len(plan.plans) == 1:
        return plan.plans[0]
    if plan.objective in by:
        return by[plan.objective]
    costed = [p for p in plan.plans if p.cost is not None]
    return min(costed, key=lambda p: p.cost.total_usd) if costed else plan.plans[0]
