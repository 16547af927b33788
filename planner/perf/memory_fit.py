"""Fitting the engine's memory terms (`catalog/memory_terms.csv`) on start-up memory rows.

Engine terms (`sampler_bytes_per_logit`, `forward_activation_factor`, the three non-torch GiB): a
deterministic coordinate descent over multiplicative grids, from `START`, minimising the mean over
the memory metrics of the mean absolute log error (weights rows do not depend on the terms and
are left out of the loss). Terms no row informs stay at their start value. Capacity rule:
`reported_fraction_<class>` is the median of reported GiB / datasheet GB over the GPUs of that
memory class with a sourced figure. `tools/fit_memory.py` prints and writes the fit;
`tests/test_memory_model.py` checks that it reproduces the shipped file.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from planner.catalog.gpu_memory import MemoryTerms, ReportedMemory, memory_class
from planner.catalog.gpus import Gpu
from planner.catalog.tables import Table
from planner.perf.measurements import Case
from planner.perf.memory_check import predict_memory

FIT_DATE = "2026-12-05"

ENGINE_TERMS = ("sampler_bytes_per_logit", "forward_activation_factor", "nontorch_gib_tp1",
                "nontorch_gib_tp2plus", "nontorch_gib_pp_stage")

START = {
    "sampler_bytes_per_logit": 14.0,
    "forward_activation_factor": 1.0,
    "nontorch_gib_tp1": 0.75,
    "nontorch_gib_tp2plus": 1.25,
    "nontorch_gib_pp_stage": 0.75,
}
"""Where the search starts, and the value of a term no row informs: 14 bytes per logit counts the
logits in 16 bits, their FP32 copy, the probabilities and one sort buffer (2 + 4 + 4 + 4); factor 1
is the bare tensor count; the non-torch GiB are the model's earlier stated constants (0.75 GiB CUDA
context, + 0.5 GiB communication buffers at TP >= 2)."""

STEPS = (2 ** (1 / 8), 2 ** (1 / 64), 2 ** (1 / 512))
"""Multiplicative grid steps, coarse to fine; each pass tries +-16 steps around the current value."""

FITTED_METRICS = ("kv_cache_tokens", "kv_cache_gib_per_gpu", "activation_gib_per_gpu", "nontorch_gib_per_gpu")


def with_terms(cases: list[Case], terms: MemoryTerms) -> list[Case]:
    """The cases with their deployments using `terms`."""
    return [dataclasses.replace(c, deployment=dataclasses.replace(c.deployment, memory_terms=terms)) for c in cases]


def loss(cases: list[Case], terms: MemoryTerms) -> float:
    """Mean over the fitted metrics present of the mean |log(predicted / measured)|."""
    by_metric: dict[str, list[float]] = {}
    for c in with_terms(cases, terms):
        if c.metric not in FITTED_METRICS:
            continue
        pred = predict_memory(c.deployment, c.metric)
        err = abs(math.log(pred / c.measured)) if pred > 0 else 10.0
        by_metric.setdefault(c.metric, []).append(err)
    if not by_metric:
        return 0.0
    return sum(sum(v) / len(v) for v in by_metric.values()) / len(by_metric)


def fit_terms(cases: list[Case], base: MemoryTerms) -> tuple[MemoryTerms, float]:
    """The engine terms fitted on `cases` (memory rows), the capacity fractions kept from `base`."""
    terms = dataclasses.replace(base, **START)
    best = loss(cases, terms)
    for step in STEPS:
        improved = True
        while improved:
            improved = False
            for name in ENGINE_TERMS:
                here = getattr(terms, name)
                for k in [*range(1, 17), *range(-1, -17, -1)]:
                    trial = dataclasses.replace(terms, **{name: here * step ** k})
                    value = loss(cases, trial)
                    if value < best - 1e-12:
                        best, terms, improved = value, trial, True
                        break
    rounded = dataclasses.replace(terms, **{n: round(getattr(terms, n), 4) for n in ENGINE_TERMS})
    return rounded, loss(cases, rounded)


def reported_fractions(gpus: Table[Gpu], reported: dict[str, ReportedMemory]) -> dict[str, float]:
    """Median reported GiB / datasheet GB per memory class over the GPUs with a sourced figure."""
    ratios: dict[str, list[float]] = {}
    for gid, row in sorted(reported.items()):
        g = gpus.rows[gid]
        ratios.setdefault(memory_class(g), []).append(row.reported_gib / g.mem_gb)
    return {kind: round(statistics.median(v), 4) for kind, v in sorted(ratios.items())}
