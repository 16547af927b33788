"""The performance model's speed error per GPU family, for `planning.robustness: model_error`.

For each row of a measurements CSV that `planner validate` predicts, the *speed ratio* is what the
hardware did over what the model said, as a speed: measured / predicted for rates (tokens/s),
predicted / measured for times (TTFT, TPOT). Below 1 the model was optimistic. A family's *speed
factor* is the 10th percentile of its rows' ratios, capped at 1: on nine rows in ten the hardware
ran at least that fraction of the predicted speed (the one-sided p90 of the optimistic error).

Why the p90 and not the median: the fit is unbiased per family (its median ratio is within a few
percent of 1, see `tools/model_error.py`), so a median would derate nothing; headroom has to cover
the spread. Why one-sided: a pessimistic prediction costs money, an optimistic one costs the SLO.

Families fitted on their own rows use their own rows' ratios (in-sample: the rows the factors were
fitted on, so slightly optimistic). Families that use the `default` factors (no or too few
measurements) get the ratio pooled over leave-one-family-out predictions: each fitted family
predicted with a default refitted without it, the situation of a family never measured.
`tools/model_error.py --write` computes both and writes `catalog/model_error.csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from planner.catalog.engines import Engine, EngineFactors
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency
from planner.perf.calibration import percentile, predict
from planner.perf.engines import with_engine
from planner.perf.measurements import Case
from planner.errors import PlannerError

TIME_METRICS = frozenset({"ttft_ms", "tpot_ms"})
"""Metrics that are times (a faster deployment has a smaller value); the others are rates."""
SPEED_PERCENTILE = 10.0
"""The percentile of the speed ratios a family's factor is (10: nine rows in ten ran at least as fast)."""


def speed_ratio(case: Case, predicted: float) -> float:
    """Measured over predicted speed of one row: measured / predicted for a rate, predicted /
    measured for a time. Example: TPOT predicted 40 ms, measured 50 ms -> 0.8 (20 % slower)."""
    if case.metric in TIME_METRICS:
        return predicted / case.measured
    return case.measured / predicted


def speed_ratios(cases: Iterable[Case], eff_for: Callable[[Gpu], Efficiency],
                 engine_for: Callable[[Engine | None], EngineFactors] | None = None) -> list[tuple[str, float]]:
    """(GPU family, speed ratio) of every case the model predicts, in the cases' order; with each
    case's engine multipliers `engine_for(engine)` when given."""
    out = []
    for c in cases:
        eff = eff_for(c.deployment.gpu)
        if engine_for is not None:
            eff = with_engine(eff, engine_for(c.deployment.engine))
        try:
            pred = predict(c, eff)
        except (ValueError, OverflowError, ZeroDivisionError, PlannerError):
            continue
        if pred > 0:
            out.append((c.deployment.gpu.family, speed_ratio(c, pred)))
    return out


def speed_factor(ratios: list[float]) -> float:
    """min(1, the SPEED_PERCENTILE-th percentile of `ratios`) (linear interpolation, numpy's default).

    Example: ratios 0.5, 0.9, 1.0, 1.1, 1.2 -> position 0.4 between 0.5 and 0.9 -> 0.66."""
    if not ratios:
        raise ValueError("no ratios")
    return min(1.0, percentile(list(ratios), SPEED_PERCENTILE))
