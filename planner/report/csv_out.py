"""CSV for spreadsheets: deployments, bills of materials, catalogue listings, candidates.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from planner.optimize.plan import Outcome
from planner.report.format import FLOAT_DIGITS
from planner.report.records import (
    BOM_COLUMNS,
    DEPLOYMENT_COLUMNS,
    bom_records,
    deployment_records,
)


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
    if isinstance(v, float):  # as in the JSON: FLOAT_DIGITS decimals, never an exponent for money
        return repr(round(v, FLOAT_DIGITS)) if math.isfinite(v) else ""
    if isinstance(v, (list, tuple)):
        return ";".join(str(x) for x in v)
    if v is None:
        return ""
    return v


def outcome_csv(out: Outcome) -> str:
    return to_csv(DEPLOYMENT_COLUMNS, [r for p in out.plans for r in deployment_records(p)])


def bom_csv(out: Outcome) -> str:
    return to_csv(BOM_COLUMNS, [r for p in out.plans for r in bom_records(p)])
