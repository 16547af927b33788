"""JSON for programs: the contracts of `planner estimate`, `solve`, `compare` and `candidates`.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from planner.optimize.plan import Outcome
from planner.report.currency import add_currency, plan_currency
from planner.report.format import clean
from planner.report.records import STALE_AFTER_DAYS, outcome_record


def to_json(data: Any) -> str:
    return json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n"


def outcome_json(out: Outcome, timings: bool, today: dt.date) -> str:
    """The solve contract; with a `currency` other than USD also its `currency` block and the plans'
    `cost.in_currency` (`planner.report.currency.add_currency`)."""
    return to_json(add_currency(outcome_record(out, timings, today), plan_currency(out), today, STALE_AFTER_DAYS))
