"""`planner validate`: predict published serving measurements and report the model's error.

Modes (`Case.mode`): `single` (one stream), `static` (a fixed batch), `max` (offline maximum
throughput), `qps` (open loop at a request rate: TTFT and TPOT from the concurrency Little's law
gives) and `concurrency` (closed loop of N users: throughput, and TPOT and TTFT at min(N, the
largest batch that fits); TTFT also counts the wait for a slot when N is more than that batch).

Reads rows with the columns of `catalog/measured/calibration.csv` (the file is read as published;
nothing needs editing), resolves model, GPU and precision through the catalogue, predicts each
row's metric with `planner.perf.estimate` (the GPU family's factors times the row's engine's), and
reports n, median and p90 absolute percentage error per metric, per metric group, per engine and overall, next to the naive roofline of the seeds (datasheet bandwidth
over weight bytes for decode, 50 % MFU for prefill and throughput). Rows that cannot be predicted
are listed with the reason (rows are read in `planner.perf.measurements`); a file with no usable
row is an input error saying why, and a row whose error is not a finite number says so in its
`reason` and is left out of the summaries.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planner import perf
from planner.catalog.engines import Engine, EngineFactors
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency
from planner.catalog.store import Catalog
from planner.errors import InputError, PlannerError, Problem
from planner.perf.engines import with_engine
from planner.perf.estimate import Deployment, max_batch, timings
from planner.perf.memory_check import predict_memory
from planner.perf.measurements import (
    MAX_BATCH,
    METRIC_GROUPS,
    REQUIRED_COLUMNS,
    Case,
    Skipped,
    read_cases,
)
from planner.spec.textfile import read_user_text

__all__ = ["METRIC_GROUPS", "REQUIRED_COLUMNS", "Case", "Skipped", "predict", "read_cases", "validate_cases",
           "validate_file"]

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
    if case.mode == "startup":
        return predict_memory(d, m)
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
        return _loaded_ttft_s(d, pre, step.total_s, round(batch) - 1, inp) * 1e3
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
    if case.mode == "concurrency" and m == "tpot_ms":
        return tpot * 1e3
    if case.mode == "concurrency" and m == "ttft_ms":
        # Closed loop of N = case.batch users: each request's cycle is N / (requests/s) by Little's
        # law; the part that is not decoding is waiting for a slot (when N > b) plus the prefill.
        ttft = _loaded_ttft_s(dm, pre, step.total_s, b - 1, inp)
        return max(ttft, (case.batch or 1) * out / rate - (out - 1) * tpot) * 1e3
    return _scale_throughput(case, rate)


def _loaded_ttft_s(d: Deployment, pre: perf.StepTime, decode_step_s: float, others: int, input_tokens: int) -> float:
    """TTFT with `others` sequences decoding: the prefill pass alone when none is, else
    `perf.loaded_ttft_s` of the prompt's added seconds over its chunks of the token budget."""
    if others < 1:
        return pre.total_s
    added = perf.prefill_added_s(pre, d.batches_prefill)
    chunks = perf.prefill_chunks(input_tokens, d.chunk_tokens, others) if d.batches_prefill else 1.0
    return float(perf.loaded_ttft_s(added, decode_step_s, chunks))


def _scale_throughput(case: Case, output_rate: float) -> float:
    if case.metric == "output_throughput_tokens_per_s_per_gpu":
        return output_rate / case.num_gpus
    if case.metric == "total_throughput_tokens_per_s":
        return output_rate * (case.input_tokens + case.output_tokens) / case.output_tokens
    if case.metric == "tpot_ms":
        raise ValueError("tpot at this mode is not predicted")
    return output_rate


def _concurrency_at_rate(case: Case, eff: Efficiency) -> float:
    """Little's law, solved by fixed point: concurrency = rate x (TTFT + output x TPOT(concurrency)).

    Raises:
        ValueError: the concurrency passes MAX_BATCH (the rate is more than the deployment can
            serve, so the fixed point runs away) or is not a finite number.
    """
    d, inp, out = case.deployment, case.input_tokens, case.output_tokens
    c = 1.0
    for _ in range(50):
        _step, pre, tpot, _rate = timings(d, eff, max(1, round(c)), inp, out)
        new = (case.qps or 0.0) * (pre.total_s + out * tpot)
        if not math.isfinite(new) or new > MAX_BATCH:
            raise ValueError(f"{case.qps:g} requests/s needs more than {MAX_BATCH:,} requests in flight "
                             "(more than the deployment serves)")
        if abs(new - c) < 0.01:
            break
        c = max(1.0, new)
    return c


def naive_roofline(case: Case) -> float | None:
    """The seeds' method on the same row: decode at datasheet bandwidth over weight bytes;
    prefill and throughput at 50 % MFU of the datasheet compute (2 x active params per token),
    bandwidth and TFLOPS summed over the GPUs; no KV, no overheads, no communication."""
    d, m = case.deployment, case.metric
    if case.mode == "startup":
        return None
    gpus = d.tp * d.pp
    bw = d.gpu.mem_bw_gb_per_s * perf.GB * (d.tp if d.pp == 1 else 1)
    flops = d.gpu.tflops(d.precision.compute_on(d.gpu)) * 1e12 * 0.5 * gpus
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
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]; NaN for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarise(errors: list[float]) -> dict[str, float | int | None]:
    """n, median and p90 of absolute percentage errors; median and p90 are None when n is 0."""
    if not errors:
        return {"n": 0, "median_ape": None, "p90_ape": None}
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
        engines = sorted({r["engine"] for r in self.rows})
        out = {
            "metrics": {m: summarise(self._errors("ape", lambda r, m=m: r["metric"] == m)) for m in metrics},
            "groups": {g: summarise(self._errors("ape", lambda r, g=g: r["group"] == g)) for g in groups},
            "engines": {e: summarise(self._errors("ape", lambda r, e=e: r["engine"] == e)) for e in engines},
            "overall": summarise(self._errors("ape", lambda r: True)),
            "naive_roofline": {
                "metrics": {m: summarise(self._errors("naive_ape", lambda r, m=m: r["metric"] == m)) for m in metrics},
                "groups": {g: summarise(self._errors("naive_ape", lambda r, g=g: r["group"] == g)) for g in groups},
                "engines": {e: summarise(self._errors("naive_ape", lambda r, e=e: r["engine"] == e)) for e in engines},
                "overall": summarise(self._errors("naive_ape", lambda r: True)),
            },
            "rows": self.rows,
            "skipped": [{"line": s.line, "row": s.label, "reason": s.reason} for s in self.skipped],
        }
        return out


def validate_cases(cases: list[Case], skipped: list[Skipped], eff_for: Callable[[Gpu], Efficiency],
                   engine_for: Callable[[Engine | None], EngineFactors] | None = None) -> Validation:
    """Predict every case with its GPU family's factors `eff_for(gpu)`, multiplied by its engine's
    `engine_for(engine)` when given (`perf.engines.with_engine`), and collect the errors."""
    rows = []
    for c in cases:
        eff = eff_for(c.deployment.gpu)
        if engine_for is not None:
            eff = with_engine(eff, engine_for(c.deployment.engine))
        try:
            pred = predict(c, eff)
        except (ValueError, OverflowError, PlannerError) as exc:
            skipped.append(Skipped(c.line, c.label, f"not predicted: {exc}"))
            continue
        naive = naive_roofline(c)
        numbers = {"predicted": pred, "ape": _ape_or_inf(pred, c.measured), "naive_predicted": naive,
                   "naive_ape": _ape_or_inf(naive, c.measured) if naive is not None else None}
        not_finite = [k for k, v in numbers.items() if v is not None and not math.isfinite(v)]
        for k in not_finite:
            numbers[k] = None
        reason = None
        if not_finite:
            reason = (f"not a finite number: {', '.join(not_finite)} (measured {c.measured:g}, predicted {pred:g}); "
                      "left out of the summaries")
        rows.append({
            "line": c.line, "row": c.label, "metric": c.metric, "group": METRIC_GROUPS[c.metric],
            "engine": c.deployment.engine_id,
            "measured": c.measured, **numbers, "reason": reason, "assumptions": c.assumptions,
        })
    skipped.sort(key=lambda s: s.line)
    return Validation(rows, skipped)


def _ape_or_inf(predicted: float, measured: float) -> float:
    """`ape`, or infinity where it overflows (a measured value near 0, a prediction near the float limit)."""
    try:
        return ape(predicted, measured)
    except (OverflowError, ZeroDivisionError):
        return math.inf


MAX_LISTED_SKIPS = 20
"""Skipped rows listed one per line when no row is usable; the rest are counted."""


def validate_file(cat: Catalog, path: Path) -> Validation:
    """Predict every row of a calibration-format CSV and collect the errors.

    Raises:
        InputError: the file is malformed, or no row is usable (no data rows, or every row skipped
            or without a finite error): the first line says so, then each skipped row's line and reason.
    """
    text = read_user_text(path)
    cases, skipped = read_cases(cat, text, str(path))
    validation = validate_cases(cases, skipped, cat.efficiency_for, cat.engine_factors_for)
    if any(r["ape"] is not None for r in validation.rows):
        return validation
    name = str(path)
    unusable = sorted([*validation.skipped, *(Skipped(r["line"], r["row"], r["reason"]) for r in validation.rows)],
                      key=lambda s: s.line)
    if not unusable:
        raise InputError(Problem("no data rows", file=name, line=1, expected="rows under the header"))
    problems = [Problem(f"no usable row: all {len(unusable)} data rows were skipped", file=name, line=1,
                        expected="at least one row the model predicts (reasons below)")]
    problems += [Problem(f"skipped: {s.reason}", file=name, line=s.line) for s in unusable[:MAX_LISTED_SKIPS]]
    if len(unusable) > MAX_LISTED_SKIPS:
        rest = unusable[MAX_LISTED_SKIPS:]
        problems.append(Problem(f"and {len(rest)} more rows skipped (lines {rest[0].line} to {rest[-1].line})",
                                file=name, line=rest[0].line))
    raise InputError(problems)
