"""`planner sweep`: the optimal cost at each value of one input (an SLO, demand, the horizon)."""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli.common import (
    FORMATS,
    load_checked,
    parse_today,
    plan_options,
    progress_option,
    progress_printer,
    terminal_width,
)


@click.command("sweep")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vary", "vary", required=True, metavar="KEY=START:STOP:N|KEY=V1,V2,...",
              help="What to vary: slo.ttft_ms, slo.tpot_ms, slo.e2e_ms, demand (a multiplier) or horizon_months; "
                   "N evenly spaced values from START to STOP (both included), or a list.")
@click.option("--workload", metavar="NAME", help="Vary only this workload's SLO or demand (default: every workload).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write sweep.json, sweep.csv and the chart sweep.png here.")
@click.option("--jobs", type=click.IntRange(min=1, max=512), default=None,
              help="Solves at once on a local process pool (default: the CPU count; 1 = one after another).")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run the solves as Ray tasks on the cluster at ADDRESS (auto, ray://HOST:10001, or local to "
                   "start one here); needs planner[ray], and the workload file at the same path on every node.")
@plan_options
@progress_option
def sweep_cmd(file: Path, vary: str, workload: str | None, fmt: str, out_dir: Path | None, jobs: int | None,
              ray_address: str | None, solver: str, time_limit_s: float, timings: bool, today: str | None,
              catalog_file: Path | None, calibration: Path | None, progress: bool | None) -> None:
    """Solve FILE once per value of one input and show the optimal cost of each, with the knee.

    \b
    Examples:
      planner sweep problems/chat-rag-length-mix.yaml --vary slo.ttft_ms=200:2000:10
      planner sweep FILE --vary demand=0.5,1,2,4 --out sweep/
    """
    loaded = load_checked(file)
    day = parse_today(today)
    from planner.api import sweep
    from planner.report.csv_out import to_csv
    from planner.report.json_out import to_json
    from planner.report.records import price_staleness
    from planner.report.sweep_out import SWEEP_COLUMNS, knees, sweep_record, sweep_rows, table_rows
    from planner.report.terminal import console, render_table

    result = sweep(loaded, vary, workload=workload, solver=solver, time_limit_s=time_limit_s, today=day,
                   catalog_file=catalog_file, jobs=jobs, ray_address=ray_address,
                   progress=progress_printer(progress), calibration=calibration)
    spec, plan_sweep, points = loaded.spec, result.sweep, result.points
    record = sweep_record(spec.name, spec.objective, plan_sweep, points, timings)
    dates = sorted(p["oldest_price_as_of"] for pt in points for p in pt.plans if p["oldest_price_as_of"])
    record["prices"] = price_staleness(dates[0] if dates else None, day)
    if out_dir is not None:
        _write_files(out_dir, spec.name, result, record)
    if fmt == "json":
        click.echo(to_json(record), nl=False)
        return
    if fmt == "csv":
        click.echo(to_csv(SWEEP_COLUMNS, sweep_rows(plan_sweep, points)), nl=False)
        return
    width = terminal_width(160)
    con = console(width)
    who = f" (workload {plan_sweep.workload})" if plan_sweep.workload else ""
    con.print(f"[bold]{spec.name}[/bold]: {plan_sweep.key}{who} over {len(points)} values, objective {spec.objective}")
    columns, rows = table_rows(plan_sweep, points)
    con.print(render_table(f"Optimal cost by {plan_sweep.key}", columns, rows,
                           "$/month: cost over the horizon per month (capex spread over it); knee: where the "
                           "cost curve bends most (farthest from the chord of its ends)", width,
                           drop=[k for k, _ in columns[1:] if k.endswith("_gpus")]))
    for pricing, value in knees(points).items():
        con.print(f"knee ({pricing}): {plan_sweep.key} = {value:g}")
    if timings:
        con.print(f"solves: {sum(pt.seconds for pt in points):.1f} s in all")
    if record["prices"]["oldest_as_of"]:
        con.print(f"prices: oldest used {record['prices']['oldest_as_of']}")
    if record["prices"]["warning"]:
        con.print(f"[bold]warning:[/bold] {record['prices']['warning']}")


def _write_files(out_dir: Path, name: str, result, record: dict) -> None:
    from planner.report.csv_out import to_csv
    from planner.report.json_out import to_json
    from planner.report.sweep_out import SWEEP_CHART_FILE, SWEEP_COLUMNS, sweep_rows, write_sweep_chart

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sweep.json").write_text(to_json(record), encoding="utf-8")
    (out_dir / "sweep.csv").write_text(to_csv(SWEEP_COLUMNS, sweep_rows(result.sweep, result.points)),
                                       encoding="utf-8")
    try:
        write_sweep_chart(name, result.sweep, result.points, out_dir / SWEEP_CHART_FILE)
    except ImportError:
        click.echo("note: install planner[plot] for the chart (sweep.png)", err=True)
