"""Unit costs of a plan as records (JSON `unit_costs`) and table rows (terminal, Markdown); the
figures come from `planner.optimize.usage` and the rules are in `planner.money.unit_costs`."""

from __future__ import annotations

import dataclasses

from planner.optimize.plan import Outcome, Plan
from planner.optimize.usage import plan_unit_costs

UNIT_TABLE = (("workload", "workload"), ("usd_per_month", "$/month"), ("cost_share", "share"),
              ("usd_per_million_output_tokens", "$/M output tok"), ("usd_per_million_tokens", "$/M tokens"),
              ("usd_per_1k_requests", "$/1k requests"), ("output_tokens_per_s_per_gpu", "output tok/s/GPU"))
UNIT_CAPTION = ("$/month: the plan's cost over the horizon per month (capex spread), shared by GPU-hours; "
                "tokens and requests at the planned demand for a month (profile included); tok/s/GPU at the peak")
UNIT_DROP = ("cost_share", "usd_per_million_tokens", "usd_per_1k_requests")
UNIT_MONEY = ("usd_per_month", "usd_per_million_output_tokens", "usd_per_million_tokens", "usd_per_1k_requests")
"""The unit-cost table's money columns (US$; converted when a plan prints in another currency)."""


def unit_cost_record(out: Outcome, plan: Plan) -> dict:
    """`{"plan": {...}, "workloads": [{"name": ..., ...}]}` (see `planner.money.unit_costs`)."""
    per, whole = plan_unit_costs(out, plan)
    plan_figures = {k: v for k, v in dataclasses.asdict(whole).items() if k != "name"}
    return {"rule": "cost per month = total_usd / horizon_months, shared among workloads by GPU-hours",
            "plan": plan_figures, "workloads": [dataclasses.asdict(u) for u in per]}


def unit_cost_rows(out: Outcome, plan: Plan) -> list[dict]:
    """One row per workload and one for the whole plan, shares as %."""
    per, whole = plan_unit_costs(out, plan)
    rows = [{**dataclasses.asdict(u), "workload": u.name} for u in per]
    if len(per) > 1:
        rows.append({**dataclasses.asdict(whole), "workload": "(plan)"})
    return [{**r, "cost_share": f"{r['cost_share']:.0%}"} for r in rows]
