"""`planner estimate` (one deployment, no optimisation) and `planner validate` (the model against
published measurements).
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli.common import calibration_option, terminal_width
from planner.errors import InputError, Problem


def _batch_option(value: str) -> int | None:
    if value.strip().lower() == "max":
        return None
    try:
        b = int(value)
    except ValueError:
        raise InputError(Problem(f"must be a positive integer or 'max' (got {value!r})", key="--batch")) from None
    if b < 1:
        raise InputError(Problem(f"must be >= 1 (got {b})", key="--batch"))
    return b


@click.command("estimate")
@click.option("--model", required=True, help="Catalogue id or alias, or a path to a Hugging Face config.json.")
@click.option("--gpu", required=True, help="Catalogue id or alias (case-insensitive), e.g. H100, a100-sxm-80gb.")
@click.option("--precision", default="fp16", show_default=True, help="Weight precision: fp32, fp16, bf16, fp8, int8, int8-wo, int4, ...")
@click.option("--kv-precision", help="KV-cache precision [default: fp8 for fp8 weights, bf16 for bf16, else fp16].")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="Tensor-parallel degree.")
@click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True, help="Pipeline-parallel degree.")
@click.option("--batch", default="max", show_default=True, help="Concurrent sequences, or 'max' for the largest that fits.")
@click.option("--input-tokens", type=click.IntRange(min=0), required=True, help="Prompt tokens per request.")
@click.option("--output-tokens", type=click.IntRange(min=1), required=True, help="Generated tokens per request.")
@click.option("--max-tpot-ms", type=click.FloatRange(min=0, min_open=True), help="With --batch max: largest batch whose TPOT stays under this.")
@click.option("--mem-utilization", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True, help="Fraction of GPU memory the engine may use.")
@click.option("--max-num-seqs", type=click.IntRange(min=1), default=256, show_default=True, help="Engine cap on concurrent sequences.")
@click.option("--engine", default="vllm", show_default=True, help="Inference engine (catalog/engines.csv): vllm, sglang, trtllm, lmdeploy, llama.cpp, hf, ...")
@calibration_option()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def estimate_cmd(model, gpu, precision, kv_precision, tp, pp, batch, input_tokens, output_tokens,
                 max_tpot_ms, mem_utilization, max_num_seqs, engine, calibration, fmt) -> None:
    """Memory, TTFT, TPOT, throughput and bottleneck of one deployment."""
    from planner import api
    from planner.report.json_out import to_json
    from planner.report.terminal import console, print_estimate

    b = _batch_option(batch)
    result = api.estimate(model, gpu, precision, kv_precision=kv_precision, tp=tp, pp=pp, batch=b,
                          input_tokens=input_tokens, output_tokens=output_tokens,
                          max_tpot_ms=max_tpot_ms or None, mem_utilization=mem_utilization,
                          max_num_seqs=max_num_seqs, engine=engine, calibration=calibration)
    e, eff = result.estimate, result.efficiency
    if fmt == "json":
        rec = result.to_record()
        rec["efficiency"] = {"family": eff.family, "bw_eff": eff.bw_eff, "decode_mfu": eff.decode_mfu,
                             "prefill_mfu": eff.prefill_mfu, "comm_eff": eff.comm_eff,
                             "step_overhead_ms": eff.step_overhead_ms, "source": eff.source, "as_of": eff.as_of,
                             **{k: v for k, v in result.factors.items() if k != "gpu_family"}}
        click.echo(to_json(rec), nl=False)
    else:
        label = (f"{eff.family} (bandwidth {eff.bw_eff:.0%}, decode MFU {eff.decode_mfu:.0%}, prefill MFU "
                 f"{eff.prefill_mfu:.0%}, link {eff.comm_eff:.0%}, {eff.step_overhead_ms:.2f} ms/step; {eff.source}); "
                 f"engine {result.factors['engine']} ({result.factors['engine_basis']} multipliers)")
        print_estimate(console(terminal_width(120)), e, label)


def _pct(fraction: float | None) -> str:
    """A fraction as a percentage; `n/a` where there is none (a summary of no rows, an error that
    is not a finite number)."""
    return "n/a" if fraction is None else f"{fraction:.1%}"


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--rows", "show_rows", is_flag=True, help="Also list every row's prediction and error.")
@calibration_option()
def validate_cmd(file: Path, fmt: str, show_rows: bool, calibration: Path | None) -> None:
    """Predict published measurements (calibration-format CSV) and report the model's error."""
    from planner import api
    from planner.report.json_out import to_json
    from planner.report.terminal import console, render_table

    rep = api.validate(file, calibration=calibration).report()
    if fmt == "json":
        click.echo(to_json(rep), nl=False)
        return
    con = console(terminal_width(140))
    rows = []
    engines = [(f"engine {e}", s, rep["naive_roofline"]["engines"][e]) for e, s in rep["engines"].items()]
    for name, s, naive in [*((n, s, rep["naive_roofline"]["groups"][n]) for n, s in rep["groups"].items()),
                           *((n, s, rep["naive_roofline"]["metrics"][n]) for n, s in rep["metrics"].items()),
                           *engines, ("overall", rep["overall"], rep["naive_roofline"]["overall"])]:
        rows.append({"what": name, "n": s["n"], "median": _pct(s["median_ape"]), "p90": _pct(s["p90_ape"]),
                     "naive_median": _pct(naive["median_ape"]), "naive_p90": _pct(naive["p90_ape"])})
    con.print(render_table(
        f"Absolute percentage error on {file}", (("what", "group / metric / engine"), ("n", "n"), ("median", "median"),
        ("p90", "p90"), ("naive_median", "naive median"), ("naive_p90", "naive p90")), rows,
        "naive = the seeds' roofline: datasheet bandwidth / weight bytes for decode, 50 % MFU for prefill and throughput",
        con.width))
    if show_rows:
        con.print(render_table("Rows", (("line", "line"), ("row", "row"), ("measured", "measured"),
                                        ("predicted", "predicted"), ("ape", "APE"), ("naive_predicted", "naive")),
                               [{**r, "ape": _pct(r["ape"])} for r in rep["rows"]], width=con.width))
    if rep["skipped"]:
        con.print(render_table(f"Skipped rows ({len(rep['skipped'])})",
                               (("line", "line"), ("row", "row"), ("reason", "why")), rep["skipped"], width=con.width))
