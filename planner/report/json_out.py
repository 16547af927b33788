"""JSON for programs: the contracts of `planner estimate`, `solve`, `compare` and `candidates`.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from planner.optimize.plan import Outcome
from planner.report.format import clean
from planner.report.records import outcome_record


def to_json(data: Any) -> str:
    return json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n"


def outcome_json(out: Outcome, timings: bool, today: dt.date) -> str:
    return to_json(outcome_record(out, timings, today))
