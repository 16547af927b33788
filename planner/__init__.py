"""planner: optimisation-based planning of LLM inference deployments.

The facade (`planner.api`) is re-exported here: `planner.load`, `planner.estimate`,
`planner.plan`, `planner.compare`.
"""

__version__ = "0.1.0"

from planner.api import EstimateResult, PlanResult, compare, estimate, load, plan  # noqa: E402

__all__ = ["EstimateResult", "PlanResult", "compare", "estimate", "load", "plan", "__version__"]
