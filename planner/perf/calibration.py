"""`planner validate`: predict published serving measurements and report the model's error.

Reads rows with the columns of `catalog/measured/calibration.csv` (the file is read as published;
nothing needs editing), resolves model, GPU and precision through the catalogue, predicts each
row's metric with `planner.estimate`, and reports n, median and p90 absolute percentage error per
metric, per metric group and overall, next to the naive roofline of the seeds (datasheet bandwidth
over weight bytes for decode, 50 % MFU for prefill and throughput). Rows that cannot be predicted
are listed with the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from planner import perf
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency, Precision
from planner.catalog.store import Catalog
from planner.errors import InputError, PlannerError, Problem
from planner.perf.estimate import Deployment, check_deployment, max_batch, timings
from planner.spec.textfile import read_user_text

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
}
"""Each metric's group; the accuracy bar is stated per group."""

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
    mode: str  # "single", "static", "max", "qps", "concurrency"
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
    """Parse a calibration-format CSV into predictable cases and skipped rows (with reasons)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(Problem(f"missing column(s): {', '.join(missing)}", file=path, line=1,
                                 expected="the columns of catalog/measured/calibration.csv"))
    cases: list[Case] = []
    skipped: list[Skipped] = []
    for row in reader:
        line = reader.line_num
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


def _case_from_row(cat: Catalog, row: dict[str, str], line: int, label: str) -> Case:
    metric = row["metric"].strip()
    if metric not in METRIC_GROUPS:
        raise _Skip(f"metric {metric!r} is not one the model predicts")
    try:
        measured = float(row["value"])
    except ValueError:
        raise _Skip(f"value {row['value']!r} is not a number") from None
    if not math.isfinite(measured) or measured <= 0:
        raise _Skip(f"value {row['value']!r} is not a positive number")
    model = cat.models.get(row["model"])
    if model is None:
        raise _Skip(f"model {row['model']!r} not in the catalogue")
    gpu = cat.gpus.get(row["gpu"]) or cat.gpus.get(_strip_qualifiers(row["gpu"]))
    if gpu is None:
        raise _Skip(f"GPU {row['gpu']!r} not in the catalogue")
    precision, why = _resolve_precision(cat, row["precision_weights"])
    if precision is None:
        raise _Skip(why or "unknown precision")
    assumptions: list[str] = []
    kv, note = _resolve_kv(cat, row["precision_kv"], precision)
    if note:
        assumptions.append(note)
    tp, pp, num_gpus = _int(row["tp"]), _int(row["pp"]), _int(row["num_gpus"])
    if not tp or not pp or not num_gpus:
        raise _Skip("tp, pp or num_gpus is not a positive integer")
    if tp * pp != num_gpus:
        raise _Skip(f"num_gpus {num_gpus} is not tp x pp ({tp} x {pp}): data or expert parallelism is not modelled")

    batch_cell = row["batch_size_or_concurrency"].strip()
    batch: int | None = None
    qps: float | None = None
    cap = None
    if batch_cell == "1":
        mode, batch = "single", 1
    elif batch_cell.lower().startswith("max") or batch_cell.lower().startswith("qps=inf"):
        mode = "max"
    elif MAX_BATCH_PATTERN.match(batch_cell):
        mode, cap = "max", int(MAX_BATCH_PATTERN.match(batch_cell).group(1))
    elif batch_cell.lower().startswith("qps="):
        mode = "qps"
        try:
            qps = float(batch_cell.split("=", 1)[1])
        except ValueError:
            raise _Skip(f"cannot read a request rate from {batch_cell!r}") from None
    elif _int(batch_cell):
        # A number is a static batch for throughput rows, and a fixed concurrency otherwise.
        mode, batch = ("static" if metric.startswith(("output_", "total_")) else "concurrency"), _int(batch_cell)
    else:
        raise _Skip(f"cannot read batch/concurrency {batch_cell!r}")

    inp, out = _int(row["input_len"]), _int(row["output_len"])
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
    d = Deployment(model=model, gpu=gpu, precision=precision, kv_precision=kv, tp=tp, pp=pp,
                   max_num_seqs=cap or 1_000_000)
    try:
        check_deployment(d)
    except PlannerError as exc:
        raise _Skip(str(exc).splitlines()[0]) from None
    return Case(line, label, d, metric, measured, mode, batch, qps, inp, out, num_gpus, assumptions)


# ---------------------------------------------------------------------------------------------
# Predicting
# ---------------------------------------------------------------------------------------------

MAX_MODE_MEM_UTILIZATION = 0.95
"""Memory fraction for offline max-throughput rows: TensorRT-LLM benches give the KV cache 95 % of
what is free after the weights (`kv_cache_free_gpu_mem_fraction` 0.95 in the source's notes)."""

MAX_MODE_BATCH_CAP = 2048
"""Largest batch an offline benchmark schedules (trtllm-bench's default max_batch_size is 2048)."""


def predict(case: Case, eff: Efficiency) -> float:
    """The model's prediction of the case's metric with efficiency factors `eff`."""
    d, m, inp, out = case.deployment, case.metric, case.input_tokens, case.output_tokens
    if m == "prefill_tokens_per_s":
        b = case.batch or 1
        pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, inp, eff, d.pp, batch=b)
        return inp * b / pre.total_s
    if m == "ttft_ms" and case.mode == "single":
        pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, inp, eff, d.pp)
        return pre.total_s * 1e3
    if m == "ttft_ms" and case.mode == "qps":
        batch = _concurrency_at_rate(case, eff)
        step, pre, _tpot, _rate = timings(d, eff, max(1, round(batch)), inp, out)
        return perf.loaded_ttft_s(pre.total_s, step.total_s if batch > 1.5 else 0.0) * 1e3
    if case.mode == "single":
        step, pre, tpot, rate = timings(d, eff, 1, inp, out)
        if m == "decode_tokens_per_s_per_request":
            return 1.0 / step.total_s
        if m == "tpot_ms":
            return step.total_s * 1e3
        # Single-stream throughput includes the prompt: out / (ttft + out x step).
        return _scale_throughput(case, out / (pre.total_s + out * step.total_s))
    if case.mode == "qps":
        batch = _concurrency_at_rate(case, eff)
        step, pre, tpot, rate = timings(d, eff, max(1, round(batch)), inp, out)
        if m == "tpot_ms":
            return tpot * 1e3
        raise ValueError(f"metric {m} at a request rate is not predicted")
    if case.mode == "static":
        b = case.batch or 1
        context = inp + out / 2.0
        step = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, b, context, eff, d.pp)
        pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, inp, eff, d.pp, batch=b)
        return _scale_throughput(case, b * out / (pre.total_s + out * step.total_s))
    # max throughput or fixed concurrency: continuous batching at the largest batch that fits.
    dm = dataclasses.replace(d, mem_utilization=MAX_MODE_MEM_UTILIZATION,
                             max_num_seqs=min(d.max_num_seqs, MAX_MODE_BATCH_CAP))
    b = max(1, max_batch(dm, inp + out))
    if case.mode == "concurrency" and case.batch:
        b = min(b, case.batch)
    step, pre, tpot, rate = timings(dm, eff, b, inp, out)
    return _scale_throughput(case, rate)


def _scale_throughput(case: Case, output_rate: float) -> float:
    if case.metric == "output_throughput_tokens_per_s_per_gpu":
        return output_rate / case.num_gpus
    if case.metric == "total_throughput_tokens_per_s":
        return output_rate * (case.input_tokens + case.output_tokens) / case.output_tokens
    if case.metric == "tpot_ms":
        raise ValueError("tpot at this mode is not predicted")
    return output_rate


def _concurrency_at_rate(case: Case, eff: Efficiency) -> float:
    """Little's law, solved by fixed point: concurrency = rate x (TTFT + output x TPOT(concurrency))."""
    d, inp, out = case.deployment, case.input_tokens, case.output_tokens
    c = 1.0
    for _ in range(50):
        _step, pre, tpot, _rate = timings(d, eff, max(1, round(c)), inp, out)
        new = (case.qps or 0.0) * (pre.total_s + out * tpot)
        if abs(new - c) < 0.01:
            break
        c = max(1.0, new)
    return c


def naive_roofline(case: Case) -> float | None:
    """The seeds' method on the same row: decode at datasheet bandwidth over weight bytes;
    prefill and throughput at 50 % MFU of the datasheet compute (2 x active params per token),
    bandwidth and TFLOPS summed over the GPUs; no KV, no overheads, no communication."""
    d, m = case.deployment, case.metric
    gpus = d.tp * d.pp
    bw = d.gpu.mem_bw_gb_per_s * perf.GB * (d.tp if d.pp == 1 else 1)
    flops = d.gpu.tflops(d.precision.compute) * 1e12 * 0.5 * gpus
    per_token = 2.0 * d.model.active_params_b * 1e9
    weights = perf.weight_bytes(d.model, d.precision)
    decode_rate = bw / weights
    if m == "decode_tokens_per_s_per_request":
        return decode_rate
    if m == "tpot_ms":
        return 1e3 / decode_rate
    if m == "prefill_tokens_per_s":
        return flops / per_token
    if m == "ttft_ms":
        return case.input_tokens * per_token / flops * 1e3
    if case.mode == "single":
        return _scale_throughput(case, 1.0 / (1.0 / decode_rate + case.input_tokens / case.output_tokens * per_token / flops))
    # Throughput: compute-bound on every token, prompt and output alike.
    rate = flops / per_token * case.output_tokens / (case.input_tokens + case.output_tokens)
    if case.mode in ("static", "concurrency") and case.batch:
        rate = min(rate, decode_rate * case.batch)
    return _scale_throughput(case, rate)


# ---------------------------------------------------------------------------------------------
# Errors and the report
# ---------------------------------------------------------------------------------------------


def ape(predicted: float, measured: float) -> float:
    """Absolute percentage error as a fraction: |predicted - measured| / measured."""
    return abs(predicted - measured) / abs(measured)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarise(errors: list[float]) -> dict[str, float | int]:
    return {"n": len(errors), "median_ape": percentile(errors, 50), "p90_ape": percentile(errors, 90)}


@dataclass
class Validation:
    rows: list[dict]
    skipped: list[Skipped]

    def _errors(self, key: str, predicate: Callable[[dict], bool]) -> list[float]:
        return [r[key] for r in self.rows if predicate(r) and r[key] is not None]

    def report(self) -> dict:
        metrics = sorted({r["metric"] for r in self.rows})
        groups = sorted({r["group"] for r in self.rows})
        out = {
            "metrics": {m: summarise(self._errors("ape", lambda r, m=m: r["metric"] == m)) for m in metrics},
            "groups": {g: summarise(self._errors("ape", lambda r, g=g: r["group"] == g)) for g in groups},
            "overall": summarise(self._errors("ape", lambda r: True)),
            "naive_roofline": {
                "metrics": {m: summarise(self._errors("naive_ape", lambda r, m=m: r["metric"] == m)) for m in metrics},
                "groups": {g: summarise(self._errors("naive_ape", lambda r, g=g: r["group"] == g)) for g in groups},
                "overall": summarise(self._errors("naive_ape", lambda r: True)),
            },
            "rows": self.rows,
            "skipped": [{"line": s.line, "row": s.label, "reason": s.reason} for s in self.skipped],
        }
        return out


def validate_cases(cases: list[Case], skipped: list[Skipped], eff_for: Callable[[Gpu], Efficiency]) -> Validation:
    rows = []
    for c in cases:
        eff = eff_for(c.deployment.gpu)
        try:
            pred = predict(c, eff)
        except (ValueError, PlannerError) as exc:
            skipped.append(Skipped(c.line, c.label, f"not predicted: {exc}"))
            continue
        naive = naive_roofline(c)
        rows.append({
            "line": c.line, "row": c.label, "metric": c.metric, "group": METRIC_GROUPS[c.metric],
            "measured": c.measured, "predicted": pred, "ape": ape(pred, c.measured),
            "naive_predicted": naive, "naive_ape": ape(naive, c.measured) if naive is not None else None,
            "assumptions": c.assumptions,
        })
    skipped.sort(key=lambda s: s.line)
    return Validation(rows, skipped)


def validate_file(cat: Catalog, path: Path) -> Validation:
    """Predict every row of a calibration-format CSV and collect the errors."""
    text = read_user_text(path)
    cases, skipped = read_cases(cat, text, str(path))
    return validate_cases(cases, skipped, cat.efficiency_for)
