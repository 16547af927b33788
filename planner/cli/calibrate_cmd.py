"""`planner calibrate`: refit the efficiency factors on your own benchmark results."""

from __future__ import annotations

import time
from pathlib import Path

import click

from planner.cli.common import calibration_option, parse_today, progress_option, progress_printer, terminal_width


@click.command("calibrate")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the overlay file (efficiency.csv's columns) that --calibration FILE reads.")
@click.option("--model", help="Model of result files that do not name one (catalogue id, alias or HF id).")
@click.option("--gpu", help="GPU of result files that do not state one (catalogue id or alias).")
@click.option("--precision", help="Weight precision of result files that do not state one (fp16, bf16, fp8, ...).")
@click.option("--kv-precision", help="KV-cache precision [default: the precision's engine default].")
@click.option("--tp", type=click.IntRange(min=1), help="Tensor-parallel degree of result files that do not state one.")
@click.option("--pp", type=click.IntRange(min=1), help="Pipeline-parallel degree [default: 1].")
@click.option("--engine", help="Serving engine, a label recorded in the overlay's notes (e.g. vllm-0.11).")
@click.option("--max-num-seqs", type=click.IntRange(min=1), help="Engine cap on concurrent sequences [default: 256].")
@calibration_option("Factors to start from and to compare against (a previous overlay); default: the shipped ones.")
@click.option("--today", metavar="YYYY-MM-DD", help="As-of date written in the overlay. Default: today.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--rows", "show_rows", is_flag=True, help="Also list every row's prediction before and after.")
@progress_option
def calibrate_cmd(results: tuple[Path, ...], out_file: Path | None, model, gpu, precision, kv_precision, tp, pp,
                  engine, max_num_seqs, calibration: Path | None, today: str | None, fmt: str, show_rows: bool,
                  progress: bool | None) -> None:
    """Refit the efficiency factors on RESULTS and print the error before and after.

    RESULTS: `vllm bench serve --save-result` JSON files, GuideLLM benchmark reports (JSON), or
    measurements CSV files (the columns of catalog/measured/calibration.csv). A result file's GPU,
    precision and TP come from the options, from the file (vLLM `--metadata gpu=... tp=...`), or from
    a sidecar `<file stem>.deployment.yaml` next to it, the last winning.
    """
    from planner import api
    from planner.report.calibration import print_calibration
    from planner.report.json_out import to_json
    from planner.report.terminal import console

    day = parse_today(today)
    say = progress_printer(progress) or (lambda line: None)
    say(f"calibrate: reading and refitting {len(results)} file(s) ...")
    t0 = time.perf_counter()
    result = api.calibrate(list(results), model=model, gpu=gpu, precision=precision, kv_precision=kv_precision,
                           tp=tp, pp=pp, engine=engine, max_num_seqs=max_num_seqs, calibration=calibration, today=day)
    record = result.to_record()
    say(f"calibrate: {len(record['families'])} GPU famil{'y' if len(record['families']) == 1 else 'ies'} refitted "
        f"in {time.perf_counter() - t0:.1f} s")
    if out_file is not None:
        result.write(out_file)
    if fmt == "json":
        click.echo(to_json({**record, "written": str(out_file) if out_file else None}), nl=False)
        return
    print_calibration(console(terminal_width(140)), record, show_rows, str(out_file) if out_file else None)
