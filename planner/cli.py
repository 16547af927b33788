"""Command line: parse -> call -> render -> exit code. No formulas here.

Exit codes: 0 ok, 1 internal bug, 2 bad input, 3 infeasible, 4 solver limit with no plan.
Tracebacks only with --debug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from planner import report
from planner.catalog import Catalog, load_catalog
from planner.errors import EXIT_BUG, EXIT_INPUT, InputError, PlannerError, Problem

FORMATS = click.Choice(["table", "json", "csv"], case_sensitive=False)


class _State:
    debug = False


def _catalog() -> Catalog:
    return load_catalog()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="planner")
def cli(debug: bool) -> None:
    """Plan LLM inference deployments: which GPUs, which precision, how split, how many."""
    _State.debug = debug


# ---------------------------------------------------------------------------------------------
# planner catalog
# ---------------------------------------------------------------------------------------------


@cli.group("catalog")
def catalog_group() -> None:
    """List the shipped catalogue (every row with its source and as-of date)."""


@catalog_group.command("gpus")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--vendor", help="Only this vendor (NVIDIA, AMD, Intel).")
@click.option("--family", help="Only this architecture family (e.g. hopper, ada).")
@click.option("--market", type=click.Choice(["global", "china"]), help="Only GPUs sold in this market.")
@click.option("--min-mem-gb", type=float, help="Only GPUs with at least this much memory.")
@click.option("--datacenter-only", is_flag=True, help="Drop GeForce cards (their driver licence forbids datacentres).")
@click.option("--supports", "supports", help="Only GPUs that run this compute precision natively (e.g. fp8).")
def catalog_gpus(fmt: str, vendor: str | None, family: str | None, market: str | None,
                 min_mem_gb: float | None, datacenter_only: bool, supports: str | None) -> None:
    """GPUs: memory, bandwidth, dense TFLOPS per precision, interconnect, licence, market."""
    cat = _catalog()
    gpus = list(cat.gpus.rows.values())
    if vendor:
        gpus = [g for g in gpus if g.vendor.lower() == vendor.lower()]
    if family:
        gpus = [g for g in gpus if g.family == family.lower()]
    if market:
        gpus = [g for g in gpus if g.market == market]
    if min_mem_gb is not None:
        gpus = [g for g in gpus if g.mem_gb >= min_mem_gb]
    if datacenter_only:
        gpus = [g for g in gpus if not g.geforce_eula]
    if supports:
        compute = cat.precision(supports).compute
        gpus = [g for g in gpus if g.supports(compute)]
    records = [report.gpu_record(g) for g in sorted(gpus, key=lambda g: g.id)]
    _emit_listing(fmt, "GPUs", records, report.GPU_LIST_COLUMNS, (
        ("id", "id"), ("mem_gb", "GB"), ("mem_bw_gb_per_s", "GB/s"), ("fp16_tflops", "FP16"),
        ("fp8_tflops", "FP8"), ("int8_tops", "INT8"), ("int4_tops", "INT4"), ("tdp_w", "W"),
        ("scaleup_kind", "link"), ("scaleup_domain_gpus", "TP max"), ("market", "market"),
        ("geforce_eula", "GeForce"), ("as_of", "as of"),
    ), "Tensor figures are dense (never with sparsity), TFLOPS/TOPS. Sources: --format csv or json.")


@catalog_group.command("models")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--family", help="Only this family (llama, qwen, mistral, ...).")
@click.option("--max-params-b", type=float, help="Only models with at most this many billion parameters.")
@click.option("--moe/--dense", "moe", default=None, help="Only mixture-of-experts (or only dense) models.")
def catalog_models(fmt: str, family: str | None, max_params_b: float | None, moe: bool | None) -> None:
    """Models: parameters, layers, heads, KV heads, attention type, experts, context."""
    cat = _catalog()
    models = list(cat.models.rows.values())
    if family:
        models = [m for m in models if m.family == family.lower()]
    if max_params_b is not None:
        models = [m for m in models if m.params_b <= max_params_b]
    if moe is not None:
        models = [m for m in models if m.is_moe == moe]
    records = [report.model_record(m) for m in sorted(models, key=lambda m: m.id)]
    _emit_listing(fmt, "Models", records, report.MODEL_LIST_COLUMNS, (
        ("id", "id"), ("params_b", "params B"), ("active_params_b", "active B"), ("n_layers", "layers"),
        ("n_heads", "heads"), ("n_kv_heads", "KV heads"), ("head_dim", "head dim"), ("attention", "attn"),
        ("n_experts", "experts"), ("max_context", "context"), ("kv_bytes_per_token_fp16", "KV B/token fp16"),
    ), "Architectures from each model's Hugging Face config.json; sources: --format csv or json.")


@catalog_group.command("precisions")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def catalog_precisions(fmt: str) -> None:
    """Weight and KV precisions: bits per weight with group scales, compute format, what stays 16-bit."""
    cat = _catalog()
    records = [report.precision_record(p) for p in sorted(cat.precisions.rows.values(), key=lambda p: p.id)]
    _emit_listing(fmt, "Precisions", records, report.PRECISION_LIST_COLUMNS, (
        ("id", "id"), ("kind", "kind"), ("bits_per_weight", "bits/weight"), ("compute", "computes in"),
        ("kv_capable", "KV format"), ("unquantized", "kept 16-bit"), ("aliases", "aliases"),
    ), "A GPU runs a precision natively when its catalogue row has a dense figure for the compute format.")


def _emit_listing(fmt: str, title: str, records: list[dict], csv_cols, table_cols, caption: str) -> None:
    if fmt == "json":
        click.echo(report.to_json(records), nl=False)
    elif fmt == "csv":
        click.echo(report.to_csv(csv_cols, records), nl=False)
    else:
        report.console().print(report.render_table(f"{title} ({len(records)})", table_cols, records, caption))


# ---------------------------------------------------------------------------------------------
# planner estimate
# ---------------------------------------------------------------------------------------------


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


@cli.command("estimate")
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def estimate_cmd(model, gpu, precision, kv_precision, tp, pp, batch, input_tokens, output_tokens,
                 max_tpot_ms, mem_utilization, max_num_seqs, fmt) -> None:
    """Memory, TTFT, TPOT, throughput and bottleneck of one deployment."""
    from planner.estimate import evaluate, resolve_deployment

    cat = _catalog()
    b = _batch_option(batch)
    d = resolve_deployment(cat, model, gpu, precision, kv_precision, tp, pp, mem_utilization, max_num_seqs)
    eff = cat.efficiency_for(d.gpu)
    e = evaluate(d, eff, input_tokens, output_tokens, batch=b,
                 max_tpot_s=max_tpot_ms / 1e3 if max_tpot_ms else None)
    if fmt == "json":
        rec = report.estimate_record(e)
        rec["efficiency"] = {"family": eff.family, "bw_eff": eff.bw_eff, "decode_mfu": eff.decode_mfu,
                             "prefill_mfu": eff.prefill_mfu, "comm_eff": eff.comm_eff,
                             "step_overhead_ms": eff.step_overhead_ms, "source": eff.source, "as_of": eff.as_of}
        click.echo(report.to_json(rec), nl=False)
    else:
        label = (f"{eff.family} (bandwidth {eff.bw_eff:.0%}, decode MFU {eff.decode_mfu:.0%}, prefill MFU "
                 f"{eff.prefill_mfu:.0%}, link {eff.comm_eff:.0%}, {eff.step_overhead_ms:.2f} ms/step; {eff.source})")
        report.print_estimate(report.console(), e, label)


# ---------------------------------------------------------------------------------------------
# planner validate
# ---------------------------------------------------------------------------------------------


@cli.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--rows", "show_rows", is_flag=True, help="Also list every row's prediction and error.")
def validate_cmd(file: Path, fmt: str, show_rows: bool) -> None:
    """Predict published measurements (calibration-format CSV) and report the model's error."""
    from planner.calibration import validate_file

    if not file.exists():
        raise InputError(Problem("no such file", file=str(file)))
    rep = validate_file(_catalog(), file).report()
    if fmt == "json":
        click.echo(report.to_json(rep), nl=False)
        return
    con = report.console(140)
    rows = []
    for name, s in [*rep["groups"].items(), *rep["metrics"].items(), ("overall", rep["overall"])]:
        naive = rep["naive_roofline"]["groups"].get(name) or rep["naive_roofline"]["metrics"].get(name) \
            or (rep["naive_roofline"]["overall"] if name == "overall" else None)
        rows.append({"what": name, "n": s["n"], "median": f"{s['median_ape']:.1%}", "p90": f"{s['p90_ape']:.1%}",
                     "naive_median": f"{naive['median_ape']:.1%}", "naive_p90": f"{naive['p90_ape']:.1%}"})
    con.print(report.render_table(
        f"Absolute percentage error on {file}", (("what", "group / metric"), ("n", "n"), ("median", "median"),
        ("p90", "p90"), ("naive_median", "naive median"), ("naive_p90", "naive p90")), rows,
        "naive = the seeds' roofline: datasheet bandwidth / weight bytes for decode, 50 % MFU for prefill and throughput",
    ))
    if show_rows:
        con.print(report.render_table("Rows", (("line", "line"), ("row", "row"), ("measured", "measured"),
                                               ("predicted", "predicted"), ("ape", "APE"), ("naive_predicted", "naive")),
                                      [{**r, "ape": f"{r['ape']:.1%}"} for r in rep["rows"]]))
    if rep["skipped"]:
        con.print(report.render_table(f"Skipped rows ({len(rep['skipped'])})",
                                      (("line", "line"), ("row", "row"), ("reason", "why")), rep["skipped"]))


# ---------------------------------------------------------------------------------------------
# planner candidates / planner solve
# ---------------------------------------------------------------------------------------------


def _today(value: str | None):
    import datetime as dt

    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(Problem(f"not a date: {value!r}", key="--today", expected="YYYY-MM-DD")) from None


@cli.command("candidates")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--rejected/--no-rejected", default=False, show_default=True,
              help="Also list the rejected (workload, GPU, precision, TP) combinations with their reasons.")
@click.option("--ladder", is_flag=True,
              help="Evaluate every batch cap of the ladder (1, 2, 4, ... up to the largest admissible), not only the largest.")
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Your price catalogue (YAML) merged over the shipped price tables; candidates use no prices, "
                   "so it is only checked here (see catalog/README-prices.md).")
def candidates_cmd(file: Path, fmt: str, rejected: bool, ladder: bool, catalog_file: Path | None) -> None:
    """Every deployment the performance model admits for each workload, and why others fail."""
    from planner import candidates as cand_mod
    from planner import plan_report
    from planner.loader import load_spec
    from planner.prices import load_prices, merge_catalog_file
    from planner.resolve import resolve

    cat = _catalog()
    res = resolve(load_spec(file), cat)
    if catalog_file is not None:
        merge_catalog_file(load_prices(), catalog_file, cat.gpus.rows)
    cs = cand_mod.generate(res, ladder=ladder)
    rows = plan_report.candidate_records(cs, include_rejected=rejected or fmt != "table")
    if fmt == "json":
        click.echo(report.to_json({"name": res.spec.name, "summary": plan_report.candidate_summary(cs),
                                   "candidates": rows}), nl=False)
        return
    if fmt == "csv":
        click.echo(report.to_csv(plan_report.CANDIDATE_COLUMNS, rows), nl=False)
        return
    con = report.console(160)
    for w in res.workloads:
        kept = sorted((c for c in cs.kept() if c.workload == w.name), key=lambda c: (-c.coverage_per_gpu, c.id))
        rej = cs.rejections_for(w.name)
        counts = ", ".join(f"{k} {v}" for k, v in cand_mod.reason_counts(rej).items()) or "none"
        n_all = len(cs.for_workload(w.name))
        table_rows = [r for r in plan_report.candidate_records(cs, False) if r["workload"] == w.name and r["status"] == "kept"]
        order = {c.id: i for i, c in enumerate(kept)}
        table_rows.sort(key=lambda r: order[r["id"]])
        con.print(report.render_table(
            f"{w.name} ({w.model.id}): {len(kept)} kept of {n_all} evaluated ({n_all - len(kept)} dominated); "
            f"rejected {len(rej)}: {counts}",
            (("gpu", "GPU"), ("precision", "prec"), ("tp", "TP"), ("batch_cap", "batch"), ("ttft_ms", "TTFT ms"),
             ("tpot_ms", "TPOT ms"), ("capacity_qps", "cap. QPS"), ("coverage", "coverage"),
             ("coverage_per_gpu", "per GPU"), ("mem_gib_per_gpu", "GiB/GPU"), ("bottleneck", "bottleneck")),
            table_rows, "coverage = share of the workload's demand one replica serves"))
        if rejected:
            con.print(report.render_table(f"{w.name}: rejected", (("gpu", "GPU"), ("precision", "prec"), ("tp", "TP"),
                                                                 ("reason", "reason"), ("detail", "detail")),
                                          [r for r in rows if r["workload"] == w.name and r["status"] == "rejected"]))


def _plan_options(fn):
    """Options `solve` and `compare` share: solver, time limit, timings, staleness date, price catalogue."""
    for option in reversed((
        click.option("--solver", type=click.Choice(["highs", "scip"]), default="highs", show_default=True,
                     help="MILP solver (both through OR-Tools MathOpt)."),
        click.option("--time-limit-s", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
                     help="Stop the solver after this many seconds (the best plan found is reported with its gap)."),
        click.option("--timings/--no-timings", default=True, show_default=True,
                     help="Report solver seconds (--no-timings makes the output byte-identical between runs)."),
        click.option("--today", help="Date the price-staleness warning is computed against, and the as-of date of "
                                     "the workload file's costs: (YYYY-MM-DD; default today)."),
        click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Your price catalogue (YAML) merged over the shipped price tables "
                          "(see catalog/README-prices.md)."),
    )):
        fn = option(fn)
    return fn


@cli.command("solve")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"], case_sensitive=False),
              default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write plan.json, plan.md, deployments.csv and bom.csv to this directory "
                   "(and cumulative_cost.png for objective: compare).")
@_plan_options
def solve_cmd(file: Path, fmt: str, solver: str, time_limit_s: float, out_dir: Path | None, timings: bool,
              today: str | None, catalog_file: Path | None) -> None:
    """Cheapest fleet meeting every workload's SLO: deployments, bill of materials, cost."""
    from planner import plan_report
    from planner.plan import solve_file

    day = _today(today)
    out = solve_file(file, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=day)
    if out_dir is not None:
        _write_plan_files(out, out_dir, timings, day)
    if fmt == "json":
        click.echo(plan_report.outcome_json(out, timings, day), nl=False)
    elif fmt == "csv":
        click.echo(plan_report.outcome_csv(out), nl=False)
    elif fmt == "markdown":
        click.echo(plan_report.outcome_markdown(out, timings, day), nl=False)
    else:
        plan_report.print_outcome(out, timings, day)


# ---------------------------------------------------------------------------------------------
# planner compare
# ---------------------------------------------------------------------------------------------


def _write_plan_files(out, out_dir: Path, timings: bool, day) -> None:
    """--out DIR: plan.json, plan.md, deployments.csv, bom.csv, and the cost chart for compare."""
    from planner import plan_report

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").write_text(plan_report.outcome_json(out, timings, day), encoding="utf-8")
    (out_dir / "plan.md").write_text(plan_report.outcome_markdown(out, timings, day), encoding="utf-8")
    (out_dir / "deployments.csv").write_text(plan_report.outcome_csv(out), encoding="utf-8")
    (out_dir / "bom.csv").write_text(plan_report.bom_csv(out), encoding="utf-8")
    _write_chart(out, out_dir)


def _write_chart(out, out_dir: Path) -> None:
    """Write cumulative_cost.png for an `objective: compare` outcome; without matplotlib, say how to
    get it (stderr) and carry on."""
    from planner import compare_report

    cmp = compare_report.comparison_of(out)
    if cmp is None:
        return
    try:
        compare_report.write_chart(cmp, out.resolved.spec.name, out_dir / compare_report.CHART_FILE)
    except ImportError:
        click.echo(f"note: matplotlib is not installed, so {compare_report.CHART_FILE} was not written: "
                   f"{compare_report.CHART_MISSING}", err=True)


@cli.command("compare")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"], case_sensitive=False),
              default="table", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write plan.json, plan.md, compare.md, deployments.csv, bom.csv and cumulative_cost.png "
                   "to this directory.")
@_plan_options
def compare_cmd(file: Path, fmt: str, solver: str, time_limit_s: float, out_dir: Path | None, timings: bool,
                today: str | None, catalog_file: Path | None) -> None:
    """Rent or buy: both plans side by side, cumulative cost by month, break-even, utilisation threshold.

    Solves FILE as `objective: compare` whatever its objective says.
    """
    import dataclasses

    from planner import compare_report, plan_report
    from planner.loader import load_spec
    from planner.plan import solve_loaded

    day = _today(today)
    loaded = load_spec(file)
    file_objective = loaded.spec.objective
    loaded = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"objective": "compare"}))
    out = solve_loaded(loaded, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=day)
    cmp = compare_report.comparison_of(out)
    if cmp is None:
        raise RuntimeError("objective compare gave no rent and buy plan pair")
    if out_dir is not None:
        _write_plan_files(out, out_dir, timings, day)
        (out_dir / "compare.md").write_text(compare_report.comparison_markdown(out, cmp, timings, day),
                                            encoding="utf-8")
    if fmt == "json":
        click.echo(plan_report.outcome_json(out, timings, day), nl=False)
    elif fmt == "markdown":
        click.echo(compare_report.comparison_markdown(out, cmp, timings, day), nl=False)
    else:
        compare_report.print_comparison(out, cmp, timings, day, file_objective=file_objective)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map PlannerError to its exit code, anything else to exit 1 (bug)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="planner", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_BUG
    except click.ClickException as exc:
        exc.show()
        return EXIT_INPUT if exc.exit_code == 2 else exc.exit_code
    except PlannerError as exc:
        if debug:
            raise
        for line in exc.lines():
            click.echo(f"error: {line}", err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("This is a bug in planner. Re-run with --debug for the traceback and report it.", err=True)
        return EXIT_BUG
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
