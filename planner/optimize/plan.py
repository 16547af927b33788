"""A solved plan: its deployments, hosts with the replicas placed on them, bill of materials and
cost summary; and the `Outcome` of solving one workload file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.catalog.price_rows import PriceBook
from planner.catalog.quality import Quality
from planner.catalog.resolve import Resolved
from planner.money.bom import BomLine
from planner.money.compare import Comparison
from planner.money.costs import CardCost, HostType
from planner.optimize.candidates import Candidate, CandidateSet, Rejection
from planner.optimize.milp import MilpSolution

OBJECTIVE_PRICINGS = {"rent": ("rent",), "buy": ("buy",), "compare": ("rent", "buy"), "hybrid": ("rent", "buy", "hybrid")}
"""Plans each objective solves: `hybrid` also solves all-rent and all-buy, to report what it saves."""


@dataclass(frozen=True)
class DeploymentLine:
    """Replicas of one candidate in a plan, and the requests routed to them at the workload's peak."""

    candidate: Candidate
    replicas: int
    routes: dict[int, float]
    """Bucket index → share of the workload's peak demand sent to this deployment."""
    capacity_used: float
    """Share of the replicas' planned capacity (at max_utilization) the routed demand takes:
    sum_b route_b / coverage_b / replicas."""
    spot_replicas: int | None = None
    """Spot plans (`rent.pricing: spot`): of the replicas, those on spot instances; None in other plans."""

    @property
    def rental(self) -> str:
        """`spot`, `on-demand` or `2 spot + 1 on-demand` in a spot plan; empty in other plans."""
        if self.spot_replicas is None:
            return ""
        spot, rest = self.spot_replicas, self.replicas - self.spot_replicas
        return "spot" if rest == 0 else "on-demand" if spot == 0 else f"{spot} spot + {rest} on-demand"

    @property
    def utilization(self) -> float:
        """Share of the replicas' SLO capacity (before the max_utilization headroom) the demand takes."""
        return self.capacity_used * self.candidate.max_utilization

    @property
    def capacity_qps(self) -> float:
        """Requests/s the replicas take at their planned capacity on the mix routed to them (on the
        candidate's own bucket mix when nothing is routed)."""
        if self.capacity_used > 0:
            return self.demand_qps / self.capacity_used
        return self.replicas * self.candidate.capacity_qps

    @property
    def demand_qps(self) -> float:
        """Requests/s routed to these replicas at the workload's peak."""
        return sum(self.routes.values()) * self.candidate.demand_qps


@dataclass
class Plan:
    pricing: str
    solution: MilpSolution
    deployments: list[DeploymentLine]
    hosts: list[tuple[HostType, int]]
    """Hosts and their counts; rented instances at their peak hour's count when they scale by hour."""
    cards: list[tuple[CardCost, int]]
    placement: list[tuple[str, list[str]]]
    """(host label #k, candidate ids placed on it, one per replica)."""
    placement_cards: dict[str, int]
    """Bought PCIe server label #k → PCIe cards put into it (the groups' GPUs, then spare cards)."""
    bom: list[BomLine]
    capex_usd: float
    monthly_usd: float
    horizon_months: int
    power_kw: float
    """Facility power of the physical hosts (nameplate x PUE); 0 when everything is rented."""
    periods: int = 1
    """1, or 24 when rented instances scale hour by hour with the traffic profile."""
    peak_hour: int | None = None
    """With hourly periods: the hour the placement shows (the most replica-GPUs in use)."""
    workload_peak_hours: dict[str, int] = field(default_factory=dict)
    """With hourly periods: workload → its busiest hour (where routes, predictions and the simulation are taken)."""
    predicted: dict[str, dict] = field(default_factory=dict)
    """Online workload → its SLO and the queueing model's p50/p90/p99 at the plan's load (`serving_check.predict`)."""
    line_latencies: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """Candidate id → (TTFT, TPOT, E2E) seconds at its SLO percentile at the routed load, worst routed bucket."""
    once_usd: float = 0.0
    spot_hosts: list[HostType] = field(default_factory=list)
    """Spot plans: the spot host types the plan and its batch runs rent (their interruption rates)."""
    """Run cost of the once-jobs (batch jobs with `schedule: once`): paid once, in `total_usd` but not
    in `monthly_usd` nor multiplied by the horizon."""
    simulation: object | None = None
    """`serving_check.SimulationCheck` when the plan was simulated (`--simulate`, `planner simulate`)."""
    quality: dict[str, Quality] = field(default_factory=dict)
    """Candidate id → the published quality of its precision on its model (catalog/quality.csv)."""
    factors: dict[str, tuple[str, bool, str, str]] = field(default_factory=dict)
    """Candidate id → (its GPU family, whether that family's efficiency factors were fitted: False
    when the family has no row and the `default` factors stand in (catalog/efficiency.csv, or a
    --calibration overlay), its engine id, the engine multipliers' basis: `fitted`, `reference` or
    `default` (catalog/engine_factors.csv))."""
    sensitivity: object | None = None
    """`sensitivity.Sensitivity` when asked for (`solve --sensitivity`): the fleet under more demand and slower steps."""

    @property
    def total_usd(self) -> float:
        return self.capex_usd + self.horizon_months * self.monthly_usd + self.once_usd

    @property
    def runs(self) -> dict:
        """Batch workload billed by the run → its `batch_runs.JobRun`."""
        return self.solution.runs


@dataclass
class Outcome:
    """What `solve_file` returns."""

    resolved: Resolved
    candidates: CandidateSet
    book: PriceBook
    plans: list[Plan] = field(default_factory=list)
    pricing_rejections: dict[str, list[Rejection]] = field(default_factory=dict)
    comparison: Comparison | None = None
    """Rent against buy, for `objective: compare` (the first rent and buy plans); else None."""
    hybrid_savings_usd: dict[str, float] | None = None
    """For `objective: hybrid`: what the hybrid plan saves against all-rent and all-buy."""


def peak_hour(sol: MilpSolution, by_id: dict[str, Candidate]) -> int:
    """The hour with the most replica-GPUs in use (0 with one period); ties go to the earliest."""
    if not sol.replicas_by_hour:
        return 0
    n = len(next(iter(sol.replicas_by_hour.values())))
    load = [sum(by_id[k].tp * v[t] for k, v in sol.replicas_by_hour.items()) for t in range(n)]
    return max(range(n), key=lambda t: (load[t], -t))


def replicas_at(sol: MilpSolution, candidate_id: str, period: int | None, default: int) -> int:
    """Replicas of a candidate in `period` when the plan scales by hour; `default` (its count) otherwise."""
    by_hour = sol.replicas_by_hour.get(candidate_id)
    return by_hour[period] if by_hour and period is not None else default


def lines_at_hour(lines: list[DeploymentLine], sol: MilpSolution, hour: int) -> list[DeploymentLine]:
    """The deployments as they run in `hour` (all of them, as planned, with one period)."""
    if not sol.replicas_by_hour:
        return lines
    from dataclasses import replace

    return [replace(d, replicas=sol.replicas_by_hour[d.candidate.id][hour],
                    spot_replicas=None if d.spot_replicas is None else sol.spot_replicas.get(d.candidate.id, [0] * (
                        hour + 1))[hour]) for d in lines]


def hosts_at_hour(hosts: list[tuple[HostType, int]], sol: MilpSolution, hour: int) -> list[tuple[HostType, int]]:
    """The hosts in use in `hour`: bought and owned all day, rented instances as rented that hour."""
    return [(h, sol.hosts_by_hour[h.id][hour] if h.id in sol.hosts_by_hour else n) for h, n in hosts]
