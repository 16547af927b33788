"""planner: optimisation-based planning of LLM inference deployments."""

__version__ = "0.1.0"
