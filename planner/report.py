"""Rendering: tables for people (rich), JSON and CSV for programs. Deterministic: stable order and
fixed float formats, so the same input prints byte-identical output."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from planner import perf
from planner.catalog import Gpu, Model, Precision
from planner.estimate import Estimate

FLOAT_DIGITS = 4


def clean(value: Any) -> Any:
    """Round floats to fixed digits (and NaN/inf to None) recursively, for stable JSON."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, FLOAT_DIGITS)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(clean(v) for v in value)
    return value


def to_json(data: Any) -> str:
    return json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n"


def to_csv(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_cell(r.get(k)) for k in columns})
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.{FLOAT_DIGITS}g}" if math.isfinite(v) else ""
    if isinstance(v, (list, tuple)):
        return ";".join(str(x) for x in v)
    if v is None:
        return ""
    return v


def console(width: int = 120) -> Console:
    """A console whose output does not depend on the terminal (fixed width, no colour when piped)."""
    return Console(width=width, highlight=False, soft_wrap=False)


def render_table(title: str, columns: Sequence[tuple[str, str]], rows: Iterable[dict], caption: str | None = None) -> Table:
    """A rich table; `columns` are (key, header) pairs, numbers right-aligned."""
    t = Table(title=title, caption=caption, show_lines=False)
    rows = list(rows)
    for key, header in columns:
        numeric = any(isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool) for r in rows)
        t.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        t.add_row(*(_fmt(r.get(k)) for k, _ in columns))
    return t


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


# ---------------------------------------------------------------------------------------------
# Catalogue listings
# ---------------------------------------------------------------------------------------------

GPU_LIST_COLUMNS = (
    "id", "name", "vendor", "family", "mem_gb", "mem_bw_gb_per_s", "fp16_tflops", "bf16_tflops", "fp8_tflops",
    "int8_tops", "int4_tops", "tdp_w", "scaleup_kind", "scaleup_bw_gb_per_s_bidir", "scaleup_domain_gpus",
    "gpus_per_server", "geforce_eula", "market", "aliases", "confidence", "source", "as_of",
)


def gpu_record(g: Gpu) -> dict:
    rec = {
        "id": g.id, "name": g.name, "vendor": g.vendor, "family": g.family, "architecture": g.architecture,
        "form_factor": g.form_factor, "mem_gb": g.mem_gb, "mem_bw_gb_per_s": g.mem_bw_gb_per_s,
    }
    for compute, col in (("fp32", "fp32_tflops"), ("fp16", "fp16_tflops"), ("bf16", "bf16_tflops"),
                         ("fp8", "fp8_tflops"), ("int8", "int8_tops"), ("int4", "int4_tops")):
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
    "kv_capable", "unquantized", "aliases", "source", "as_of", "notes",
)


def precision_record(p: Precision) -> dict:
    return {
        "id": p.id, "kind": p.kind, "weight_bits": p.weight_bits, "group_size": p.group_size,
        "group_overhead_bits": p.group_overhead_bits, "bits_per_weight": p.bits_per_weight,
        "compute": p.compute, "kv_capable": p.kv_capable, "unquantized": list(p.unquantized),
        "aliases": list(p.aliases), "source": p.source, "as_of": p.as_of, "notes": p.notes,
    }


# ---------------------------------------------------------------------------------------------
# Estimates
# ---------------------------------------------------------------------------------------------


def estimate_record(e: Estimate) -> dict:
    """The `planner estimate --format json` contract (keys may be added, none change meaning)."""
    d = e.deployment
    mem = e.memory
    gib = perf.GIB
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
        con.print(f"TPOT {r['tpot_ms']:.2f} ms = decode step {r['decode_step_ms']['total']:.2f} + prefills of the other "
                  f"{e.batch - 1} sequences interleaved ({e.batch - 1} / {e.output_tokens} x {r['prefill_ms']['total']:.1f} ms)")
    s = r["prefill_ms"]
    con.print(f"Prefill {s['total']:.1f} ms = compute {s['compute']:.1f} + memory {s['memory']:.1f} "
              f"+ communication {s['communication']:.1f} + overhead {s['overhead']:.1f}")
    con.print(f"Efficiency factors: {eff_label}. GPU figures: {d.gpu.source} (as of {d.gpu.as_of}, "
              f"confidence {d.gpu.confidence}).", soft_wrap=True)
