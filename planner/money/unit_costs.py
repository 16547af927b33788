"""Unit costs: what a plan costs per unit of work ($ per million tokens, per thousand requests) and
how hard its GPUs work (output tokens/s per GPU). Pure arithmetic on plain figures; the plan's
figures are gathered by `planner.optimize.usage`.

A plan's cost per month is its cost over the horizon per month, `total_usd / horizon_months`
(capex spread evenly, plus the monthly costs), so rented and bought plans compare. A plan that
serves several workloads on shared servers splits that cost by **GPU-hours**: a workload's share is
the GPU-hours its deployments run per month (replica GPUs x hours, hour by hour where the plan
changes by hour) over the GPU-hours of all deployments. Idle slots in a bought server, racks,
energy and the rest are shared in the same proportion.

    usd_per_million_output_tokens = usd_per_month / output_tokens_per_month x 10^6
    usd_per_million_tokens        = usd_per_month / (input + output tokens per month) x 10^6
    usd_per_1k_requests           = usd_per_month / requests_per_month x 1,000
    output_tokens_per_s_per_gpu   = output tokens/s at the peak / GPUs deployed at the peak

Volumes are the demand the plan is sized for: an online workload at its peak rate times its hourly
profile (flat: the peak every hour), a batch job at its steady rate (requests / deadline) every
hour of the month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["UnitCosts", "WorkloadUsage", "unit_costs"]

PER_MILLION = 1e6
PER_THOUSAND = 1e3


@dataclass(frozen=True)
class WorkloadUsage:
    """What one workload asks of a plan in a month, and the GPUs that serve it."""

    name: str
    requests_per_month: float
    input_tokens_per_month: float
    output_tokens_per_month: float
    gpu_hours_per_month: float
    peak_output_tokens_per_s: float
    peak_gpus: int


@dataclass(frozen=True)
class UnitCosts:
    """Unit costs of a workload (or, `name` None, of the whole plan)."""

    name: str | None
    usd_per_month: float
    cost_share: float
    requests_per_month: float
    output_tokens_per_month: float
    total_tokens_per_month: float
    gpu_hours_per_month: float
    usd_per_million_output_tokens: float | None
    usd_per_million_tokens: float | None
    usd_per_1k_requests: float | None
    output_tokens_per_s_per_gpu: float | None


def _per(usd: float, volume: float, scale: float) -> float | None:
    return usd / volume * scale if volume > 0 else None


def _costs(name: str | None, usd: float, share: float, requests: float, n_in: float, n_out: float,
           gpu_hours: float, peak_tok_s: float, peak_gpus: int) -> UnitCosts:
    return UnitCosts(  # counts reported whole (the unit costs use the exact figures)
        name=name, usd_per_month=usd, cost_share=share, requests_per_month=float(round(requests)),
        output_tokens_per_month=float(round(n_out)), total_tokens_per_month=float(round(n_in + n_out)),
        gpu_hours_per_month=gpu_hours,
        usd_per_million_output_tokens=_per(usd, n_out, PER_MILLION),
        usd_per_million_tokens=_per(usd, n_in + n_out, PER_MILLION),
        usd_per_1k_requests=_per(usd, requests, PER_THOUSAND),
        output_tokens_per_s_per_gpu=peak_tok_s / peak_gpus if peak_gpus > 0 else None,
    )


def unit_costs(usd_per_month: float, usage: Sequence[WorkloadUsage]) -> tuple[list[UnitCosts], UnitCosts]:
    """(per workload, whole plan) unit costs of a plan costing `usd_per_month` (see the module docstring)."""
    gpu_hours = sum(u.gpu_hours_per_month for u in usage)
    per = []
    for u in usage:
        share = u.gpu_hours_per_month / gpu_hours if gpu_hours > 0 else 0.0
        per.append(_costs(u.name, usd_per_month * share, share, u.requests_per_month, u.input_tokens_per_month,
                          u.output_tokens_per_month, u.gpu_hours_per_month, u.peak_output_tokens_per_s, u.peak_gpus))
    whole = _costs(None, usd_per_month, 1.0, sum(u.requests_per_month for u in usage),
                   sum(u.input_tokens_per_month for u in usage), sum(u.output_tokens_per_month for u in usage),
                   gpu_hours, sum(u.peak_output_tokens_per_s for u in usage), sum(u.peak_gpus for u in usage))
    return per, whole
