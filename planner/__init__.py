"""planner: optimisation-based planning of LLM inference deployments.

The facade (`planner.api`) is re-exported here: `planner.load`, `planner.estimate`,
`planner.plan`, `planner.simulate`, `planner.compare`, `planner.export`, `planner.schema`,
`planner.sweep`, `planner.validate`, `planner.calibrate`. It is imported on first use, so `planner --help` and
`planner estimate` do not pay for the whole chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["CalibrationResult", "EstimateResult", "ExportResult", "PlanResult", "SweepResult", "calibrate", "compare",
           "estimate", "export", "load", "plan", "schema", "simulate", "sweep", "validate", "__version__"]

if TYPE_CHECKING:
    from planner.api import (
        CalibrationResult,
        EstimateResult,
        ExportResult,
        PlanResult,
        SweepResult,
        calibrate,
        compare,
        estimate,
        export,
        load,
        plan,
        schema,
        simulate,
        sweep,
        validate,
    )


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "__version__":
        from planner import api

        return getattr(api, name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
