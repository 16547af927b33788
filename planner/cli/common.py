"""What the commands share: output formats, the catalogue, the `--today` date, the options of
`solve` and `compare`, and the `--out` files.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from planner.errors import InputError, Problem

if TYPE_CHECKING:
    from planner.catalog.store import Catalog

FORMATS = click.Choice(["table", "json", "csv"], case_sensitive=False)


MIN_COLUMNS = 40
"""Narrowest table width used: a smaller COLUMNS is taken as this."""


def terminal_width(default: int) -> int:
    """Characters per line for tables: COLUMNS when it is set to a number (at least MIN_COLUMNS), else
    the terminal's width when stdout is a terminal, else `default`, so piped output is the same on
    every machine."""
    value = os.environ.get("COLUMNS", "").strip()
    if value.isdigit():
        return max(MIN_COLUMNS, int(value))
    if sys.stdout.isatty():
        return max(MIN_COLUMNS, shutil.get_terminal_size((default, 24)).columns)
    return default


def shipped_catalog(calibration: Path | None = None) -> Catalog:
    """The shipped catalogue, with a calibration overlay (`--calibration FILE`) when given."""
    from planner.catalog.store import load_catalog

    return load_catalog().with_calibration(calibration)


def load_checked(file: Path):
    """The workload file at `file` as a LoadedSpec, its GPU, model and precision names checked
    against the shipped catalogue in the same pass as the schema, so one run reports an unknown
    name beside every other problem (resolve checks them again; they then pass)."""
    from planner.catalog.resolve import name_check
    from planner.spec.loader import load_spec

    return load_spec(file, names=name_check(shipped_catalog()))


def parse_today(value: str | None):

    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(Problem(f"not a date: {value!r}", key="--today", expected="YYYY-MM-DD")) from None


CALIBRATION_HELP = ("Efficiency factors refitted on your own benchmarks (`planner calibrate --out FILE`), "
                    "applied over the shipped ones, GPU family by family.")


def calibration_option(help_text: str = CALIBRATION_HELP):
    """--calibration FILE: an overlay of efficiency factors."""
    return click.option("--calibration", "calibration", type=click.Path(dir_okay=False, path_type=Path),
                        metavar="FILE", help=help_text)


def plan_options(fn):
    """Options `solve`, `simulate` and `compare` share: solver, time limit, timings, staleness
    date, price catalogue, calibration overlay."""
    for option in reversed((
        click.option("--solver", type=click.Choice(["highs", "scip"]), default="highs", show_default=True,
                     help="MILP solver (both through OR-Tools MathOpt)."),
        click.option("--time-limit-s", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
                     help="Stop the solver after this many seconds (the best plan found is reported with its gap)."),
        click.option("--timings/--no-timings", default=True, show_default=True,
                     help="Report solver seconds (--no-timings makes the output byte-identical between runs)."),
        click.option("--today", metavar="YYYY-MM-DD",
                     help="Date to judge price staleness against; also the as-of date of prices given in the "
                          "workload file's costs: section. Default: today."),
        click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Your price catalogue (YAML) merged over the shipped price tables "
                          "(see catalog/README-prices.md)."),
        calibration_option(),
    )):
        fn = option(fn)
    return fn


def progress_option(fn):
    """--progress/--no-progress: a line on stderr per step (default: when stderr is a terminal)."""
    return click.option("--progress/--no-progress", "progress", default=None,
                        help="A line on stderr per step: candidates, each solve, each simulation. "
                             "Default: on when stderr is a terminal.")(fn)


def progress_printer(progress: bool | None):
    """The callback that prints progress lines on stderr, or None when they are off."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    return lambda line: click.echo(f"planner: {line}", err=True)


def simulation_options(fn):
    """Options of the serving simulation: how long, and the seed."""
    for option in reversed((
        click.option("--duration-s", type=click.FloatRange(min=10.0, max=86_400.0), default=600.0, show_default=True,
                     help="Seconds of peak traffic to simulate (the first tenth is warm-up, not counted)."),
        click.option("--seed", type=click.IntRange(min=0, max=2**31 - 1), default=0, show_default=True,
                     help="Seed of the simulated arrivals, lengths and routing (same seed, same figures)."),
    )):
        fn = option(fn)
    return fn


def write_plan_files(out, out_dir: Path, timings: bool, day) -> None:
    """--out DIR: plan.json, plan.md, deployments.csv, bom.csv, report.html (tables and charts on one
    self-contained page), and the cost chart (cumulative_cost.png) for compare. Without matplotlib
    the page has no charts and the PNG is not written: one note on stderr says how to get them."""
    from planner.report.csv_out import bom_csv, outcome_csv
    from planner.report.html import REPORT_FILE, outcome_html
    from planner.report.html_charts import have_matplotlib
    from planner.report.json_out import outcome_json
    from planner.report.markdown import outcome_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").write_text(outcome_json(out, timings, day), encoding="utf-8")
    (out_dir / "plan.md").write_text(outcome_markdown(out, timings, day), encoding="utf-8")
    (out_dir / "deployments.csv").write_text(outcome_csv(out), encoding="utf-8")
    (out_dir / "bom.csv").write_text(bom_csv(out), encoding="utf-8")
    (out_dir / REPORT_FILE).write_text(outcome_html(out, timings, day), encoding="utf-8")
    if have_matplotlib():
        _write_chart(out, out_dir)
    else:
        from planner.report.chart import CHART_FILE

        missing = f"{CHART_FILE} was not written and {REPORT_FILE} has no charts" if out.comparison is not None \
            else f"{REPORT_FILE} has no charts"
        click.echo(f"note: matplotlib is not installed, so {missing}: install planner[plot] for the charts", err=True)


def _write_chart(out, out_dir: Path) -> None:
    """Write cumulative_cost.png for an `objective: compare` outcome."""
    from planner.report.chart import CHART_FILE, write_chart

    cmp = out.comparison
    if cmp is None:
        return
    from planner.report.currency import plan_currency

    write_chart(cmp, out.resolved.spec.name, out_dir / CHART_FILE, plan_currency(out))
