"""Batch jobs billed by the run (`optimize.batch_runs`): their JSON records, table rows and cost
lines. A once-job's run cost is paid once: it is in a plan's horizon total (`total_usd`) but not in
its monthly cost, and is never multiplied by the horizon; daily and weekly jobs' runs are in the
monthly cost (run cost x runs a month)."""

from __future__ import annotations

from collections.abc import Callable

from planner.optimize.plan import Plan
from planner.text import usd

RUN_TABLE = (("workload", "workload"), ("slot", "slot"), ("hour", "hour"), ("deployments", "replicas running the job"),
             ("rented", "instances rented for the run"), ("done", "share done"))
RUN_CAPTION = ("a batch job's window in one-hour slots: replicas on GPUs the plan leaves idle in that hour or on "
               "instances rented for the run, billed per instance-hour")


def _deployment(c) -> str:
    return f"{c.gpu}/{c.precision}/tp{c.tp}"


def batch_run_records(p: Plan) -> list[dict]:
    """One record per batch job billed by the run, in file order of the plan's runs."""
    out = []
    for name, run in p.runs.items():
        w = run.window
        out.append({
            "workload": name, "schedule": w.schedule, "start_hour": w.start_hour, "window_hours": w.hours,
            "runs_per_month": w.runs_per_month, "usd_per_run": run.usd_per_run,
            "usd_per_month": run.usd_per_month if w.schedule != "once" else None,
            "in_monthly_cost": w.schedule != "once",
            "instance_hours_per_run": {h: sum(n) for h, n in sorted(run.run_hosts.items())},
            "replica_gpu_hours_per_run": sum(run.candidates[c].tp * sum(n) for c, n in run.replicas.items()),
            "slots": [{"slot": k, "hour": w.hour_of_day(k), "fraction": w.fraction(k),
                       "replicas": {c: n[k] for c, n in sorted(run.replicas.items()) if n[k]},
                       "rented_instances": {h: n[k] for h, n in sorted(run.run_hosts.items()) if n[k]},
                       "share_done": sum(v[k] for v in run.work.values())}
                      for k in range(w.slots)],
        })
    return out


def batch_run_rows(p: Plan) -> list[dict]:
    """Table rows: one per slot of each job's window in which it does some work."""
    rows = []
    for name, run in p.runs.items():
        w = run.window
        for k in range(w.slots):
            done = sum(v[k] for v in run.work.values())
            if done <= 1e-9:
                continue
            rows.append({"workload": name, "slot": str(k), "hour": f"{w.hour_of_day(k):02d}:00",
                         "deployments": ", ".join(f"{n[k]} x {_deployment(run.candidates[c])}"
                                                  for c, n in sorted(run.replicas.items()) if n[k]),
                         "rented": ", ".join(f"{n[k]} x {h}" for h, n in sorted(run.run_hosts.items()) if n[k]) or "-",
                         "done": f"{done:.1%}"})
    return rows


def batch_cost_lines(p: Plan, money: Callable[[float], str] = usd) -> list[str]:
    """One line per job: its cost per run and per month, and how it enters the plan's totals;
    `money` prints an amount of US dollars (in the plan's currency)."""
    lines = []
    for name, run in p.runs.items():
        w = run.window
        hours = sum(sum(n) for n in run.run_hosts.values())
        head = (f"batch {name}: {w.schedule}, {w.hours:g} h window from {w.start_hour:02d}:00; "
                f"{money(run.usd_per_run)} per run ({hours} instance-hours rented")
        if w.schedule == "once":
            lines.append(head + "); runs once: in the horizon total once, not in the monthly cost")
        else:
            lines.append(head + f"), {w.runs_per_month:.4g} runs a month = {money(run.usd_per_month)} per month "
                         "(in the monthly cost)")
    return lines


def once_suffix(p: Plan, money: Callable[[float], str] = usd) -> str:
    """' + $X once (batch runs)' for a plan with once-jobs, else ''; `money` as in batch_cost_lines."""
    return f" + {money(p.once_usd)} once (batch runs)" if p.once_usd else ""
