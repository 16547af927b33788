"""What each workload asks of a plan in a month, gathered from the plan for
`planner.money.unit_costs` (which states the rules: volumes at the planned demand, cost shared by
GPU-hours)."""

from __future__ import annotations

from planner.money.costs import RunningRates
from planner.money.unit_costs import UnitCosts, WorkloadUsage, unit_costs
from planner.optimize.plan import Outcome, Plan
from planner.units import HOURS_PER_DAY

SECONDS_PER_HOUR = 3600.0


def workload_usage(out: Outcome, plan: Plan) -> list[WorkloadUsage]:
    """Per workload, in file order: requests and tokens per month at the planned demand (peak rate x
    the mean of its hourly profile x the month's hours), GPU-hours its deployments run per month
    (hour by hour where the plan changes by hour), and output tokens/s and GPUs at the peak."""
    hours_per_month = RunningRates.from_book(out.book).hours_per_month
    by_hour = plan.solution.replicas_by_hour
    usage = []
    for w in out.resolved.workloads:
        lines = [d for d in plan.deployments if d.candidate.workload == w.name]
        peak_qps = sum(d.demand_qps for d in lines) / w.demand_scale  # the stated demand, not robustness's
        buckets = out.candidates.mixes[w.name].buckets
        mean_in = sum(b.share * b.input_tokens for b in buckets)
        mean_out = sum(b.share * b.output_tokens for b in buckets)
        profile = w.spec.traffic.profile if w.spec.traffic is not None else None
        level = sum(profile) / len(profile) if profile else 1.0
        requests = peak_qps * SECONDS_PER_HOUR * hours_per_month * level
        gpu_hours = 0.0
        for d in lines:
            hourly = by_hour.get(d.candidate.id)
            replica_hours = (sum(hourly) / HOURS_PER_DAY if hourly else d.replicas) * hours_per_month
            gpu_hours += replica_hours * d.candidate.tp
        run = plan.runs.get(w.name)
        if run is not None:  # billed by the run: its runs a month (a once-job's one run over the horizon)
            runs = run.window.runs_per_month or 1.0 / plan.horizon_months
            requests = w.spec.batch.requests * runs
            gpu_hours = runs * sum(run.candidates[c].tp * sum(n) * 1.0 for c, n in run.replicas.items())
            peak_qps = w.spec.batch.requests / (run.window.hours * SECONDS_PER_HOUR)
        usage.append(WorkloadUsage(
            name=w.name, requests_per_month=requests, input_tokens_per_month=requests * mean_in,
            output_tokens_per_month=requests * mean_out, gpu_hours_per_month=gpu_hours,
            peak_output_tokens_per_s=peak_qps * mean_out, peak_gpus=sum(d.replicas * d.candidate.tp for d in lines)))
    return usage


def plan_unit_costs(out: Outcome, plan: Plan) -> tuple[list[UnitCosts], UnitCosts]:
    """(per workload, whole plan) unit costs of `plan`, its cost per month being total / horizon."""
    return unit_costs(plan.total_usd / plan.horizon_months, workload_usage(out, plan))
