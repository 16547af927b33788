"""Rendering of solved plans and candidate lists: table (rich), JSON (the contract), CSV, Markdown.

Deterministic: rows in a stable order, floats at fixed precision; solver times are the only
thing that varies between runs, and `timings=False` writes them as null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from planner import perf
from planner.candidates import CandidateSet, reason_counts
from planner.compare import depreciation_usd_per_month
from planner.plan import Outcome, Plan
from planner.report import console, render_table, to_csv, to_json

STALE_AFTER_DAYS = 183
"""Prices older than about six months get a warning."""

DEPLOYMENT_COLUMNS = (
    "pricing", "workload", "model", "gpu", "precision", "kv_precision", "tp", "replicas", "batch_cap", "ttft_ms",
    "tpot_ms", "capacity_qps", "capacity_qps_per_replica", "demand_qps", "output_tokens_per_s_per_replica",
    "utilization", "mem_gib_per_gpu", "mem_capacity_gib_per_gpu", "bottleneck", "candidate",
)
BOM_COLUMNS = ("pricing", "item", "category", "quantity", "unit", "unit_usd", "total_usd", "cost_kind", "source", "as_of")


def deployment_records(plan: Plan) -> list[dict]:
    out = []
    for d in plan.deployments:
        c = d.candidate
        out.append({
            "pricing": plan.pricing, "workload": c.workload, "model": c.model, "gpu": c.gpu, "precision": c.precision,
            "kv_precision": c.kv_precision, "tp": c.tp, "replicas": d.replicas, "batch_cap": c.batch,
            "ttft_ms": c.ttft_s * 1e3, "tpot_ms": c.tpot_s * 1e3, "capacity_qps": d.capacity_qps,
            "capacity_qps_per_replica": c.capacity_qps, "demand_qps": c.demand_qps,
            "output_tokens_per_s_per_replica": c.output_tokens_per_s, "utilization": d.utilization,
            "mem_gib_per_gpu": c.mem_used_bytes / perf.GIB, "mem_capacity_gib_per_gpu": c.mem_capacity_bytes / perf.GIB,
            "bottleneck": c.bottleneck, "candidate": c.id,
        })
        if plan.periods > 1:
            out[-1]["replicas_by_hour"] = plan.solution.replicas_by_hour.get(c.id, [d.replicas] * plan.periods)
    return out


def bom_records(plan: Plan) -> list[dict]:
    return [{"pricing": plan.pricing, "item": b.item, "category": b.category, "quantity": b.quantity, "unit": b.unit,
             "unit_usd": b.unit_usd, "total_usd": b.total_usd, "cost_kind": b.cost_kind, "source": b.source,
             "as_of": b.as_of} for b in plan.bom]


def price_dates(plans: list[Plan], today: dt.date) -> dict:
    """The oldest price date used in the plans, and a warning when it is more than six months old.

    Prices are the BOM's unit prices (instances, cards, server parts, racks) and the energy and
    colocation rates; the maintenance line is a fraction of capex, not a price, so its date
    does not count.
    """
    dates = sorted({b.as_of for p in plans for b in p.bom if b.as_of and b.category != "maintenance"})
    oldest = dates[0] if dates else None
    warning = None
    if oldest is not None:
        age = (today - dt.date.fromisoformat(oldest)).days
        if age > STALE_AFTER_DAYS:
            warning = (f"the oldest price used is from {oldest}, {age // 30} months before {today.isoformat()}: "
                       "prices go stale; check them before you order or sign")
    return {"oldest_as_of": oldest, "today": today.isoformat(), "warning": warning}


def candidate_summary(cs: CandidateSet) -> dict:
    kept = cs.kept()
    return {
        "admissible": len(cs.candidates) + cs.ladder_skipped,
        "dominated_dropped": len(cs.candidates) - len(kept) + cs.ladder_skipped,
        "lower_batch_caps_not_evaluated": cs.ladder_skipped, "kept": len(kept),
        "rejected": len(cs.rejections), "rejected_by_reason": reason_counts(cs.rejections),
    }


def outcome_record(out: Outcome, timings: bool, today: dt.date) -> dict:
    """The JSON contract of `planner solve`."""
    plans = []
    for p in out.plans:
        s = p.solution
        plans.append({
            "pricing": p.pricing,
            "status": s.status,
            "deployments": deployment_records(p),
            "hosts": [{"host": h.id, "kind": h.kind, "gpu": h.gpu, "gpus_per_host": h.slots, "count": n,
                       "label": h.label, "unit_capex_usd": h.capex_usd, "unit_monthly_usd": h.monthly_usd,
                       "source": h.source, "as_of": h.as_of,
                       **({"count_by_hour": s.hosts_by_hour[h.id]} if h.id in s.hosts_by_hour else {})}
                      for h, n in p.hosts],
            "placement": [{"host": label, "replicas": content} for label, content in p.placement],
            **({"placement_hour": p.peak_hour} if p.peak_hour is not None else {}),
            "bom": [{k: v for k, v in r.items() if k != "pricing"} for r in bom_records(p)],
            "cost": {"capex_usd": p.capex_usd, "monthly_usd": p.monthly_usd, "horizon_months": p.horizon_months,
                     "total_usd": p.total_usd, "power_kw": p.power_kw,
                     "depreciation_usd_per_month": depreciation_usd_per_month(p)},
            "solver": {"name": s.solver, "status": s.status, "seconds": s.seconds if timings else None,
                       "objective_usd": s.objective_usd, "bound_usd": s.bound_usd, "gap": s.gap,
                       "variables": s.n_variables, "constraints": s.n_constraints},
        })
    spec = out.resolved.spec
    statuses = {p["status"] for p in plans}
    record = {
        "name": spec.name,
        "objective": spec.objective,
        "status": "optimal" if statuses == {"optimal"} else "feasible",
        "plans": plans,
        "solver": {
            "name": out.plans[0].solution.solver if out.plans else None,
            "seconds": sum(p.solution.seconds for p in out.plans) if timings else None,
            "gap": max((p.solution.gap or 0.0) for p in out.plans) if out.plans else None,
        },
        "candidates": candidate_summary(out.candidates),
        **({"hybrid_savings_usd": {f"vs_{k}": v for k, v in savings.items()}}
           if (savings := hybrid_savings(out)) is not None else {}),
        "prices": price_dates(out.plans, today),
    }
    from planner.compare_report import add_comparison, comparison_of

    cmp = comparison_of(out)
    return add_comparison(record, cmp) if cmp is not None else record


def outcome_json(out: Outcome, timings: bool, today: dt.date) -> str:
    return to_json(outcome_record(out, timings, today))


def outcome_csv(out: Outcome) -> str:
    return to_csv(DEPLOYMENT_COLUMNS, [r for p in out.plans for r in deployment_records(p)])


def bom_csv(out: Outcome) -> str:
    return to_csv(BOM_COLUMNS, [r for p in out.plans for r in bom_records(p)])


def _usd(v: float) -> str:
    return f"${v:,.0f}"


def _plan_title(p: Plan) -> str:
    if p.pricing == "rent":
        return f"Rent: {_usd(p.monthly_usd)} per month ({_usd(p.monthly_usd * p.horizon_months)} over {p.horizon_months} months)"
    kind = "Hybrid (buy a base, rent the rest by the hour)" if p.pricing == "hybrid" else "Buy"
    return (f"{kind}: {_usd(p.capex_usd)} capex + {_usd(p.monthly_usd)} per month = {_usd(p.total_usd)} over "
            f"{p.horizon_months} months")


def hybrid_savings(out: Outcome) -> dict | None:
    """What the hybrid plan saves over the horizon against all-rent and all-buy (None without one)."""
    by = {p.pricing: p for p in out.plans}
    if "hybrid" not in by:
        return None
    h = by["hybrid"].total_usd
    return {k: by[k].total_usd - h for k in ("rent", "buy") if k in by}


def _solver_line(p: Plan, timings: bool) -> str:
    s = p.solution
    t = f" in {s.seconds:.2f} s" if timings else ""
    bound = _usd(s.bound_usd) if s.bound_usd is not None else "-"
    gap = f"{s.gap:.4%}" if s.gap is not None else "-"
    return (f"solver {s.solver}: {s.status}{t}; objective {_usd(s.objective_usd)}, bound {bound}, gap {gap}; "
            f"{s.n_variables} variables, {s.n_constraints} constraints")


DEPLOY_TABLE = (("workload", "workload"), ("model", "model"), ("gpu", "GPU"), ("precision", "prec"), ("tp", "TP"),
                ("replicas", "replicas"), ("batch_cap", "batch"), ("ttft_ms", "TTFT ms"), ("tpot_ms", "TPOT ms"),
                ("output_tokens_per_s_per_replica", "tok/s each"), ("capacity_qps", "cap. QPS"),
                ("demand_qps", "demand QPS"), ("utilization", "util"),
                ("mem_gib_per_gpu", "GiB/GPU"), ("bottleneck", "bottleneck"))
BOM_TABLE = (("item", "item"), ("quantity", "qty"), ("unit_usd", "unit $"), ("total_usd", "total $"),
             ("cost_kind", "kind"), ("as_of", "as of"), ("source", "source"))


def print_outcome(out: Outcome, timings: bool, today: dt.date, width: int = 160) -> None:
    con = console(width)
    spec = out.resolved.spec
    summary = candidate_summary(out.candidates)
    con.print(f"[bold]{spec.name}[/bold]: objective {spec.objective}, {len(spec.workloads)} workloads")
    for p in out.plans:
        con.print()
        rows = [{**r, "utilization": f"{r['utilization']:.0%}"} for r in deployment_records(p)]
        con.print(render_table(_plan_title(p), DEPLOY_TABLE, rows))
        bom = [{**r, "source": _short(r["source"])} for r in bom_records(p)]
        con.print(render_table(f"Bill of materials ({p.pricing})", BOM_TABLE, bom,
                               "full sources: --format json or --out DIR (bom.csv)"))
        dep = (f"; straight-line depreciation {_usd(depreciation_usd_per_month(p))}/month (no salvage value)"
               if p.capex_usd > 0 else "")
        con.print(f"cost: capex {_usd(p.capex_usd)}, monthly {_usd(p.monthly_usd)}, "
                  f"{p.horizon_months}-month total {_usd(p.total_usd)}; facility power {p.power_kw:.2f} kW{dep}")
        con.print(_solver_line(p, timings))
    by_reason = ", ".join(f"{k} {v}" for k, v in summary["rejected_by_reason"].items()) or "none"
    con.print(f"candidates: {summary['admissible']} admissible, {summary['dominated_dropped']} dominated dropped "
              f"before the MILP, {summary['kept']} kept; rejected {summary['rejected']} ({by_reason})")
    savings = hybrid_savings(out)
    if savings is not None:
        con.print("hybrid saves " + ", ".join(f"{_usd(v)} over all-{k}" for k, v in savings.items())
                  + f" across {spec.horizon_months} months (negative: costs more)")
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        con.print(f"prices: oldest used {prices['oldest_as_of']}")
    if prices["warning"]:
        con.print(f"[bold]warning:[/bold] {prices['warning']}")


def _short(s: str, n: int = 48) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def outcome_markdown(out: Outcome, timings: bool, today: dt.date) -> str:
    spec = out.resolved.spec
    lines = [f"# {spec.name}", "", spec.description.strip(), "", f"Objective: {spec.objective}.", ""]
    for p in out.plans:
        lines += [f"## {_plan_title(p)}", "", "### Deployments", ""]
        lines += _md_table(DEPLOY_TABLE, [{**r, "utilization": f"{r['utilization']:.0%}"} for r in deployment_records(p)])
        lines += ["", "### Bill of materials", ""]
        lines += _md_table(BOM_TABLE, bom_records(p))
        lines += ["", (f"Capex {_usd(p.capex_usd)}; monthly {_usd(p.monthly_usd)}; {p.horizon_months}-month total "
                  f"{_usd(p.total_usd)}; facility power {p.power_kw:.2f} kW."), "", _solver_line(p, timings) + ".", ""]
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        lines.append(f"Oldest price used: {prices['oldest_as_of']}.")
    if prices["warning"]:
        lines.append(f"**Warning:** {prices['warning']}.")
    return "\n".join(lines).rstrip() + "\n"


def _md_table(cols, rows: list[dict]) -> list[str]:
    from planner.report import _fmt

    out = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(_fmt(r.get(k)).replace("|", "/") for k, _ in cols) + " |")
    return out


# ---------------------------------------------------------------------------------------------
# planner candidates
# ---------------------------------------------------------------------------------------------

CANDIDATE_COLUMNS = (
    "workload", "status", "gpu", "precision", "tp", "batch_cap", "ttft_ms", "tpot_ms", "capacity_qps", "demand_qps",
    "coverage", "coverage_per_gpu", "mem_gib_per_gpu", "bottleneck", "reason", "detail", "id",
)


def candidate_records(cs: CandidateSet, include_rejected: bool = True) -> list[dict[str, Any]]:
    rows = []
    for c in cs.candidates:
        rows.append({
            "workload": c.workload, "status": "dominated" if c.dominated_by else "kept", "gpu": c.gpu,
            "precision": c.precision, "tp": c.tp, "batch_cap": c.batch, "ttft_ms": c.ttft_s * 1e3,
            "tpot_ms": c.tpot_s * 1e3, "capacity_qps": c.capacity_qps, "demand_qps": c.demand_qps,
            "coverage": c.coverage, "coverage_per_gpu": c.coverage_per_gpu,
            "mem_gib_per_gpu": c.mem_used_bytes / perf.GIB, "bottleneck": c.bottleneck, "reason": None,
            "detail": f"dominated by {c.dominated_by}" if c.dominated_by else None, "id": c.id,
        })
    if include_rejected:
        for r in cs.rejections:
            rows.append({"workload": r.workload, "status": "rejected", "gpu": r.gpu, "precision": r.precision, "tp": r.tp,
                         "reason": r.reason, "detail": r.detail})
    return rows
