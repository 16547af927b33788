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

Engines (`fit_engine`): an engine multiplies three of its GPU family's factors (step overhead,
decode MFU, prefill MFU; `perf.engines.with_engine`). TensorRT-LLM, the engine of most rows, is the
reference (multipliers 1 by definition, so that family and engine factors are not confounded);
every other engine with at least MIN_ROWS_PER_ENGINE rows gets multipliers fitted on its rows with
the family factors held; an engine with fewer rows keeps 1 (`default`).

`fit_all` is the shipped fit, in three stages, each deterministic: (1) one `default` set on every
usable row from START, then one set per GPU family with at least MIN_ROWS_PER_FAMILY rows, each
started from the default, engines at 1; (2) each engine's multipliers with those family factors
held; (3) the default and family sets refitted from stage 1 with the engine multipliers applied.
Never per row or per SKU. `refit` is the user's: each family in the user's rows, started from the
factors the catalogue (or an overlay) already has for it, however few its rows, with the
catalogue's engine multipliers applied.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from planner.catalog.engines import Engine, EngineFactors
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency
from planner.errors import PlannerError
from planner.perf.calibration import predict
from planner.perf.engines import with_engine
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
FIT_DATE = "2026-12-05"
"""As-of date of the shipped fit."""
FAILED_PREDICTION_LOSS = 5.0
"""Loss of a row whose prediction is not a positive finite number."""

START = Efficiency("default", 0.75, 0.5, 0.5, 0.7, 0.3, "", FIT_DATE)
"""Where the shipped fit starts (the search is deterministic from here)."""

REFERENCE_ENGINE = "trtllm"
"""The engine whose multipliers are 1 by definition (the engine of most calibration rows)."""
MIN_ROWS_PER_ENGINE = 10
"""An engine gets multipliers of its own in the shipped fit only with at least this many rows."""
ENGINE_BOUNDS = {
    "step_overhead_factor": (0.2, 10.0),
    "decode_mfu_factor": (0.25, 4.0),
    "prefill_mfu_factor": (0.1, 4.0),
}
"""Range of each engine multiplier."""
ENGINE_FACTORS = tuple(ENGINE_BOUNDS)

Engines = dict[str, EngineFactors]
"""Engine id → multipliers (an engine not in it: 1)."""


def engine_id(c: Case) -> str:
    """The engine of a case (vLLM where the row names none the catalogue knows)."""
    return c.deployment.engine_id


def case_efficiency(eff: Efficiency, c: Case, engines: Engines | None) -> Efficiency:
    """The family factors `eff` with the multipliers of the case's engine (none: as they are)."""
    f = (engines or {}).get(engine_id(c))
    return with_engine(eff, f) if f is not None else eff


def loss(cases: list[Case], eff: Efficiency | Callable[[Case], Efficiency], engines: Engines | None = None) -> float:
    """Mean over metric groups of the group's mean |ln(predicted / measured)| (see the module).
    `eff`: one family set for every case, or a function giving each case's; `engines` multiply it."""
    by_group: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        base = eff(c) if callable(eff) else eff
        try:
            pred = predict(c, case_efficiency(base, c, engines))
        except (ValueError, OverflowError, PlannerError):
            continue
        if pred <= 0 or not math.isfinite(pred):
            by_group[METRIC_GROUPS[c.metric]].append(FAILED_PREDICTION_LOSS)
            continue
        by_group[METRIC_GROUPS[c.metric]].append(abs(math.log(pred / c.measured)))
    return sum(sum(v) / len(v) for v in by_group.values()) / max(len(by_group), 1)


def grid(name: str, centre: float, span: float, n: int = 9) -> list[float]:
    """n trial values of factor `name` around `centre`, clipped to its BOUNDS (or ENGINE_BOUNDS),
    rounded to 4 decimals."""
    lo, hi = BOUNDS[name] if name in BOUNDS else ENGINE_BOUNDS[name]
    if name == "step_overhead_ms":
        pts = [centre + span * (i - n // 2) / (n // 2) for i in range(n)]
    else:
        pts = [centre * math.exp(span * (i - n // 2) / (n // 2)) for i in range(n)]
    return sorted({round(min(hi, max(lo, p)), 4) for p in pts})


def _descend(start, names: tuple[str, ...], objective: Callable) -> tuple:
    """Coordinate descent over `names` of the dataclass `start` minimising `objective` (see the module)."""
    best = start
    best_loss = objective(best)
    for span in SPANS:
        improved = True
        while improved:
            improved = False
            for name in names:
                centre = getattr(best, name)
                s = span if name != "step_overhead_ms" else max(span * 2, 0.05)
                for value in grid(name, centre, s):
                    trial = dataclasses.replace(best, **{name: value})
                    value_loss = objective(trial)
                    if value_loss < best_loss - 1e-9:
                        best, best_loss, improved = trial, value_loss, True
    return best, best_loss


def fit(cases: list[Case], start: Efficiency, engines: Engines | None = None) -> tuple[Efficiency, float]:
    """(factors, loss): coordinate descent from `start` with the engine multipliers `engines` held."""
    return _descend(start, FACTORS, lambda e: loss(cases, e, engines))


def fit_engine(cases: list[Case], eff_of: Callable[[Case], Efficiency], start: EngineFactors) -> tuple[EngineFactors, float]:
    """(multipliers, loss) of one engine on its `cases`, each case's family factors `eff_of(case)` held."""
    return _descend(start, ENGINE_FACTORS, lambda f: loss(cases, eff_of, {f.engine: f}))


def by_engine(cases: list[Case]) -> dict[str, list[Case]]:
    """Engine id → its cases, engines sorted by id."""
    out: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        out[engine_id(c)].append(c)
    return {e: out[e] for e in sorted(out)}


def by_family(cases: list[Case]) -> dict[str, list[Case]]:
    """GPU family → its cases, families sorted by name."""
    out: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        out[c.deployment.gpu.family].append(c)
    return {f: out[f] for f in sorted(out)}


def fit_families(cases: list[Case], engines: Engines | None = None,
                 starts: dict[str, Efficiency] | None = None) -> dict[str, tuple[Efficiency, float, int]]:
    """{family: (factors, loss, rows)}: `default` on every row, then each family with at least
    MIN_ROWS_PER_FAMILY rows (the others use the default), started from `starts` where given
    (else START, and the default for a family), engine multipliers `engines` held."""
    starts = starts or {}
    default, default_loss = fit(cases, starts.get("default", START), engines)
    fitted = {"default": (default, default_loss, len(cases))}
    for family, fam_cases in by_family(cases).items():
        if len(fam_cases) < MIN_ROWS_PER_FAMILY:
            continue
        eff, fam_loss = fit(fam_cases, starts.get(family, dataclasses.replace(default, family=family)), engines)
        fitted[family] = (eff, fam_loss, len(fam_cases))
    return fitted


@dataclass(frozen=True)
class FitResult:
    """The shipped fit: family factors {family: (factors, loss, rows)} and engine multipliers
    {engine: (multipliers, loss, rows)} (every engine in the rows; `basis` says fitted or not)."""

    families: dict[str, tuple[Efficiency, float, int]]
    engines: dict[str, tuple[EngineFactors, float, int]]

    def efficiency_for(self, c: Case) -> Efficiency:
        """A case's factors: its family's (or the default) with its engine's multipliers."""
        fam = self.families.get(c.deployment.gpu.family, self.families["default"])[0]
        return case_efficiency(fam, c, self.engine_table())

    def engine_table(self) -> Engines:
        return {e: f for e, (f, _l, _n) in self.engines.items()}


def fit_all(cases: list[Case]) -> FitResult:
    """The shipped fit in its three stages (see the module docstring)."""
    stage1 = fit_families(cases)
    family_of = lambda c: stage1.get(c.deployment.gpu.family, stage1["default"])[0]
    engines: dict[str, tuple[EngineFactors, float, int]] = {}
    for eid, mine in by_engine(cases).items():
        if eid == REFERENCE_ENGINE:
            f = EngineFactors(eid, len(mine), "reference")
            engines[eid] = (f, loss(mine, family_of), len(mine))
        elif len(mine) >= MIN_ROWS_PER_ENGINE:
            f, f_loss = fit_engine(mine, family_of, EngineFactors(eid, len(mine), "fitted"))
            engines[eid] = (f, f_loss, len(mine))
        else:
            engines[eid] = (EngineFactors(eid, len(mine), "default"), loss(mine, family_of), len(mine))
    table = {e: f for e, (f, _l, _n) in engines.items()}
    families = fit_families(cases, table, {f: e for f, (e, _l, _n) in stage1.items()})
    return FitResult(families, engines)


def refit(cases: list[Case], eff_for: Callable[[Gpu], Efficiency],
          engine_for: Callable[[Engine | None], EngineFactors] | None = None) -> dict[str, tuple[Efficiency, Efficiency, int]]:
    """{family: (factors before, factors after, rows)} for each GPU family in `cases`: `fit` on
    that family's rows, started from `eff_for(gpu)` (the catalogue's factors for the family, or
    its default's), renamed to the family, with each case's engine multipliers `engine_for(engine)` held."""
    engines = None
    if engine_for is not None:
        engines = {c.deployment.engine_id: engine_for(c.deployment.engine) for c in cases}
    out = {}
    for family, fam_cases in by_family(cases).items():
        before = dataclasses.replace(eff_for(fam_cases[0].deployment.gpu), family=family)
        after, _ = fit(fam_cases, before, engines)
        out[family] = (before, after, len(fam_cases))
    return out
