"""Tables for people in a terminal (rich): estimates, plans, comparisons, listings. The caller picks
the width (the terminal's, COLUMNS, or a fixed one when piped) and no colour is used when piped, so
piped output does not depend on the terminal. Tables fit that width without breaking a word
(`planner.report.table_fit`): wide ones leave out their least important columns and say so.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from planner.money.compare import Comparison
from planner.report.batch_records import RUN_CAPTION, RUN_TABLE, batch_cost_lines, batch_run_rows, once_suffix
from planner.optimize.plan import Outcome
from planner.perf.estimate import Estimate
from planner.perf.memory import reported_memory_gib
from planner.report.comparison import (
    EVERY_MONTH_UP_TO,
    break_even_text,
    cumulative_caption,
    cumulative_rows,
    cumulative_title,
    depreciation_caption,
    depreciation_words,
    side_by_side_rows,
    threshold_text,
    verdict,
)
from planner.report.currency import currency_line, plan_currency, rate_staleness
from planner.report.failure_out import plan_warnings
from planner.report.format import fmt_cell, short
from planner.report.sensitivity_out import (
    SENSITIVITY_CAPTION,
    SENSITIVITY_TABLE,
    robustness_line,
    sensitivity_lines,
    sensitivity_rows,
)
from planner.report.table_fit import fitted_table
from planner.report.unit_costs import UNIT_CAPTION, UNIT_DROP, UNIT_MONEY, UNIT_TABLE, unit_cost_rows
from planner.report.spot_out import spot_lines, with_rental
from planner.report.records import (
    DEPLOY_TABLE,
    STALE_AFTER_DAYS,
    BOM_MONEY,
    BOM_TABLE,
    DEPLOY_CAPTION,
    bom_records,
    candidate_summary,
    PROMISE_CAPTION,
    PROMISE_TABLE,
    deployment_rows,
    promise_rows,
    simulation_lines,
    estimate_record,
    plan_title,
    price_dates,
    solver_line,
)
from planner.text import count_of


def console(width: int = 120) -> Console:
    """A console whose output does not depend on the terminal (fixed width, no colour when piped)."""
    return Console(width=width, highlight=False, soft_wrap=False)


DEPLOY_DROP = ("output_tokens_per_s_per_replica", "mem_gib_per_gpu", "buckets", "batch_cap", "bottleneck",
               "demand_qps", "capacity_qps", "latency_percentile", "model")
"""Columns of the deployment table a narrow terminal loses first (workload, GPU, precision, TP,
replicas, TTFT, TPOT and the share of capacity used always stay)."""
PROMISE_DROP = ("p50", "p99", "pct")
BOM_DROP = ("source", "cost_kind", "unit_usd")


def render_table(title: str, columns: Sequence[tuple[str, str]], rows: Iterable[dict], caption: str | None = None,
                 width: int = 120, drop: Sequence[str] | None = None) -> Table:
    """A rich table within `width` characters; `columns` are (key, header) pairs, numbers right-aligned;
    `drop`: keys a narrow terminal may leave out, least important first (default: from the last column
    back to the second)."""
    rows = list(rows)
    keys = [k for k, _ in columns]
    right = [i for i, k in enumerate(keys)
             if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows)]
    order = list(range(len(keys) - 1, 0, -1)) if drop is None else [keys.index(k) for k in drop if k in keys]
    cells = [[fmt_cell(r.get(k)) for k in keys] for r in rows]
    return fitted_table(title, [h for _, h in columns], cells, width, right=right, drop_order=order, caption=caption)


def print_estimate(con: Console, e: Estimate, eff_label: str) -> None:
    r = estimate_record(e)
    d = e.deployment
    mem = r["memory_per_gpu_gib"]
    head = (
        f"{d.model.name} on {d.tp * d.pp} x {d.gpu.name}, {d.precision.id} weights, "
        f"{d.kv_precision.id} KV, TP={d.tp}" + (f", PP={d.pp}" if d.pp > 1 else "")
    )
    con.print(f"[bold]{head}[/bold]")
    con.print(f"Requests: {e.input_tokens} tokens in, {e.output_tokens} out; batch {e.batch} "
              f"(largest that fits: {e.max_batch})")
    verdict = "fits" if e.fits else "does NOT fit"
    t = Table(title=f"Memory per GPU (GiB): {verdict}", show_header=True)
    for col in ("weights", "KV cache", "activations", "overhead", "total", "usable capacity"):
        t.add_column(col, justify="right")
    t.add_row(*(f"{mem[k]:.2f}" for k in ("weights", "kv_cache", "activations", "overhead", "total", "capacity")))
    con.print(t)
    basis = "defaulted rule" if d.gpu.mem_reported_note.startswith("defaulted") else "sourced"
    con.print(f"Usable capacity = {d.mem_utilization:g} x {reported_memory_gib(d.gpu):g} GiB the driver reports "
              f"({basis}, catalog/gpu_memory_reported.csv)", soft_wrap=True)
    p = Table(title="Performance", show_header=True)
    for col in ("TTFT ms", "TPOT ms", "tokens/s per request", "output tokens/s (replica)", "bottleneck"):
        p.add_column(col, justify="right")
    p.add_row(f"{r['ttft_ms']:.1f}", f"{r['tpot_ms']:.2f}", f"{r['decode_tokens_per_s_per_request']:.1f}",
              f"{r['output_tokens_per_s']:,.0f}", r["bottleneck"])
    con.print(p)
    s = r["decode_step_ms"]
    con.print(f"Decode step {s['total']:.2f} ms = max(memory {s['memory']:.2f}, compute {s['compute']:.2f}) "
              f"+ communication {s['communication']:.2f} + overhead {s['overhead']:.2f}")
    if e.batch > 1:
        pre = r["prefill_ms"]
        added, what = ((pre["compute"] + pre["communication"], "compute + communication; the decode step reads the weights")
                       if e.deployment.batches_prefill else (pre["total"], "whole passes"))
        con.print(f"TPOT {r['tpot_ms']:.2f} ms = decode step {r['decode_step_ms']['total']:.2f} + the prompts of the other "
                  f"{e.batch - 1} sequences riding the steps ({e.batch - 1} / {e.output_tokens} x {added:.1f} ms: {what})")
    s = r["prefill_ms"]
    con.print(f"Prefill {s['total']:.1f} ms = compute {s['compute']:.1f} + memory {s['memory']:.1f} "
              f"+ communication {s['communication']:.1f} + overhead {s['overhead']:.1f}")
    con.print(f"Efficiency factors: {eff_label}. GPU figures: {d.gpu.source} (as of {d.gpu.as_of}, "
              f"confidence {d.gpu.confidence}).", soft_wrap=True)


def print_outcome(out: Outcome, timings: bool, today: dt.date, width: int = 160) -> None:
    con = console(width)
    spec = out.resolved.spec
    cur = plan_currency(out)
    usd = cur.whole
    summary = candidate_summary(out.candidates)
    con.print(f"[bold]{spec.name}[/bold]: objective {spec.objective}, {count_of(len(spec.workloads), 'workload')}")
    if (robust := robustness_line(out)) is not None:
        con.print(robust)
    for p in out.plans:
        con.print()
        rows = deployment_rows(p)
        con.print(render_table(plan_title(p, cur), with_rental(DEPLOY_TABLE, p), rows, DEPLOY_CAPTION, con.width,
                               DEPLOY_DROP))
        for line in spot_lines(p):
            con.print(line, markup=False)
        promise = promise_rows(out, p)
        if promise:
            con.print(render_table(f"SLO percentiles ({p.pricing})", PROMISE_TABLE, promise, PROMISE_CAPTION,
                                   con.width, PROMISE_DROP))
        for line in simulation_lines(p):
            con.print(line)
        sens = sensitivity_rows(out, p)
        if sens:
            con.print(render_table(f"Sensitivity ({p.pricing})", SENSITIVITY_TABLE, sens, SENSITIVITY_CAPTION, con.width))
        for line in sensitivity_lines(p, timings):
            con.print(line)
        if p.runs:
            con.print(render_table(f"Batch runs ({p.pricing})", RUN_TABLE, batch_run_rows(p), RUN_CAPTION, con.width))
            for line in batch_cost_lines(p, usd):
                con.print(line)
        bom = cur.rows(({**r, "source": short(r["source"])} for r in bom_records(p)), BOM_MONEY)
        con.print(render_table(f"Bill of materials ({p.pricing})", cur.headers(BOM_TABLE, BOM_MONEY), bom,
                               "full sources: --format json or --out DIR (bom.csv)", con.width, BOM_DROP))
        con.print(render_table(f"Unit costs ({p.pricing})", cur.headers(UNIT_TABLE, UNIT_MONEY),
                               cur.rows(unit_cost_rows(out, p), UNIT_MONEY), cur.caption(UNIT_CAPTION),
                               con.width, UNIT_DROP))
        dep = depreciation_words(p, out.comparison, cur)
        con.print(f"cost: capex {usd(p.capex_usd)}, monthly {usd(p.monthly_usd)}{once_suffix(p, usd)}, "
                  f"{p.horizon_months}-month total {usd(p.total_usd)}; facility power {p.power_kw:.2f} kW{dep}")
        con.print(solver_line(p, timings, cur))
    by_reason = ", ".join(f"{k} {v}" for k, v in summary["rejected_by_reason"].items()) or "none"
    con.print(f"candidates: {summary['admissible']:,} admissible deployments ({summary['admissible_batch_caps']:,} "
              f"batch caps), {summary['dominated_dropped']} dominated dropped before the MILP, {summary['kept']} kept; "
              f"rejected {summary['rejected']} ({by_reason})")
    savings = out.hybrid_savings_usd
    if savings is not None:
        con.print("hybrid saves " + ", ".join(f"{usd(v)} over all-{k}" for k, v in savings.items())
                  + f" across {spec.horizon_months} months (negative: costs more)")
    cmp = out.comparison
    if cmp is not None:
        for line in (break_even_text(cmp, cur), *threshold_text(cmp, cur)):
            con.print(line)
    _print_dates(con, out, today)


def _print_dates(con: Console, out: Outcome, today: dt.date) -> None:
    """The oldest price, the currency and its rate, and their staleness warnings."""
    prices = price_dates(out.plans, today)
    if prices["oldest_as_of"]:
        con.print(f"prices: oldest used {prices['oldest_as_of']}")
    if prices["warning"]:
        con.print(f"[bold]warning:[/bold] {prices['warning']}")
    for warning in plan_warnings(out):
        con.print(f"[bold]warning:[/bold] {warning}")
    cur = plan_currency(out)
    line = currency_line(cur)
    if line:
        con.print(line, soft_wrap=True)
    stale = rate_staleness(cur, today, STALE_AFTER_DAYS)
    if stale:
        con.print(f"[bold]warning:[/bold] {stale}")


def _rich_table(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]], width: int,
                right: tuple[int, ...] = (), caption: str | None = None) -> Table:
    return fitted_table(title, headers, rows, width, right=right, caption=caption,
                        drop_order=range(len(headers) - 1, 0, -1))


def print_comparison(out: Outcome, cmp: Comparison, timings: bool, today: dt.date, width: int = 160,
                     file_objective: str | None = None) -> None:
    """The `planner compare` table output."""

    con = console(width)
    spec = out.resolved.spec
    cur = plan_currency(out)
    note = f" (the file says objective {file_objective})" if file_objective not in (None, "compare") else ""
    con.print(f"[bold]{spec.name}[/bold]: rent or buy over {cmp.horizon_months} months, "
              f"{count_of(len(spec.workloads), 'workload')}{note}")
    con.print()
    con.print(_rich_table("Plans", ("", "rent", "buy"), side_by_side_rows(cmp, timings, cur), con.width,
                          caption=depreciation_caption(cmp)))
    step = "" if cmp.horizon_months <= EVERY_MONTH_UP_TO else ", every 3rd month"
    con.print(_rich_table(f"{cumulative_title(cmp)}{step}", ("month", "rent", "buy", "buy - rent", "cheaper"),
                          cumulative_rows(cmp, cur), con.width, right=(0, 1, 2, 3), caption=cumulative_caption(cmp)))
    con.print(verdict(cmp, cur))
    con.print(break_even_text(cmp, cur))
    for line in threshold_text(cmp, cur):
        con.print(line)
    _print_dates(con, out, today)
