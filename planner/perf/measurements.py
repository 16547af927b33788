"""Rows of a measurements file (the columns of `catalog/measured/calibration.csv`) made predictable:
each row's model, GPU, precision, parallelism, batch or request rate and lengths resolved through
the catalogue into a `Case` (its free-text `engine` cell, an optional column, mapped to an engine
of `catalog/engines.csv`; vLLM where none matches), or skipped with the reason. Every number a row states is bounded (batch
and concurrency <= 1 million, request rates in [1e-6, 1e6] per second, lengths <= 10 million tokens,
ExLlamaV2 bits per weight in (0, 16]), so no prediction overflows or divides by zero. `planner
validate` (`planner.perf.calibration`) predicts the cases.

Rows are read by the catalogue's CSV reader (`planner.catalog.tables._read_csv`): a malformed file
(a repeated column, a row with more or fewer cells than the header, a cell past the field limit) is
an input error located at its line.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

from planner.catalog.engines import engine_for_text
from planner.catalog.precisions import Precision
from planner.catalog.store import Catalog
from planner.catalog.tables import read_csv
from planner.errors import InputError, PlannerError
from planner.perf.estimate import Deployment, check_deployment
from planner.perf.memory import DEFAULT_MEM_UTILIZATION, default_max_num_batched_tokens, default_max_num_seqs
from planner.spec.values import MAX_QPS, MAX_TOKENS, MIN_QPS

REQUIRED_COLUMNS = (
    "model", "gpu", "num_gpus", "tp", "pp", "precision_weights", "precision_kv",
    "batch_size_or_concurrency", "input_len", "output_len", "metric", "value",
)

METRIC_GROUPS = {
    "decode_tokens_per_s_per_request": "batch-1 decode",
    "tpot_ms": "batch-1 decode",
    "output_throughput_tokens_per_s_total": "max throughput",
    "output_throughput_tokens_per_s_per_gpu": "max throughput",
    "total_throughput_tokens_per_s": "max throughput",
    "ttft_ms": "TTFT / prefill",
    "prefill_tokens_per_s": "TTFT / prefill",
    "kv_cache_tokens": "memory",
    "kv_cache_gib_per_gpu": "memory",
    "weights_gib_per_gpu": "memory",
    "activation_gib_per_gpu": "memory",
    "nontorch_gib_per_gpu": "memory",
}
"""Each metric's group; the accuracy bar is stated per group. The memory metrics are the figures of
an engine's start-up log (`catalog/measured/memory.csv`): the KV-cache tokens of the whole replica
and, per GPU, the KV-cache, weight, activation-peak and non-torch GiB."""

MEMORY_METRICS = tuple(m for m, g in METRIC_GROUPS.items() if g == "memory")

PARAMS_PATTERN = re.compile(r"\[params:([^\]]*)\]")
"""Engine settings in a row's notes: `[params: gpu_memory_utilization=0.95; max_model_len=8192]`."""

ENGINE_SETTINGS = ("gpu_memory_utilization", "max_model_len", "max_num_seqs", "max_num_batched_tokens")
"""Settings a memory row may give, as a column of their own or in the notes' `[params: ...]`."""

ASSUMED_UNSTATED_OUTPUT_TOKENS = 128
"""Generation length assumed where a decode-speed row does not state one (llama.cpp overview rows);
decode speed varies little with it at short contexts."""

ASSUMED_UNSTATED_INPUT_TOKENS = 0
"""Prompt length assumed where a decode-speed row does not state one."""

MAX_BATCH_PATTERN = re.compile(r"^(\d+)\s*\((?:max batch|max_batch_size)")


@dataclass
class Case:
    """One row made predictable: a deployment, a workload and the metric asked for."""

    line: int
    label: str
    deployment: Deployment
    metric: str
    measured: float
    mode: str  # "single", "static", "max", "qps", "concurrency", "startup" (a memory row)
    batch: int | None
    qps: float | None
    input_tokens: int
    output_tokens: int
    num_gpus: int
    assumptions: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    line: int
    label: str
    reason: str


# ---------------------------------------------------------------------------------------------
# Reading rows
# ---------------------------------------------------------------------------------------------


def _strip_qualifiers(text: str) -> str:
    return re.sub(r"\s*\(.*?\)\s*", " ", text).strip()


def _resolve_precision(cat: Catalog, weights: str) -> tuple[Precision | None, str | None]:
    """Map a `precision_weights` cell (leading token + detail in parentheses) to a catalogue precision."""
    raw = weights.strip().lower()
    token = raw.split("(")[0].strip()
    detail = raw[len(token):]
    if token.startswith("exl2-") and token.endswith("bpw"):
        try:
            bits = float(token[5:-3])
        except ValueError:
            return None, f"cannot read bits per weight from {weights!r}"
        if not 0 < bits <= MAX_EXL2_BITS:  # also NaN
            return None, f"bits per weight {bits:g} in {weights!r} is outside (0, {MAX_EXL2_BITS:g}]"
        base = cat.precision("int4")
        return dataclasses.replace(base, id=f"exl2-{bits:g}bpw", weight_bits=bits, group_size=None,
                                   group_overhead_bits=0.0, unquantized=()), None
    if token == "unspecified":
        m = re.search(r"(bf16|fp16|fp8)", detail)
        if not m:
            return None, f"weight precision unspecified ({weights!r})"
        token = m.group(1)
    if "gguf" in detail:
        m = re.search(r"q\d_[a-z0-9_]+", detail)
        name = f"gguf-{m.group(0)}" if m else None
        p = cat.precisions.get(name) if name else None
        return (p, None) if p else (None, f"GGUF format {detail.strip()} not in the catalogue")
    if token == "int8" and "weight-only" in detail:
        return cat.precision("int8-wo"), None
    if token == "fp4":
        # Engines write NVFP4 as plain "FP4" (TensorRT-LLM, ModelOpt); the OCP format is named as such.
        token = "mxfp4" if "mxfp4" in detail or "mx-fp4" in detail else "nvfp4"
    p = cat.precisions.get(token)
    if p is None:
        return None, f"precision {token!r} not in the catalogue"
    g = re.search(r"\bg(\d+)\b", detail)
    if g and p.group_size:
        # gpt-fast int4 keeps a 16-bit scale and a 16-bit zero per group (32 bits).
        p = dataclasses.replace(p, id=f"{p.id}-g{g.group(1)}", group_size=int(g.group(1)), group_overhead_bits=32)
    return p, None


def _resolve_kv(cat: Catalog, kv: str, weights: Precision) -> tuple[Precision, str | None]:
    token = kv.strip().lower().split("(")[0].strip()
    aliases = {"f16": "fp16", "16-bit": "fp16"}
    token = aliases.get(token, token)
    p = cat.precisions.get(token)
    if p is not None and p.kv_capable:
        return p, None
    if weights.compute == "fp8":
        return cat.precision("fp8"), "KV precision unstated: FP8 assumed (FP8 build)"
    return cat.precision("fp16"), "KV precision unstated: FP16 assumed"


def _int(cell: str) -> int | None:
    try:
        v = float(cell)
    except (TypeError, ValueError):
        return None
    return int(v) if v.is_integer() and v >= 0 else None


def read_cases(cat: Catalog, text: str, path: str) -> tuple[list[Case], list[Skipped]]:
    """Parse a calibration-format CSV into predictable cases and skipped rows (with reasons).

    Raises:
        InputError: the file is not a well-formed table (a missing or repeated column, a row with
            more or fewer cells than the header, a cell past the CSV field limit), each located.
    """
    rows = read_csv(text, path, REQUIRED_COLUMNS, error=InputError,
                    columns_hint="the columns of catalog/measured/calibration.csv")
    cases: list[Case] = []
    skipped: list[Skipped] = []
    for line, row in rows:
        label = f"{row['model']} on {row['gpu']} {row['precision_weights'].split('(')[0].strip()} tp{row['tp']} pp{row['pp']}: {row['metric']}"
        try:
            case = _case_from_row(cat, row, line, label)
        except _Skip as s:
            skipped.append(Skipped(line, label, str(s)))
            continue
        cases.append(case)
    return cases, skipped


class _Skip(Exception):
    pass


MAX_BATCH = 1_000_000
"""Largest batch or concurrency a row may state (the schema's max_num_seqs bound)."""

MAX_EXL2_BITS = 16.0
"""Most bits per weight an ExLlamaV2 `exl2-<bits>bpw` format may have (16 = unquantised)."""


def _bounded(value: int | None, what: str, high: int) -> int | None:
    if value is not None and value > high:
        raise _Skip(f"{what} {value} is more than {high:,}")
    return value


def engine_settings(row: dict[str, str]) -> dict[str, float]:
    """The engine settings a row states (`ENGINE_SETTINGS`): a column of that name wins over the
    notes' `[params: key=value; ...]`; values that are not finite positive numbers are skipped."""
    found: dict[str, str] = {}
    m = PARAMS_PATTERN.search(row.get("notes") or "")
    if m:
        for part in m.group(1).split(";"):
            key, _, value = part.partition("=")
            found[key.strip()] = value.strip()
    for key in ENGINE_SETTINGS:
        if (row.get(key) or "").strip():
            found[key] = row[key].strip()
    out = {}
    for key in ENGINE_SETTINGS:
        try:
            value = float(found.get(key, ""))
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            out[key] = value
    return out


def _measured_value(row: dict[str, str]) -> float:
    """The row's `value`, a positive finite number, or a skip."""
    try:
        measured = float(row["value"])
    except ValueError:
        raise _Skip(f"value {row['value']!r} is not a number") from None
    if not math.isfinite(measured) or measured <= 0:
        raise _Skip(f"value {row['value']!r} is not a positive number")
    return measured


def _row_setup(cat: Catalog, row: dict[str, str]):
    """What every kind of row names: model, GPU, weight and KV precisions (with the KV assumption
    made, if any), TP, PP and the GPU count; a skip when one does not resolve."""
    model = cat.models.get(row["model"])
    if model is None:
        raise _Skip(f"model {row['model']!r} not in the catalogue")
    gpu = cat.gpus.get(row["gpu"]) or cat.gpus.get(_strip_qualifiers(row["gpu"]))
    if gpu is None:
        raise _Skip(f"GPU {row['gpu']!r} not in the catalogue")
    precision, why = _resolve_precision(cat, row["precision_weights"])
    if precision is None:
        raise _Skip(why or "unknown precision")
    kv, note = _resolve_kv(cat, row["precision_kv"], precision)
    tp, pp, num_gpus = _int(row["tp"]), _int(row["pp"]), _int(row["num_gpus"])
    if not tp or not pp or not num_gpus:
        raise _Skip("tp, pp or num_gpus is not a positive integer")
    if tp * pp != num_gpus:
        raise _Skip(f"num_gpus {num_gpus} is not tp x pp ({tp} x {pp}): data or expert parallelism is not modelled")
    return model, gpu, precision, kv, [note] if note else [], tp, pp, num_gpus


def _memory_case(cat: Catalog, row: dict[str, str], line: int, label: str, metric: str, measured: float) -> Case:
    """A start-up memory row: the deployment with the engine settings the row states, vLLM's
    defaults for the rest (said in the assumptions)."""
    model, gpu, precision, kv, assumptions, tp, pp, num_gpus = _row_setup(cat, row)
    settings = engine_settings(row)
    util = settings.get("gpu_memory_utilization")
    if util is None:
        util = DEFAULT_MEM_UTILIZATION
        assumptions.append(f"gpu_memory_utilization unstated: vLLM's default {util:g} assumed")
    elif util > 1:
        raise _Skip(f"gpu_memory_utilization {util:g} is more than 1")
    seqs = settings.get("max_num_seqs")
    if seqs is None:
        seqs = default_max_num_seqs(gpu)
        assumptions.append(f"max_num_seqs unstated: vLLM's default for the GPU, {seqs}, assumed")
    chunk = settings.get("max_num_batched_tokens")
    if chunk is None:
        assumptions.append(f"max_num_batched_tokens unstated: vLLM's default for the GPU, "
                           f"{default_max_num_batched_tokens(gpu)}, assumed")
    context = settings.get("max_model_len") or _int(row["input_len"]) or 0
    d = Deployment(model=model, gpu=gpu, precision=precision, kv_precision=kv, tp=tp, pp=pp, mem_utilization=util,
                   max_num_seqs=int(_bounded(int(seqs), "max_num_seqs", MAX_BATCH)),
                   max_num_batched_tokens=int(_bounded(int(chunk), "max_num_batched_tokens", MAX_TOKENS)) if chunk else None,
                   memory_terms=cat.memory_terms)
    try:
        check_deployment(d)
    except PlannerError as exc:
        raise _Skip(str(exc).splitlines()[0]) from None
    context = int(_bounded(int(context), "max_model_len", MAX_TOKENS))
    return Case(line, label, d, metric, measured, "startup", None, None, context, 0, num_gpus, assumptions)


def _case_from_row(cat: Catalog, row: dict[str, str], line: int, label: str) -> Case:
    metric = row["metric"].strip()
    if metric in MEMORY_METRICS:
        return _memory_case(cat, row, line, label, metric, _measured_value(row))
    if metric not in METRIC_GROUPS:
        raise _Skip(f"metric {metric!r} is not one the model predicts")
    measured = _measured_value(row)
    model, gpu, precision, kv, assumptions, tp, pp, num_gpus = _row_setup(cat, row)

    batch_cell = row["batch_size_or_concurrency"].strip()
    batch: int | None = None
    qps: float | None = None
    cap = None
    if batch_cell == "1":
        mode, batch = "single", 1
    elif batch_cell.lower().startswith("max") or batch_cell.lower().startswith("qps=inf"):
        mode = "max"
    elif MAX_BATCH_PATTERN.match(batch_cell):
        mode, cap = "max", _bounded(int(MAX_BATCH_PATTERN.match(batch_cell).group(1)), "max batch", MAX_BATCH)
    elif batch_cell.lower().startswith("qps="):
        mode = "qps"
        try:
            qps = float(batch_cell.split("=", 1)[1])
        except ValueError:
            raise _Skip(f"cannot read a request rate from {batch_cell!r}") from None
        if not MIN_QPS <= qps <= MAX_QPS:  # also NaN
            raise _Skip(f"request rate {qps:g} requests/s is outside [{MIN_QPS:g}, {MAX_QPS:g}]")
    elif _int(batch_cell):
        # A number is a static batch for throughput rows, and a fixed concurrency otherwise.
        mode = "static" if metric.startswith(("output_", "total_")) else "concurrency"
        batch = _bounded(_int(batch_cell), "batch", MAX_BATCH)
    else:
        raise _Skip(f"cannot read batch/concurrency {batch_cell!r}")

    inp = _bounded(_int(row["input_len"]), "input length", MAX_TOKENS)
    out = _bounded(_int(row["output_len"]), "output length", MAX_TOKENS)
    if metric in ("decode_tokens_per_s_per_request", "tpot_ms") and mode == "single":
        if inp is None:
            inp = ASSUMED_UNSTATED_INPUT_TOKENS
            assumptions.append(f"input length unstated: {inp} assumed")
        if out is None or out == 0:
            out = ASSUMED_UNSTATED_OUTPUT_TOKENS
            assumptions.append(f"output length unstated: {out} assumed")
    if metric in ("prefill_tokens_per_s", "ttft_ms"):
        if not inp:
            raise _Skip("prompt length not stated")
        out = max(out or 1, 1)
    if inp is None or out is None:
        raise _Skip("input or output length not stated (variable-length dataset)")
    if out == 0:
        out = 1
    engine_text = (row.get("engine") or "").strip()
    engine = engine_for_text(cat.engines, engine_text)
    if engine is None:
        engine = cat.engine(None)
        if engine_text:
            assumptions.append(f"engine {engine_text!r} not in catalog/engines.csv: {engine.id} assumed")
    d = Deployment(model=model, gpu=gpu, precision=precision, kv_precision=kv, tp=tp, pp=pp,
                   max_num_seqs=cap or 1_000_000, engine=engine)
    try:
        check_deployment(d)
    except PlannerError as exc:
        raise _Skip(str(exc).splitlines()[0]) from None
    return Case(line, label, d, metric, measured, mode, batch, qps, inp, out, num_gpus, assumptions)
