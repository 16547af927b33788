"""What every renderer shows, as plain records: catalogue rows, estimates, deployments, bills of
materials, candidate lists and the `planner solve` JSON contract. Renderers only lay these out.

Deterministic: rows in a stable order; solver times are the only thing that varies between runs,
and `timings=False` writes them as null.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from planner import perf
from planner.report.batch_records import batch_run_records, once_suffix
from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Precision
from planner.money.compare import depreciation_usd_per_month
from planner.optimize.candidates import CandidateSet, reason_counts
from planner.optimize.plan import Outcome, Plan
from planner.optimize.serving_check import SIM_TOLERANCE
from planner.perf.estimate import Estimate
from planner.report.comparison import add_comparison
from planner.report.failure_out import plan_warnings, resilience_records, spof_records
from planner.report.spot_out import spot_records
from planner.report.currency import USD, Currency
from planner.report.quality import (
    QUALITY_CAPTION,
    factors_mark,
    factors_record,
    quality_cell,
    quality_record,
)
from planner.report.sensitivity_out import robustness_record, sensitivity_fields
from planner.report.unit_costs import unit_cost_record
from planner.units import GIB

GPU_LIST_COLUMNS = (
    "id", "name", "vendor", "family", "mem_gb", "mem_bw_gb_per_s", "fp16_tflops", "bf16_tflops", "fp8_tflops",
    "int8_tops", "int4_tops", "nvfp4_tflops", "mxfp4_tflops", "tdp_w", "scaleup_kind", "scaleup_bw_gb_per_s_bidir", "scaleup_domain_gpus",
    "gpus_per_server", "geforce_eula", "market", "aliases", "confidence", "source", "as_of",
)


def gpu_record(g: Gpu) -> dict:
    rec = {
        "id": g.id, "name": g.name, "vendor": g.vendor, "family": g.family, "architecture": g.architecture,
        "form_factor": g.form_factor, "mem_gb": g.mem_gb, "mem_bw_gb_per_s": g.mem_bw_gb_per_s,
    }
    for compute, col in (("fp32", "fp32_tflops"), ("fp16", "fp16_tflops"), ("bf16", "bf16_tflops"),
                         ("fp8", "fp8_tflops"), ("int8", "int8_tops"), ("int4", "int4_tops"),
                         ("nvfp4", "nvfp4_tflops"), ("mxfp4", "mxfp4_tflops")):
        rec[col] = "unsupported" if compute in g.unsupported else g.peak_tflops.get(compute)
    rec.update({
        "tdp_w": g.tdp_w, "scaleup_kind": g.scaleup_kind, "scaleup_name": g.scaleup_name,
        "scaleup_bw_gb_per_s_bidir": g.scaleup_bw_gb_per_s_bidir, "scaleup_domain_gpus": g.scaleup_domain_gpus,
        "pcie_bw_gb_per_s_bidir": g.pcie_bw_gb_per_s_bidir, "gpus_per_server": g.gpus_per_server,
        "geforce_eula": g.geforce_eula, "market": g.market, "aliases": list(g.aliases),
        "confidence": g.confidence, "source": g.source, "as_of": g.as_of, "notes": g.notes,
    })
    return rec


MODEL_LIST_COLUMNS = (
    "id", "name", "family", "params_b", "active_params_b", "n_layers", "hidden_size", "n_heads", "n_kv_heads",
    "head_dim", "attention", "n_experts", "n_experts_active", "max_context", "kv_bytes_per_token_fp16",
    "aliases", "confidence", "source", "as_of",
)


def model_record(m: Model) -> dict:
    return {
        "id": m.id, "name": m.name, "family": m.family, "params_b": m.params_b,
        "active_params_b": m.active_params_b, "n_layers": m.n_layers, "hidden_size": m.hidden_size,
        "n_heads": m.n_heads, "n_kv_heads": m.n_kv_heads, "head_dim": m.head_dim,
        "intermediate_size": m.intermediate_size, "vocab_size": m.vocab_size,
        "tied_embeddings": m.tied_embeddings, "attention": m.attention, "kv_lora_rank": m.kv_lora_rank,
        "qk_rope_head_dim": m.qk_rope_head_dim, "n_experts": m.n_experts, "n_experts_active": m.n_experts_active,
        "n_shared_experts": m.n_shared_experts, "moe_intermediate_size": m.moe_intermediate_size,
        "max_context": m.max_context,
        "kv_bytes_per_token_fp16": perf.kv_cache_bytes_per_token(m, 2.0),
        "aliases": list(m.aliases), "confidence": m.confidence, "source": m.source, "as_of": m.as_of,
        "notes": m.notes,
    }


PRECISION_LIST_COLUMNS = (
    "id", "kind", "weight_bits", "group_size", "group_overhead_bits", "bits_per_weight", "compute",
    "fallback_compute", "kv_capable", "unquantized", "aliases", "source", "as_of", "notes",
)


def precision_record(p: Precision) -> dict:
    return {
        "id": p.id, "kind": p.kind, "weight_bits": p.weight_bits, "group_size": p.group_size,
        "group_overhead_bits": p.group_overhead_bits, "bits_per_weight": p.bits_per_weight,
        "compute": p.compute, "fallback_compute": p.fallback_compute, "kv_capable": p.kv_capable, "unquantized": list(p.unquantized),
        "aliases": list(p.aliases), "source": p.source, "as_of": p.as_of, "notes": p.notes,
    }


def estimate_record(e: Estimate) -> dict:
    """The `planner estimate --format json` contract (keys may be added, none change meaning)."""
    d = e.deployment
    mem = e.memory
    gib = GIB
    return {
        "model": d.model.id,
        "gpu": d.gpu.id,
        "precision": d.precision.id,
        "kv_precision": d.kv_precision.id,
        "tp": d.tp,
        "pp": d.pp,
        "gpus": d.gpus,
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "batch": e.batch,
        "fits": e.fits,
        "max_batch": e.max_batch,
        "memory_per_gpu_gib": {
            "weights": mem.weights / gib,
            "kv_cache": mem.kv_cache / gib,
            "activations": mem.activations / gib,
            "overhead": mem.overhead / gib,
            "total": mem.total / gib,
            "capacity": mem.capacity / gib,
        },
        "mem_utilization": d.mem_utilization,
        "ttft_ms": e.ttft_s * 1e3,
        "tpot_ms": e.tpot_s * 1e3,
        "decode_tokens_per_s_per_request": e.decode_tokens_per_s_per_request,
        "output_tokens_per_s": e.output_tokens_per_s,
        "bottleneck": e.bottleneck,
        "decode_step_ms": _step_ms(e.decode_step),
        "prefill_ms": _step_ms(e.prefill),
        "sources": {
            "gpu": {"source": d.gpu.source, "as_of": d.gpu.as_of, "confidence": d.gpu.confidence},
            "model": {"source": d.model.source, "as_of": d.model.as_of},
            "precision": {"source": d.precision.source, "as_of": d.precision.as_of},
        },
    }


def _step_ms(step: perf.StepTime) -> dict:
    return {
        "memory": step.memory_s * 1e3,
        "compute": step.compute_s * 1e3,
        "communication": step.comm_s * 1e3,
        "overhead": step.overhead_s * 1e3,
        "total": step.total_s * 1e3,
    }


STALE_AFTER_DAYS = 183
"""Prices older than about six months get a warning."""


DEPLOYMENT_COLUMNS = (
    "pricing", "workload", "model", "gpu", "precision", "kv_precision", "tp", "replicas", "rental", "batch_cap",
    "context_tokens", "buckets", "latency_percentile", "ttft_ms", "tpot_ms", "e2e_ms", "capacity_qps",
    "capacity_qps_per_replica", "demand_qps", "output_tokens_per_s_per_replica", "utilization", "capacity_used",
    "mem_gib_per_gpu", "mem_capacity_gib_per_gpu", "chunk_tokens", "bottleneck", "candidate",
)


BOM_COLUMNS = ("pricing", "item", "category", "quantity", "unit", "unit_usd", "total_usd", "cost_kind", "source", "as_of")


def deployment_records(plan: Plan) -> list[dict]:
    """One record per deployment line. Latencies are at the workload's SLO percentile (50 for batch
    jobs) at the load the plan routes to the line, worst routed bucket; `buckets` lists the length
    buckets routed to it."""
    out = []
    for d in plan.deployments:
        c = d.candidate
        lat = plan.line_latencies.get(c.id, (c.ttft_s, c.tpot_s, c.e2e_s))
        out.append({
            "pricing": plan.pricing, "workload": c.workload, "model": c.model, "gpu": c.gpu, "precision": c.precision,
            "kv_precision": c.kv_precision, "tp": c.tp, "replicas": d.replicas, "batch_cap": c.batch,
            "context_tokens": c.context_tokens, "buckets": sorted(d.routes), "latency_percentile": c.percentile,
            "ttft_ms": lat[0] * 1e3, "tpot_ms": lat[1] * 1e3, "e2e_ms": lat[2] * 1e3, "capacity_qps": d.capacity_qps,
            "capacity_qps_per_replica": c.capacity_qps, "demand_qps": d.demand_qps,
            "output_tokens_per_s_per_replica": c.output_tokens_per_s, "utilization": d.utilization,
            "capacity_used": d.capacity_used,
            "mem_gib_per_gpu": c.mem_used_bytes / GIB, "mem_capacity_gib_per_gpu": c.mem_capacity_bytes / GIB,
            "chunk_tokens": c.chunk_tokens, "bottleneck": c.bottleneck, "candidate": c.id,
            "quality": quality_record(plan.quality.get(c.id)), "efficiency_factors": factors_record(plan, c.id),
        })
        if d.spot_replicas is not None:  # a spot plan: which of the replicas are on spot instances
            out[-1].update(rental=d.rental, spot_replicas=d.spot_replicas)
        if plan.periods > 1:
            out[-1]["replicas_by_hour"] = plan.solution.replicas_by_hour.get(c.id, [d.replicas] * plan.periods)
            if d.spot_replicas is not None:
                out[-1]["spot_replicas_by_hour"] = plan.solution.spot_replicas.get(c.id, [0] * plan.periods)
    return out


def workload_records(out: Outcome, plan: Plan) -> list[dict]:
    """The plan's promise per workload: its SLO, the predicted (and, when simulated, the simulated)
    percentiles, and the routing table a length-aware router needs."""
    sim = plan.simulation
    rows = []
    for w in out.resolved.workloads:
        mix = out.candidates.mixes[w.name]
        pred = plan.predicted.get(w.name)
        routing = []
        for d in plan.deployments:
            if d.candidate.workload != w.name:
                continue
            for b, share in sorted(d.routes.items()):
                bk = mix.buckets[b]
                routing.append({"bucket": {"index": b, "input_tokens": bk.input_tokens, "output_tokens": bk.output_tokens,
                                           "share": bk.share},
                                "deployment": d.candidate.id, "share_of_bucket": share / bk.share})
        routing.sort(key=lambda r: (r["bucket"]["index"], r["deployment"]))
        record = {"name": w.name, "lengths": mix.source, "arrival_cv": mix.arrival_cv,
                  "slo": pred["slo"] if pred else None, "predicted": pred["predicted"] if pred else None}
        if sim is not None and w.name in sim.workloads:
            r = sim.workloads[w.name]
            record["simulated"] = {"ttft_ms": r.ttft_ms, "tpot_ms": r.tpot_ms, "e2e_ms": r.e2e_ms,
                                   "attainment": r.attainment, "requests": r.requests, "peak_queue": r.peak_queue,
                                   "rejected": r.rejected}
        record["routing"] = routing
        rows.append(record)
    return rows


def simulation_record(plan: Plan) -> dict | None:
    sim = plan.simulation
    if sim is None:
        return None
    record = {"duration_s": sim.duration_s, "seed": sim.seed, "tolerance": SIM_TOLERANCE, "misses": sim.misses}
    return {**record, "not_simulated": sim.not_simulated} if sim.not_simulated else record


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
    return price_staleness(dates[0] if dates else None, today)


def price_staleness(oldest: str | None, today: dt.date) -> dict:
    """`oldest` (an ISO date or None) with the staleness warning `price_dates` gives."""
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
        "admissible": cs.deployments(),
        "admissible_batch_caps": cs.batch_caps(),
        # kept candidates are deployments too: dominance keeps at most one batch cap of each
        "dominated_dropped": cs.deployments() - len(kept),
        "lower_batch_caps_not_evaluated": cs.ladder_skipped, "kept": len(kept),
        "rejected": len(cs.rejections), "rejected_by_reason": reason_counts(cs.rejections),
    }


PLAN_FORMAT = "planner-plan/1"
"""Version of the plan JSON contract (`format`, the record's first key); raised when a key is removed or
changes meaning, so `planner export` and other readers can refuse a plan they do not understand."""


def outcome_record(out: Outcome, timings: bool, today: dt.date) -> dict:
    """The JSON contract of `planner solve`."""
    plans = []
    for p in out.plans:
        s = p.solution
        plans.append({
            "pricing": p.pricing,
            "status": s.status,
            "deployments": deployment_records(p),
            "workloads": workload_records(out, p),
            **({"simulation": simulation_record(p)} if p.simulation is not None else {}),
            **sensitivity_fields(out, p, timings),
            "hosts": [{"host": h.id, "kind": h.kind, "gpu": h.gpu, "gpus_per_host": h.slots, "count": n,
                       "label": h.label, "unit_capex_usd": h.capex_usd, "unit_monthly_usd": h.monthly_usd,
                       "source": h.source, "as_of": h.as_of,
                       **({"count_by_hour": s.hosts_by_hour[h.id]} if h.id in s.hosts_by_hour else {})}
                      for h, n in p.hosts],
            "placement": [{"host": label, "replicas": content,
                           **({"pcie_cards": p.placement_cards[label]} if label in p.placement_cards else {})}
                          for label, content in p.placement],
            **({"placement_hour": p.peak_hour} if p.peak_hour is not None else {}),
            "bom": [{k: v for k, v in r.items() if k != "pricing"} for r in bom_records(p)],
            **({"batch_runs": batch_run_records(p)} if p.runs else {}),
            "cost": {"capex_usd": p.capex_usd, "monthly_usd": p.monthly_usd, "horizon_months": p.horizon_months,
                     "total_usd": p.total_usd, "power_kw": p.power_kw,
                     **({"once_usd": p.once_usd} if p.runs else {}),
                     "depreciation_usd_per_month": depreciation_usd_per_month(p)},
            "unit_costs": unit_cost_record(out, p),
            "single_points_of_failure": spof_records(out, p), "resilience": resilience_records(out, p),
            **({"spot": spot_records(p)} if p.spot_hosts else {}),
            "solver": {"name": s.solver, "status": s.status, "seconds": s.seconds if timings else None,
                       "objective_usd": s.objective_usd, "bound_usd": s.bound_usd, "gap": s.gap,
                       "variables": s.n_variables, "constraints": s.n_constraints,
                       "models": s.models},
        })
    spec = out.resolved.spec
    statuses = {p["status"] for p in plans}
    record = {
        "format": PLAN_FORMAT,
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
        **({"robustness": r} if (r := robustness_record(out)) is not None else {}),
        **({"hybrid_savings_usd": {f"vs_{k}": v for k, v in savings.items()}}
           if (savings := out.hybrid_savings_usd) is not None else {}),
        "prices": price_dates(out.plans, today),
        "warnings": plan_warnings(out),
    }

    cmp = out.comparison
    return add_comparison(record, cmp) if cmp is not None else record


def plan_title(p: Plan, cur: Currency = USD) -> str:
    """The plan's heading with its cost, money in `cur`."""
    usd = cur.whole
    if p.pricing == "rent":
        return (f"Rent: {usd(p.monthly_usd)} per month{once_suffix(p, usd)} ({usd(p.total_usd)} over "
                f"{p.horizon_months} months)")
    kind = "Hybrid (buy a base, rent the rest by the hour)" if p.pricing == "hybrid" else "Buy"
    return (f"{kind}: {usd(p.capex_usd)} capex + {usd(p.monthly_usd)} per month{once_suffix(p, usd)} = {usd(p.total_usd)} over "
            f"{p.horizon_months} months")


def solver_line(p: Plan, timings: bool, cur: Currency = USD) -> str:
    usd = cur.whole
    s = p.solution
    t = f" in {s.seconds:.2f} s" if timings else ""
    bound = usd(s.bound_usd) if s.bound_usd is not None else "-"
    gap = f"{s.gap:.4%}" if s.gap is not None else "-"
    return (f"solver {s.solver}: {s.status}{t}; objective {usd(s.objective_usd)}, bound {bound}, gap {gap}; "
            f"{s.n_variables} variables, {s.n_constraints} constraints"
            + (f" (hour by hour: {s.models} models, one per distinct demand level)" if s.models > 1 else ""))


DEPLOY_TABLE = (("workload", "workload"), ("model", "model"), ("gpu", "GPU"), ("precision", "prec"), ("tp", "TP"),
                ("replicas", "replicas"), ("batch_cap", "batch"), ("buckets", "buckets"), ("latency_percentile", "pct"),
                ("ttft_ms", "TTFT ms"), ("tpot_ms", "TPOT ms"),
                ("output_tokens_per_s_per_replica", "tok/s each"), ("capacity_qps", "cap. QPS"),
                ("demand_qps", "demand QPS"), ("capacity_used", "cap. used"),
                ("mem_gib_per_gpu", "GiB/GPU"), ("bottleneck", "bottleneck"))


DEPLOY_CAPTION = ("TTFT, TPOT: at the SLO percentile (pct) at the load routed here, queueing included; "
                  "cap. QPS: requests/s the replicas take at max_utilization of their SLO capacity; "
                  "cap. used: the share of that capacity the routed demand takes; " + QUALITY_CAPTION)
PROMISE_TABLE = (("workload", "workload"), ("pct", "SLO pct"), ("what", "latency"), ("slo", "SLO ms"),
                 ("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("attained", "met by"))
PROMISE_CAPTION = ("predicted: the queueing model at the routed load, all length buckets; simulated: the serving "
                   "simulation; met by: share of simulated requests within the SLO")


def deployment_rows(plan: Plan) -> list[dict]:
    """Deployment records laid out for a table: buckets as a list, the percentile as pNN, shares as %,
    the precision with its quality figure, a mark on GPUs with default efficiency factors."""
    return [{**r, "capacity_used": f"{r['capacity_used']:.0%}", "latency_percentile": f"p{r['latency_percentile']}",
             "buckets": ",".join(str(b) for b in r["buckets"]) or "-",
             "precision": f"{r['precision']} {quality_cell(r['quality'])}",
             "gpu": r["gpu"] + factors_mark(r["efficiency_factors"])} for r in deployment_records(plan)]


def promise_rows(out: Outcome, plan: Plan) -> list[dict]:
    """Per online workload and latency: the SLO, predicted p50/p90/p99 and, when simulated, the simulated ones."""
    rows = []
    for w in workload_records(out, plan):
        if w["slo"] is None:
            continue
        slo = w["slo"]
        for what in ("ttft_ms", "tpot_ms", "e2e_ms"):
            limit = slo.get(what)
            kinds = [("predicted", w["predicted"])] + ([("simulated", w["simulated"])] if "simulated" in w else [])
            for kind, figures in kinds:
                f = figures[what]
                met = w["simulated"]["attainment"].get(what[:-3]) if kind == "simulated" else None
                rows.append({"workload": w["name"], "pct": f"p{slo['percentile']}", "what": f"{what[:-3].upper()} {kind}",
                             "slo": f"{limit:,.0f}" if limit is not None else "-",
                             **{k: (f"{v:,.1f}" if v is not None else "-") for k, v in f.items()},
                             "attained": f"{met:.1%}" if met is not None else ""})
    return rows


def simulation_lines(plan: Plan) -> list[str]:
    """The simulation's verdict in words (nothing when the plan was not simulated)."""
    sim = plan.simulation
    if sim is None:
        return []
    head = (f"simulation ({plan.pricing}): {sim.duration_s:g} s of peak traffic, seed {sim.seed}, every replica; "
            f"tolerance {SIM_TOLERANCE:.0%} over the SLO")
    notes = [f"note: {n}" for n in sim.not_simulated]
    if not sim.misses:
        return [head + f": every {'simulated ' if notes else ''}workload meets its SLO percentile", *notes]
    return [head + ":", *(f"warning: {m}" for m in sim.misses), *notes]


BOM_TABLE = (("item", "item"), ("quantity", "qty"), ("unit_usd", "unit $"), ("total_usd", "total $"),
             ("cost_kind", "kind"), ("as_of", "as of"), ("source", "source"))
BOM_MONEY = ("unit_usd", "total_usd")
"""The BOM table's money columns (US$ in the records; converted when a plan prints in another currency)."""


CANDIDATE_COLUMNS = (
    "workload", "status", "gpu", "precision", "tp", "batch_cap", "ttft_ms", "tpot_ms", "capacity_qps", "demand_qps",
    "coverage", "coverage_per_gpu", "buckets", "context_tokens", "mem_gib_per_gpu", "bottleneck", "reason", "detail",
    "id",
)


def candidate_records(cs: CandidateSet, include_rejected: bool = True) -> list[dict[str, Any]]:
    rows = []
    for c in cs.candidates:
        rows.append({
            "workload": c.workload, "status": "dominated" if c.dominated_by else "kept", "gpu": c.gpu,
            "precision": c.precision, "tp": c.tp, "batch_cap": c.batch, "ttft_ms": c.ttft_s * 1e3,
            "tpot_ms": c.tpot_s * 1e3, "capacity_qps": c.capacity_qps, "demand_qps": c.demand_qps,
            "coverage": c.coverage, "coverage_per_gpu": c.coverage_per_gpu, "buckets": list(c.buckets),
            "context_tokens": c.context_tokens,
            "mem_gib_per_gpu": c.mem_used_bytes / GIB, "bottleneck": c.bottleneck, "reason": None,
            "detail": f"dominated by {c.dominated_by}" if c.dominated_by else None, "id": c.id,
        })
    if include_rejected:
        for r in cs.rejections:
            rows.append({"workload": r.workload, "status": "rejected", "gpu": r.gpu, "precision": r.precision, "tp": r.tp,
                         "reason": r.reason, "detail": r.detail})
    return rows
