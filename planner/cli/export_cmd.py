"""`planner export`: a plan (a plan JSON, or a workload file solved first) as engine launch scripts
or Kubernetes manifests, benchmark scripts and a router file.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from planner.cli.common import calibration_option, parse_today, progress_option, progress_printer


@click.command("export")
@click.argument("source", metavar="PLAN.json|FILE.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "to", type=click.Choice(["vllm", "sglang", "k8s"]), required=True,
              help="vllm or sglang: a launch script per deployment; k8s: a Deployment and Service per deployment. "
                   "Each also writes benchmark scripts, router.yaml and README.md.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the files to this directory (default: print them all to stdout).")
@click.option("--plan", "pricing", type=click.Choice(["rent", "buy", "hybrid"]),
              help="Which plan of a file that has several (default: the objective's own; for compare the "
                   "one cheaper over the horizon).")
@click.option("--engine", type=click.Choice(["vllm", "sglang"]), default=None,
              help="Engine the Kubernetes containers run (--to k8s; default vllm).")
@click.option("--image", help="Container image for --to k8s (default: a vLLM or SGLang image per GPU vendor).")
@click.option("--bench-duration-s", type=click.FloatRange(min=10.0, max=86_400.0), default=600.0, show_default=True,
              help="Seconds of planned peak traffic each benchmark script sends.")
@click.option("--solver", type=click.Choice(["highs", "scip"]), default="highs", show_default=True,
              help="MILP solver when FILE is a workload file.")
@click.option("--time-limit-s", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Solver time limit when FILE is a workload file.")
@click.option("--today", metavar="YYYY-MM-DD", help="As `planner solve --today` (workload files only).")
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Your price catalogue merged over the shipped one (workload files only).")
@calibration_option()
@progress_option
def export_cmd(source: Path, to: str, out_dir: Path | None, pricing: str | None, engine: str | None,
               image: str | None, bench_duration_s: float, solver: str, time_limit_s: float, today: str | None,
               catalog_file: Path | None, calibration: Path | None, progress: bool | None) -> None:
    """Deployment files for a plan: engine launch commands or Kubernetes manifests, benchmark
    commands that replay each deployment's planned load against its SLO, and the routing table.

    SOURCE is a plan JSON written by `planner solve --format json` (or the plan.json of `--out DIR`),
    or a workload YAML file, which is solved first."""
    from planner import api
    from planner.report.export_files import as_stream

    result = api.export(source if source.suffix.lower() == ".json" else api.load(source), to=to, pricing=pricing,
                        engine=engine, image=image, bench_duration_s=bench_duration_s, solver=solver,
                        time_limit_s=time_limit_s, catalog_file=catalog_file, calibration=calibration,
                        today=parse_today(today), progress=progress_printer(progress))
    if out_dir is None:
        click.echo(as_stream(result.files), nl=False)
        return
    for rel, text in result.files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if rel.endswith(".sh"):
            os.chmod(path, 0o755)
    click.echo(f"wrote {len(result.files)} files to {out_dir} (see {out_dir / 'README.md'})")
