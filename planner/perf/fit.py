"""Fitting the performance model's efficiency factors to measurements: the one fit the shipped
`catalog/efficiency.csv` comes from (`tools/fit_efficiency.py`) and `planner calibrate` refits a
user's benchmark rows with.

Factors: bw_eff (fraction of datasheet memory bandwidth reached by decode), decode_mfu and
prefill_mfu (fraction of dense tensor peak), comm_eff (fraction of link bandwidth reached by
all-reduce) and step_overhead_ms (fixed cost per forward pass: launch, scheduling, sampling).

Loss (`loss`): the three metric groups (batch-1 decode, max throughput, TTFT/prefill) weigh
equally, and within a group it is the mean absolute log error |ln(predicted / measured)| (robust to
the few rows whose engine differs a lot; a prediction that is not a positive finite number costs
5, about a factor 150). Search (`fit`): coordinate descent over bounded grids around the current
value (log-spaced for the fractions, linear for the overhead), spans shrinking 0.6 → 0.03;
deterministic from its start. A move is taken only when it lowers the loss, so a factor the rows
say nothing about stays where it started.

`fit_all` is the shipped fit: one `default` set on every usable row from START, then one set per
GPU family with at least MIN_ROWS_PER_FAMILY rows, each started from the default. Never per row,
per SKU or per engine. `refit` is the user's: each family in the user's rows, started from the
factors the catalogue (or an overlay) already has for it, however few its rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable

from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency
from planner.errors import PlannerError
from planner.perf.calibration import predict
from planner.perf.measurements import METRIC_GROUPS, Case

MIN_ROWS_PER_FAMILY = 20
"""A GPU family gets its own factors in the shipped fit only with at least this many rows."""
BOUNDS = {
    "bw_eff": (0.3, 0.95),
    "decode_mfu": (0.1, 0.9),
    "prefill_mfu": (0.1, 0.9),
    "comm_eff": (0.1, 0.95),
    "step_overhead_ms": (0.0, 3.0),
}
"""Range of each factor (fractions of datasheet peaks; milliseconds per forward pass)."""
FACTORS = tuple(BOUNDS)
SPANS = (0.6, 0.3, 0.15, 0.07, 0.03)
"""Half-widths of the search grids, in turn (natural-log units for fractions; the overhead's span
is max(2 x span, 0.05) ms)."""
FIT_DATE = "2026-11-21"
"""As-of date of the shipped fit."""
FAILED_PREDICTION_LOSS = 5.0
"""Loss of a row whose prediction is not a positive finite number."""

START = Efficiency("default", 0.75, 0.5, 0.5, 0.7, 0.3, "", FIT_DATE)
"""Where the shipped fit starts (the search is deterministic from here)."""


def loss(cases: list[Case], eff: Efficiency) -> float:
    """Mean over metric groups of the group's mean |ln(predicted / measured)| (see the module)."""
    by_group: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        try:
            pred = predict(c, eff)
        except (ValueError, OverflowError, PlannerError):
            continue
        if pred <= 0 or not math.isfinite(pred):
            by_group[METRIC_GROUPS[c.metric]].append(FAILED_PREDICTION_LOSS)
            continue
        by_group[METRIC_GROUPS[c.metric]].append(abs(math.log(pred / c.measured)))
    return sum(sum(v) / len(v) for v in by_group.values()) / max(len(by_group), 1)


def grid(name: str, centre: float, span: float, n: int = 9) -> list[float]:
    """n trial values of factor `name` around `centre`, clipped to its BOUNDS, rounded to 4 decimals."""
    lo, hi = BOUNDS[name]
    if name == "step_overhead_ms":
        pts = [centre + span * (i - n // 2) / (n // 2) for i in range(n)]
    else:
        pts = [centre * math.exp(span * (i - n // 2) / (n // 2)) for i in range(n)]
    return sorted({round(min(hi, max(lo, p)), 4) for p in pts})


def fit(cases: list[Case], start: Efficiency) -> tuple[Efficiency, float]:
    """(factors, loss): coordinate descent from `start` (see the module docstring)."""
    best = start
    best_loss = loss(cases, best)
    for span in SPANS:
        improved = True
        while improved:
            improved = False
            for name in FACTORS:
                centre = getattr(best, name)
                s = span if name != "step_overhead_ms" else max(span * 2, 0.05)
                for value in grid(name, centre, s):
                    trial = dataclasses.replace(best, **{name: value})
                    value_loss = loss(cases, trial)
                    if value_loss < best_loss - 1e-9:
                        best, best_loss, improved = trial, value_loss, True
    return best, best_loss


def by_family(cases: list[Case]) -> dict[str, list[Case]]:
    """GPU family → its cases, families sorted by name."""
    out: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        out[c.deployment.gpu.family].append(c)
    return {f: out[f] for f in sorted(out)}


def fit_all(cases: list[Case]) -> dict[str, tuple[Efficiency, float, int]]:
    """{family: (factors, loss, rows)}: `default` on every row, then each family with at least
    MIN_ROWS_PER_FAMILY rows (the others use the default)."""
    default, default_loss = fit(cases, START)
    fitted = {"default": (default, default_loss, len(cases))}
    for family, fam_cases in by_family(cases).items():
        if len(fam_cases) < MIN_ROWS_PER_FAMILY:
            continue
        eff, fam_loss = fit(fam_cases, dataclasses.replace(default, family=family))
        fitted[family] = (eff, fam_loss, len(fam_cases))
    return fitted


def refit(cases: list[Case], eff_for: Callable[[Gpu], Efficiency]) -> dict[str, tuple[Efficiency, Efficiency, int]]:
    """{family: (factors before, factors after, rows)} for each GPU family in `cases`: `fit` on
    that family's rows, started from `eff_for(gpu)` (the catalogue's factors for the family, or
    its default's), renamed to the family."""
    out = {}
    for family, fam_cases in by_family(cases).items():
        before = dataclasses.replace(eff_for(fam_cases[0].deployment.gpu), family=family)
        after, _ = fit(fam_cases, before)
        out[family] = (before, after, len(fam_cases))
    return out
