"""Benchmark result files read into runs: what load each run put on the server, its request lengths
and what it measured. `planner.perf.recalibrate` turns runs into predictable cases.

Formats (`read_runs` tells them apart by their keys):

* `vllm bench serve --save-result` JSON (vllm-project/vllm `vllm/benchmarks/serve.py` @009e6d4a,
  `main`: `result_json`): `model_id`, `request_rate` (a number, or the string "inf"),
  `max_concurrency` (null or a count), `completed`, `total_input_tokens`, `total_output_tokens`,
  `output_throughput` (tokens/s), `mean_ttft_ms`, `mean_tpot_ms` (TPOT excludes the first token).
  Keys given with `--metadata KEY=VALUE` land at the top level, so `--metadata gpu=h100 tp=2
  precision=fp8` puts the deployment in the file itself. `--append-result` writes one JSON object
  per line; each line is one run.
* GuideLLM benchmark report JSON (vllm-project/guidellm `src/guidellm/benchmark/schemas/report.py`
  `GenerativeBenchmarksReport` @ee7a7745, v0.7.3): `benchmarks[]`, each with its scheduling
  strategy at `config.strategy` (v0.4 and later; `args.strategy` in v0.3) whose `type_` is
  `synchronous`, `concurrent` (`streams`), `throughput`, `constant` or `poisson` (`rate`), and
  `metrics.<name>.successful.mean` for `time_to_first_token_ms`, `inter_token_latency_ms` (TPOT
  without the first token, as vLLM's), `output_tokens_per_second`, `prompt_token_count` and
  `output_token_count` (`schemas/metrics.py` `GenerativeMetrics`; `schemas/statistics.py`).

Load → mode (the modes of `planner.perf.calibration`): one stream (vLLM max_concurrency 1 at an
infinite rate; GuideLLM `synchronous`) is `single`; a finite request rate is `qps`; N concurrent
streams at an infinite rate is `concurrency` N; an infinite rate with no cap (GuideLLM
`throughput`) is `max`. Metrics kept: mean TTFT and TPOT (not in `max`: every request waits in one
queue there) and output tokens/s (not in `qps`: it is the offered rate times the output length,
which says nothing about the deployment). Request lengths are the run's means (total tokens /
completed requests), rounded: the model predicts each run as if every request had the mean length.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import InputError, Problem
from planner.spec.textfile import read_user_text

METRICS = ("ttft_ms", "tpot_ms", "output_throughput_tokens_per_s_total")
"""What a run may contribute, as `catalog/measured/calibration.csv` metrics."""

GUIDELLM_MODES = {"synchronous": "single", "concurrent": "concurrency", "throughput": "max",
                  "constant": "qps", "poisson": "qps"}
"""GuideLLM strategy `type_` → mode; other strategies (sweep, trace replay) are skipped."""

VLLM_KEYS = ("model_id", "request_rate", "completed", "total_input_tokens", "total_output_tokens")
"""Keys that mark a `vllm bench serve` result (and that every one has)."""


@dataclass(frozen=True)
class Run:
    """One benchmark run of one deployment."""

    file: str
    line: int
    """Line of the file the run starts on (1, or its line in an --append-result file)."""
    where: str
    """Key path of the run inside the file (`benchmarks[2]`), or "" for a whole-file result."""
    mode: str
    """single | qps | concurrency | max."""
    qps: float | None
    concurrency: int | None
    input_tokens: int
    output_tokens: int
    metrics: dict[str, float]
    """Metric (METRICS) → measured value."""
    model_id: str | None = None
    """The model the file names (vLLM `model_id`), if any."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Deployment keys the file itself gives (vLLM `--metadata`)."""
    skipped: str | None = None
    """Why nothing of this run is used, if so (reported, not an error)."""

    @property
    def label(self) -> str:
        return f"{self.file}{':' + self.where if self.where else ''}"


def read_runs(path: Path, deployment_keys: tuple[str, ...]) -> list[Run]:
    """The runs of a vLLM result or GuideLLM report; InputError (located) for a file that is
    neither, or a run whose numbers are missing or not positive numbers."""
    label = str(path)
    text = read_user_text(path)
    try:
        objects = [(1, json.loads(text))]
    except json.JSONDecodeError as exc:
        lines = [(i, s) for i, s in enumerate(text.splitlines(), 1) if s.strip()]
        try:  # --append-result: one object per line
            objects = [(i, json.loads(s)) for i, s in lines]
        except json.JSONDecodeError:
            raise InputError(Problem(f"not JSON: {exc.msg}", file=label, line=exc.lineno, col=exc.colno,
                                     expected="a vllm bench serve result or a GuideLLM report")) from None
    runs: list[Run] = []
    problems: list[Problem] = []
    for line, obj in objects:
        if isinstance(obj, dict) and isinstance(obj.get("benchmarks"), list):
            for i, bench in enumerate(obj["benchmarks"]):
                _collect(problems, runs, lambda: _guidellm_run(label, i, bench))
        elif isinstance(obj, dict) and all(k in obj for k in VLLM_KEYS):
            _collect(problems, runs, lambda: _vllm_run(label, line, obj, deployment_keys))
        else:
            problems.append(Problem("neither a vllm bench serve result nor a GuideLLM report", file=label, line=line,
                                    expected=f"a JSON object with {', '.join(VLLM_KEYS)} (vllm bench serve "
                                             "--save-result), or with benchmarks[] (guidellm benchmark)"))
    if problems:
        raise InputError(problems)
    return runs


def _collect(problems: list[Problem], runs: list[Run], make) -> None:
    try:
        runs.append(make())
    except InputError as exc:
        problems.extend(exc.problems)


def _number(obj: Any, path: tuple, file: str, line: int, where: str, positive: bool = True) -> float:
    """The number at key path `path` of `obj`; InputError naming the key when it is absent or bad."""
    value = obj
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    key = ".".join(str(p) for p in path)
    key = f"{where}.{key}" if where else key
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0):
        got = "missing" if value is None else f"got {json.dumps(value)[:40]}"
        raise InputError(Problem(f"not a {'positive ' if positive else ''}number ({got})", file=file, line=line,
                                 key=key, expected="a number"))
    return float(value)


def _vllm_run(file: str, line: int, obj: dict, deployment_keys: tuple[str, ...]) -> Run:
    completed = _number(obj, ("completed",), file, line, "")
    inp = round(_number(obj, ("total_input_tokens",), file, line, "") / completed)
    out = round(_number(obj, ("total_output_tokens",), file, line, "") / completed)
    rate, cap = obj.get("request_rate"), obj.get("max_concurrency")
    infinite = rate == "inf" or (isinstance(rate, float) and math.isinf(rate))
    qps = None if infinite else _number(obj, ("request_rate",), file, line, "")
    if cap is not None:
        cap = int(_number(obj, ("max_concurrency",), file, line, ""))
    if qps is not None:
        mode = "qps"
    elif cap == 1:
        mode = "single"
    else:
        mode = "concurrency" if cap else "max"
    wanted = {"ttft_ms": "mean_ttft_ms", "tpot_ms": "mean_tpot_ms",
              "output_throughput_tokens_per_s_total": "output_throughput"}
    metrics = {m: _number(obj, (k,), file, line, "") for m, k in wanted.items() if _keeps(mode, m) and k in obj}
    meta = {k: obj[k] for k in deployment_keys if k in obj}
    return Run(file, line, "", mode, qps, cap, max(inp, 1), max(out, 1), metrics, str(obj["model_id"]), meta)


def _guidellm_run(file: str, index: int, bench: Any) -> Run:
    where = f"benchmarks[{index}]"
    if not isinstance(bench, dict):
        raise InputError(Problem("not an object", file=file, key=where, expected="a GuideLLM benchmark"))
    strategy = (bench.get("config") or {}).get("strategy") or (bench.get("args") or {}).get("strategy") or {}
    kind = strategy.get("type_") if isinstance(strategy, dict) else None
    mode = GUIDELLM_MODES.get(kind)
    model = _guidellm_model(bench)
    if mode is None:
        return Run(file, 1, where, "", None, None, 1, 1, {}, model,
                   skipped=f"strategy {kind!r} is not one load (expected one of {', '.join(GUIDELLM_MODES)})")

    def mean(name: str) -> float:
        return _number(bench, ("metrics", name, "successful", "mean"), file, 1, where)

    qps = _number(strategy, ("rate",), file, 1, f"{where}.config.strategy") if mode == "qps" else None
    streams = int(_number(strategy, ("streams",), file, 1, f"{where}.config.strategy")) if mode == "concurrency" else None
    if streams == 1:
        mode, streams = "single", None
    wanted = {"ttft_ms": "time_to_first_token_ms", "tpot_ms": "inter_token_latency_ms",
              "output_throughput_tokens_per_s_total": "output_tokens_per_second"}
    metrics = {m: mean(k) for m, k in wanted.items() if _keeps(mode, m) and k in (bench.get("metrics") or {})}
    inp, out = round(mean("prompt_token_count")), round(mean("output_token_count"))
    return Run(file, 1, where, mode, qps, streams, max(inp, 1), max(out, 1), metrics, model)


def _guidellm_model(bench: dict) -> str | None:
    """The model a GuideLLM benchmark names, where the report has it (v0.4+: config.backend.model;
    v0.3: worker.backend_model)."""
    for section, key in (("config", "backend"), ("worker", None)):
        part = bench.get(section)
        part = part.get(key) if key and isinstance(part, dict) else part
        if isinstance(part, dict):
            model = part.get("model") or part.get("backend_model")
            if isinstance(model, str) and model:
                return model
    return None


def _keeps(mode: str, metric: str) -> bool:
    """Whether a run in `mode` says something about the deployment through `metric` (see the module)."""
    if mode == "max":
        return metric == "output_throughput_tokens_per_s_total"
    if mode == "qps":
        return metric != "output_throughput_tokens_per_s_total"
    return True
