"""The sensitivity report (`planner.optimize.sensitivity`) as JSON fields, table rows and sentences,
for the terminal, plan.md and report.html alike; and the `planning.robustness` line."""

from __future__ import annotations

from planner.catalog.model_error import load_model_error, speed_factor_for
from planner.optimize.plan import Outcome, Plan
from planner.optimize.serving_check import SIM_TOLERANCE, simulated_misses
from planner.serving.fleet import WorkloadResult
from planner.text import usd

SENSITIVITY_TABLE = (("scenario", "scenario"), ("workload", "workload"), ("pct", "SLO pct"), ("ttft", "TTFT ms"),
                     ("tpot", "TPOT ms"), ("e2e", "E2E ms"), ("attained", "met by (TTFT / TPOT)"),
                     ("meets", "meets SLO"), ("resolved", "re-solved $/month"))
SENSITIVITY_CAPTION = ("fleet held fixed, simulated: TTFT, TPOT, E2E at the SLO percentile; met by: share of "
                       f"requests within the SLO; meets SLO: within {SIM_TOLERANCE:.0%} of it; re-solved: the "
                       "cheapest plan for that scenario (capex spread over the horizon)")


def _workload_meets(out: Outcome, name: str, r: WorkloadResult) -> bool:
    return not simulated_misses(r, out.resolved.spec.workload(name).slo)


def sensitivity_fields(out: Outcome, plan: Plan, timings: bool) -> dict:
    """The plan's JSON fields `sensitivity` (one entry per scenario), `breaking_demand_multiplier` and
    `sensitivity_search`; {} when the plan has no sensitivity report."""
    s = plan.sensitivity
    if s is None:
        return {}
    entries = []
    for sc in s.scenarios:
        workloads = {}
        for name, r in sc.fleet_fixed.workloads.items():
            workloads[name] = {"ttft_ms": r.ttft_ms, "tpot_ms": r.tpot_ms, "e2e_ms": r.e2e_ms,
                               "at_slo_percentile": r.at_slo_percentile, "attainment": r.attainment,
                               "requests": r.requests, "meets_slo": _workload_meets(out, name, r)}
        rs = sc.resolved
        entries.append({
            "scenario": sc.name, "demand_multiplier": sc.demand, "performance_multiplier": sc.performance,
            "fleet_fixed": {"meets_slo": sc.meets_slo, "workloads": workloads, "misses": sc.fleet_fixed.misses},
            "resolved": None if rs is None else {"status": rs.status, "monthly_usd": rs.monthly_usd,
                                                 "capex_usd": rs.capex_usd, "total_usd": rs.total_usd,
                                                 **({"reason": rs.reason} if rs.reason else {})},
        })
    b = s.breaking
    return {
        "sensitivity": entries,
        "breaking_demand_multiplier": b.multiplier,
        "sensitivity_search": {"duration_s": s.duration_s, "seed": s.seed, "sim_tolerance": SIM_TOLERANCE,
                               "method": "geometric bisection on the simulated SLO percentiles",
                               "cap": b.cap, "relative_tolerance": b.tolerance,
                               "bracket": [b.low, b.multiplier if b.multiplier is not None else b.cap],
                               "simulations": b.simulations, "misses_at_break": b.first_miss,
                               "seconds": s.seconds if timings else None},
    }


def sensitivity_rows(out: Outcome, plan: Plan) -> list[dict]:
    """One row per scenario and simulated workload (the re-solved cost on the scenario's first row)."""
    s = plan.sensitivity
    if s is None:
        return []
    rows = []
    for sc in s.scenarios:
        rs = sc.resolved
        cost = "(this plan) " + usd(plan.total_usd / plan.horizon_months) if rs is None else (
            usd(rs.total_usd / plan.horizon_months) if rs.total_usd is not None else rs.status)
        for k, (name, r) in enumerate(sorted(sc.fleet_fixed.workloads.items())):
            at, att = r.at_slo_percentile, r.attainment
            rows.append({
                "scenario": sc.name if k == 0 else "", "workload": name,
                "pct": f"p{out.resolved.spec.workload(name).slo.percentile}",
                "ttft": f"{at['ttft_ms']:,.1f}", "tpot": f"{at['tpot_ms']:,.1f}", "e2e": f"{at['e2e_ms']:,.0f}",
                "attained": f"{att['ttft']:.1%} / {att['tpot']:.1%}",
                "meets": "yes" if _workload_meets(out, name, r) else "NO",
                "resolved": cost if k == 0 else "",
            })
        if not sc.fleet_fixed.workloads:
            rows.append({"scenario": sc.name, "workload": "(no online workload)", "resolved": cost})
    return rows


def sensitivity_lines(plan: Plan, timings: bool) -> list[str]:
    """The breaking demand multiplier and how it was searched, in words."""
    s = plan.sensitivity
    if s is None:
        return []
    b = s.breaking
    how = (f"fleet held fixed, {s.duration_s:g} s of simulated peak traffic per point, seed {s.seed}, geometric "
           f"bisection to {b.tolerance:.0%}, {b.simulations} extra simulations"
           + (f", {s.seconds:.1f} s with the re-solves" if timings else ""))
    if b.multiplier is None:
        head = f"breaking demand multiplier ({plan.pricing}): above {b.cap:g} (every SLO met at {b.cap:g} x the demand)"
    elif b.multiplier == 1.0 and b.low == 1.0:
        head = f"breaking demand multiplier ({plan.pricing}): 1 (the fleet misses an SLO at the stated demand)"
    else:
        head = (f"breaking demand multiplier ({plan.pricing}): {b.multiplier:.3f} (meets every SLO at "
                f"{b.low:.3f} x the demand, misses one at {b.multiplier:.3f})")
    return [f"{head}; {how}", *(f"  at the break: {m}" for m in b.first_miss)]


def robustness_line(out: Outcome) -> str | None:
    """What `planning.robustness` did, in words; None for `none`."""
    r = out.resolved.spec.planning.robustness
    if r == "none":
        return None
    if r == "model_error":
        table = load_model_error()
        fams = sorted({g.family for g in out.resolved.gpus})
        got = ", ".join(f"{f} {speed_factor_for(f, table).speed_factor:.3f}" for f in fams)
        return (f"robustness model_error: planned at the measured p90 one-sided speed of each GPU family "
                f"(catalog/model_error.csv; every step time / the factor): {got}")
    return f"robustness: planned for {r:g} x every workload's demand"


def robustness_record(out: Outcome) -> dict | None:
    """The JSON `robustness` field: the setting and, for `model_error`, the speed factor of each GPU
    family the file allows; None for `none` (the field is then left out)."""
    r = out.resolved.spec.planning.robustness
    if r == "none":
        return None
    if r == "model_error":
        table = load_model_error()
        return {"setting": r, "speed_factors": {f: speed_factor_for(f, table).speed_factor
                                                for f in sorted({g.family for g in out.resolved.gpus})}}
    return {"setting": "demand_multiplier", "demand_multiplier": r}
