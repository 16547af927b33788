"""`planner catalog gpus|models|precisions`: the shipped catalogue, every row with its source and date.
"""

from __future__ import annotations

import click

from planner.cli.common import FORMATS, shipped_catalog, terminal_width


@click.group("catalog")
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
    from planner.report.records import GPU_LIST_COLUMNS, gpu_record

    cat = shipped_catalog()
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
    records = [gpu_record(g) for g in sorted(gpus, key=lambda g: g.id)]
    _emit_listing(fmt, "GPUs", records, GPU_LIST_COLUMNS, (
        ("id", "id"), ("mem_gb", "GB"), ("mem_bw_gb_per_s", "GB/s"), ("fp16_tflops", "FP16"),
        ("fp8_tflops", "FP8"), ("int8_tops", "INT8"), ("int4_tops", "INT4"), ("nvfp4_tflops", "NVFP4"),
        ("mxfp4_tflops", "MXFP4"), ("tdp_w", "W"),
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
    from planner.report.records import MODEL_LIST_COLUMNS, model_record

    cat = shipped_catalog()
    models = list(cat.models.rows.values())
    if family:
        models = [m for m in models if m.family == family.lower()]
    if max_params_b is not None:
        models = [m for m in models if m.params_b <= max_params_b]
    if moe is not None:
        models = [m for m in models if m.is_moe == moe]
    records = [model_record(m) for m in sorted(models, key=lambda m: m.id)]
    _emit_listing(fmt, "Models", records, MODEL_LIST_COLUMNS, (
        ("id", "id"), ("params_b", "params B"), ("active_params_b", "active B"), ("n_layers", "layers"),
        ("n_heads", "heads"), ("n_kv_heads", "KV heads"), ("head_dim", "head dim"), ("attention", "attn"),
        ("n_experts", "experts"), ("max_context", "context"), ("kv_bytes_per_token_fp16", "KV B/token fp16"),
    ), "Architectures from each model's Hugging Face config.json; sources: --format csv or json.")


@catalog_group.command("precisions")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def catalog_precisions(fmt: str) -> None:
    """Weight and KV precisions: bits per weight with group scales, compute format, what stays 16-bit."""
    from planner.report.records import PRECISION_LIST_COLUMNS, precision_record

    cat = shipped_catalog()
    records = [precision_record(p) for p in sorted(cat.precisions.rows.values(), key=lambda p: p.id)]
    _emit_listing(fmt, "Precisions", records, PRECISION_LIST_COLUMNS, (
        ("id", "id"), ("kind", "kind"), ("bits_per_weight", "bits/weight"), ("compute", "computes in"),
        ("fallback_compute", "elsewhere"),
        ("kv_capable", "KV format"), ("unquantized", "kept 16-bit"), ("aliases", "aliases"),
    ), "A GPU runs a precision natively when its catalogue row has a dense figure for the compute format.")


@catalog_group.command("engines")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def catalog_engines(fmt: str) -> None:
    """Inference engines: whether prompts ride the decode steps, and their fitted factor multipliers."""
    cat = shipped_catalog()
    records = []
    for e in cat.engines.rows.values():
        f = cat.engine_factors_for(e)
        records.append({"id": e.id, "name": e.name, "batches_prefill": e.batches_prefill, "basis": f.basis,
                        "rows": f.rows, "step_overhead_factor": f.step_overhead_factor,
                        "decode_mfu_factor": f.decode_mfu_factor, "prefill_mfu_factor": f.prefill_mfu_factor,
                        "aliases": ";".join(e.aliases), "source": e.source, "as_of": e.as_of})
    cols = ("id", "name", "batches_prefill", "basis", "rows", "step_overhead_factor", "decode_mfu_factor",
            "prefill_mfu_factor", "aliases", "source", "as_of")
    _emit_listing(fmt, "Engines", records, cols, (
        ("id", "id"), ("name", "name"), ("batches_prefill", "prompts ride decode steps"), ("basis", "factors"),
        ("rows", "rows"), ("step_overhead_factor", "overhead x"), ("decode_mfu_factor", "decode MFU x"),
        ("prefill_mfu_factor", "prefill MFU x"),
    ), "catalog/engines.csv and catalog/engine_factors.csv (tools/fit_efficiency.py); multipliers over the GPU "
       "family's efficiency factors.")


def _emit_listing(fmt: str, title: str, records: list[dict], csv_cols, table_cols, caption: str) -> None:
    from planner.report.csv_out import to_csv
    from planner.report.json_out import to_json
    from planner.report.terminal import console, render_table

    if fmt == "json":
        click.echo(to_json(records), nl=False)
    elif fmt == "csv":
        click.echo(to_csv(csv_cols, records), nl=False)
    else:
        width = terminal_width(120)
        console(width).print(render_table(f"{title} ({len(records)})", table_cols, records, caption, width))
