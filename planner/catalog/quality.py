"""Quality of a precision (`quality.csv`): the published accuracy recovery of each weight format
against the model's 16-bit release, per model family and size class, and the `min_quality` levels.

A row is (family, params_b in [min_params_b, max_params_b), precision) → recovery % on a named
benchmark, with its source, as-of date and confidence. A row with family `*` is the precision's
fallback: the most conservative figure of the table for that precision, used for any family or
size with no row of its own (the parser checks that no family row is below it). Every catalogue
precision has a fallback row, so every (model, precision) has a figure.

Recovery = quantised score / 16-bit score x 100, rounded down to 0.1 (the GGUF rows use the
perplexity ratio PPL(FP16) / PPL(quantised) instead: llama.cpp publishes no accuracies).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from planner.catalog.models import Model
from planner.catalog.precisions import Precision
from planner.catalog.store import data_text, load_catalog
from planner.catalog.tables import CsvRow, read_csv
from planner.errors import CatalogError, Problem

MIN_QUALITY_PCT: dict[str, float | None] = {"lossless": 99.5, "near_lossless": 98.0, "any": None}
"""`workloads[].min_quality` → the least recovery % a precision needs on the table's benchmark."""

FALLBACK = "*"
QUALITY_COLUMNS = ("family", "min_params_b", "max_params_b", "precision", "recovery_pct", "benchmark", "measured_on",
                   "confidence", "source", "as_of", "notes")
CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True)
class Quality:
    """One row of `quality.csv`: how much of the 16-bit model's score a precision keeps."""

    family: str
    """A model family of models.csv, or `*` for the precision's fallback."""
    min_params_b: float
    max_params_b: float
    """Size class: models with min_params_b <= params_b < max_params_b (inf when open)."""
    precision: str
    recovery_pct: float
    benchmark: str
    measured_on: str
    """The model (and checkpoint kind) the figure was measured on."""
    confidence: str
    source: str
    as_of: str
    notes: str = ""

    @property
    def fallback(self) -> bool:
        return self.family == FALLBACK

    def covers(self, model: Model) -> bool:
        return self.family == model.family and self.min_params_b <= model.params_b < self.max_params_b


@dataclass(frozen=True)
class QualityTable:
    rows: tuple[Quality, ...]

    def figure(self, model: Model, precision: Precision | str) -> Quality:
        """The row for `model` at `precision`: its family and size class, else the precision's fallback."""
        pid = precision if isinstance(precision, str) else precision.id
        fallback = None
        for q in self.rows:
            if q.precision != pid:
                continue
            if q.covers(model):
                return q
            if q.fallback:
                fallback = q
        if fallback is None:
            raise CatalogError(f"catalog/quality.csv has no row for precision {pid!r}")
        return fallback


def shortfall(q: Quality, min_quality: str) -> tuple[str, float] | None:
    """(detail, miss ratio) when `q` is below the `min_quality` level, else None."""
    need = MIN_QUALITY_PCT[min_quality]
    if need is None or q.recovery_pct >= need:
        return None
    basis = "fallback for families with no row" if q.fallback else q.measured_on
    return (f"{q.precision} keeps {q.recovery_pct:g} % ({q.benchmark}; {basis}) < {need:g} % for "
            f"min_quality {min_quality}", need / q.recovery_pct)


def _bound(r: CsvRow, col: str) -> float | None:
    raw = (r.data.get(col) or "").strip()
    return None if not raw else r.num(col, positive=False)


def parse_quality(text: str, path: str, families: set[str], precisions: set[str]) -> QualityTable:
    """The rows of `quality.csv`; every problem located (CatalogError): unknown family or precision,
    a recovery outside (0, 100], an empty or overlapping size class, a second fallback, a fallback
    above a family row of its precision, a precision with no fallback."""
    problems: list[Problem] = []
    rows: list[tuple[int, Quality]] = []
    for line, data in read_csv(text, path, QUALITY_COLUMNS):
        r = CsvRow(path, line, data, problems)
        family = r.str("family")
        if family and family != FALLBACK and family not in families:
            r._err("family", f"unknown family {family!r}", "a family of catalog/models.csv, or * for the fallback")
        precision = r.str("precision")
        if precision and precision not in precisions:
            r._err("precision", f"unknown precision {precision!r}", "an id of catalog/precisions.csv")
        lo, hi = _bound(r, "min_params_b"), _bound(r, "max_params_b")
        lo = 0.0 if lo is None else lo
        hi = math.inf if hi is None else hi
        if family == FALLBACK and (lo, hi) != (0.0, math.inf):
            r._err("min_params_b", "a fallback row covers every size", "min_params_b and max_params_b empty")
        elif lo >= hi:
            r._err("max_params_b", f"size class [{lo:g}, {hi:g}) is empty", "min_params_b < max_params_b")
        pct = r.num("recovery_pct")
        if pct is not None and pct > 100:
            r._err("recovery_pct", f"must be at most 100 (got {pct:g})", "a percentage of the 16-bit score")
        rows.append((line, Quality(family=family, min_params_b=lo, max_params_b=hi, precision=precision,
                                   recovery_pct=pct or 0.0, benchmark=r.str("benchmark"),
                                   measured_on=r.str("measured_on"), confidence=r.choice("confidence", CONFIDENCES),
                                   source=r.str("source"), as_of=r.date("as_of"), notes=r.str("notes", required=False))))
    problems += _check_rows(path, rows, precisions)
    if problems:
        raise CatalogError(problems)
    return QualityTable(tuple(q for _, q in rows))


def _check_rows(path: str, rows: list[tuple[int, Quality]], precisions: set[str]) -> list[Problem]:
    problems = []
    fallbacks = {}
    for line, q in rows:
        if q.fallback:
            if q.precision in fallbacks:
                problems.append(Problem(f"second fallback row for {q.precision} (first at line {fallbacks[q.precision][0]})",
                                        file=path, line=line, key="family", expected="one * row per precision"))
            fallbacks.setdefault(q.precision, (line, q))
    for i, (line, q) in enumerate(rows):
        if q.fallback:
            continue
        for first, other in rows[:i]:
            if (other.family, other.precision) == (q.family, q.precision) and \
                    q.min_params_b < other.max_params_b and other.min_params_b < q.max_params_b:
                problems.append(Problem(f"size class overlaps the {q.family} {q.precision} row at line {first}", file=path,
                                        line=line, key="min_params_b", expected="disjoint size classes"))
        fb = fallbacks.get(q.precision)
        if fb is not None and fb[1].recovery_pct > q.recovery_pct:
            problems.append(Problem(f"the {q.precision} fallback (line {fb[0]}, {fb[1].recovery_pct:g} %) is above this "
                                    f"row's {q.recovery_pct:g} %", file=path, line=fb[0], key="recovery_pct",
                                    expected="the fallback at most the lowest figure of its precision"))
    for pid in sorted(precisions - set(fallbacks)):
        problems.append(Problem(f"no fallback row for precision {pid!r}", file=path, key="family",
                                expected="a * row for every precision of catalog/precisions.csv"))
    return problems


@functools.lru_cache(maxsize=1)
def load_quality() -> QualityTable:
    """The shipped quality table (cached)."""
    cat = load_catalog()
    return parse_quality(*data_text("quality.csv"), {m.family for m in cat.models.rows.values()},
                         set(cat.precisions.rows))
