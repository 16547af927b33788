"""`planner candidates`, `planner solve` and `planner compare`: the chain from a workload file to plans.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from planner.cli.common import (
    FORMATS,
    load_checked,
    parse_today,
    plan_options,
    progress_option,
    progress_printer,
    shipped_catalog,
    calibration_option,
    simulation_options,
    terminal_width,
    write_plan_files,
)
from planner.text import count_of


@click.command("candidates")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--rejected/--no-rejected", default=False, show_default=True,
              help="Also list the rejected (workload, GPU, precision, TP) combinations with their reasons.")
@click.option("--ladder", is_flag=True,
              help="Evaluate every batch cap of the ladder (1, 2, 4, ... up to the largest admissible), not only the largest.")
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Your price catalogue (YAML) merged over the shipped price tables; candidates use no prices, "
                   "so it is only checked here (see catalog/README-prices.md).")
@calibration_option()
@progress_option
def candidates_cmd(file: Path, fmt: str, rejected: bool, ladder: bool, catalog_file: Path | None,
                   calibration: Path | None, progress: bool | None) -> None:
    """Every deployment the performance model admits for each workload, and why others fail."""
    loaded = load_checked(file)  # before importing the optimiser: bad input is reported at once
    from planner.catalog.price_file import merge_catalog_file
    from planner.catalog.prices import load_prices
    from planner.catalog.resolve import resolve
    from planner.optimize import candidates as cand_mod
    from planner.optimize import measured
    from planner.report.csv_out import to_csv
    from planner.report.json_out import to_json
    from planner.report.records import (
        CANDIDATE_COLUMNS,
        candidate_records,
        candidate_summary,
    )
    from planner.report.terminal import console, render_table

    cat = shipped_catalog(calibration)
    res = resolve(loaded, cat)
    if catalog_file is not None:
        merge_catalog_file(load_prices(), catalog_file, cat.gpus.rows)
    say = progress_printer(progress) or (lambda line: None)
    say(f"candidates: {count_of(len(res.workloads), 'workload')} ...")
    t0 = time.perf_counter()
    cs = measured.generate(res, ladder=ladder)
    say(f"candidates: {len(cs.kept()):,} kept of {cs.deployments():,} admissible in {time.perf_counter() - t0:.1f} s")
    rows = candidate_records(cs, include_rejected=rejected or fmt != "table")
    if fmt == "json":
        click.echo(to_json({"name": res.spec.name, "summary": candidate_summary(cs),
                            "candidates": rows}), nl=False)
        return
    if fmt == "csv":
        click.echo(to_csv(CANDIDATE_COLUMNS, rows), nl=False)
        return
    con = console(terminal_width(160))
    for w in res.workloads:
        kept = sorted((c for c in cs.kept() if c.workload == w.name), key=lambda c: (-c.coverage_per_gpu, c.id))
        rej = cs.rejections_for(w.name)
        counts = ", ".join(f"{k} {v}" for k, v in cand_mod.reason_counts(rej).items()) or "none"
        n_all = cs.deployments(w.name)
        table_rows = [r for r in candidate_records(cs, False) if r["workload"] == w.name and r["status"] == "kept"]
        order = {c.id: i for i, c in enumerate(kept)}
        table_rows.sort(key=lambda r: order[r["id"]])
        con.print(render_table(
            f"{w.name} ({w.model.id}): {len(kept)} kept of {n_all} admissible deployments "
            f"({n_all - len(kept)} dominated); "
            f"rejected {len(rej)}: {counts}",
            (("gpu", "GPU"), ("precision", "prec"), ("tp", "TP"), ("batch_cap", "batch"), ("ttft_ms", "TTFT ms"),
             ("tpot_ms", "TPOT ms"), ("capacity_qps", "cap. QPS"), ("coverage", "coverage"),
             ("coverage_per_gpu", "per GPU"), ("mem_gib_per_gpu", "GiB/GPU"), ("bottleneck", "bottleneck")),
            table_rows, "coverage = share of the workload's demand one replica serves", con.width))
        if rejected:
            con.print(render_table(f"{w.name}: rejected", (("gpu", "GPU"), ("precision", "prec"), ("tp", "TP"),
                                                           ("reason", "reason"), ("detail", "detail")),
                                   [r for r in rows if r["workload"] == w.name and r["status"] == "rejected"],
                                   width=con.width))


@click.command("solve")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"], case_sensitive=False),
              default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write plan.json, plan.md, deployments.csv, bom.csv and report.html (one page with "
                   "tables and charts) to this directory (and cumulative_cost.png for objective: compare).")
@plan_options
@click.option("--simulate", "simulate", is_flag=True,
              help="Also simulate every replica of the plan at the peak (see `planner simulate`).")
@simulation_options
@click.option("--sensitivity", "sensitivity", is_flag=True,
              help="Also, per plan, its fleet held fixed and simulated at demand x1.2, x1.5 and performance x0.8 "
                   "(every step time / 0.8), the cost of re-solving for each, and the demand multiplier at which "
                   "the fleet first misses an SLO (bisection; uses --seed).")
@click.option("--sensitivity-duration-s", type=click.FloatRange(min=10.0, max=86_400.0), default=120.0,
              show_default=True, help="Seconds of peak traffic each sensitivity simulation runs.")
@progress_option
def solve_cmd(file: Path, fmt: str, solver: str, time_limit_s: float, out_dir: Path | None, timings: bool,
              today: str | None, catalog_file: Path | None, calibration: Path | None, simulate: bool,
              duration_s: float, seed: int, sensitivity: bool, sensitivity_duration_s: float,
              progress: bool | None) -> None:
    """Cheapest fleet meeting every workload's SLO: deployments, bill of materials, cost."""
    _solve_and_render(file, fmt, solver, time_limit_s, out_dir, timings, today, catalog_file,
                      duration_s if simulate else None, seed, progress, calibration,
                      sensitivity_duration_s if sensitivity else None)


@click.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"], case_sensitive=False),
              default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write plan.json, plan.md, deployments.csv, bom.csv and report.html (one page with "
                   "tables and charts) to this directory.")
@plan_options
@simulation_options
@progress_option
def simulate_cmd(file: Path, fmt: str, solver: str, time_limit_s: float, out_dir: Path | None, timings: bool,
                 today: str | None, catalog_file: Path | None, calibration: Path | None, duration_s: float,
                 seed: int, progress: bool | None) -> None:
    """Solve FILE, then simulate every replica of the plan under its traffic: p50/p90/p99 of TTFT,
    TPOT and end-to-end latency per workload, SLO attainment and peak queue, against the prediction.

    Iteration-level: continuous batching with chunked prefill, the engine's max_num_seqs and KV
    budget, step times from the performance model; arrivals Poisson (or the trace's own, or the
    workload's arrival_cv); lengths from the workload's mix; routed as the plan says. Seeded."""
    _solve_and_render(file, fmt, solver, time_limit_s, out_dir, timings, today, catalog_file, duration_s, seed,
                      progress, calibration)


def _solve_and_render(file: Path, fmt: str, solver: str, time_limit_s: float, out_dir: Path | None, timings: bool,
                      today: str | None, catalog_file: Path | None, simulate_s: float | None, seed: int,
                      progress: bool | None = None, calibration: Path | None = None,
                      sensitivity_s: float | None = None) -> None:
    day = parse_today(today)
    loaded = load_checked(file)  # before importing the solver: bad input is reported at once
    from planner import api
    from planner.report.csv_out import outcome_csv
    from planner.report.json_out import outcome_json
    from planner.report.markdown import outcome_markdown
    from planner.report.terminal import print_outcome

    out = api.plan(loaded, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file,
                   today=day, simulate_s=simulate_s, seed=seed, progress=progress_printer(progress),
                   calibration=calibration, sensitivity=sensitivity_s is not None,
                   **({"sensitivity_duration_s": sensitivity_s} if sensitivity_s is not None else {})).outcome
    if out_dir is not None:
        write_plan_files(out, out_dir, timings, day)
    if fmt == "json":
        click.echo(outcome_json(out, timings, day), nl=False)
    elif fmt == "csv":
        click.echo(outcome_csv(out), nl=False)
    elif fmt == "markdown":
        click.echo(outcome_markdown(out, timings, day), nl=False)
    else:
        print_outcome(out, timings, day, terminal_width(160))


@click.command("compare")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"], case_sensitive=False),
              default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write plan.json, plan.md, compare.md, deployments.csv, bom.csv, cumulative_cost.png "
                   "and report.html (one page with tables and charts) to this directory.")
@plan_options
@progress_option
def compare_cmd(file: Path, fmt: str, solver: str, time_limit_s: float, out_dir: Path | None, timings: bool,
                today: str | None, catalog_file: Path | None, calibration: Path | None, progress: bool | None) -> None:
    """Rent or buy: both plans side by side, cumulative cost by month, break-even, utilisation threshold.

    Solves FILE as `objective: compare` whatever its objective says.
    """
    day = parse_today(today)
    loaded = load_checked(file)  # before importing the solver: bad input is reported at once
    from planner import api
    from planner.report.json_out import outcome_json
    from planner.report.markdown import comparison_markdown
    from planner.report.terminal import print_comparison

    result = api.compare(loaded, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=day,
                         progress=progress_printer(progress), calibration=calibration)
    out, cmp = result.outcome, result.comparison
    if cmp is None:
        raise RuntimeError("objective compare gave no rent and buy plan pair")
    if out_dir is not None:
        write_plan_files(out, out_dir, timings, day)
        (out_dir / "compare.md").write_text(comparison_markdown(out, cmp, timings, day),
                                            encoding="utf-8")
    if fmt == "json":
        click.echo(outcome_json(out, timings, day), nl=False)
    elif fmt == "markdown":
        click.echo(comparison_markdown(out, cmp, timings, day), nl=False)
    else:
        print_comparison(out, cmp, timings, day, terminal_width(160), file_objective=loaded.spec.objective)
