"""Small pieces of the fleet MILP's building and solving: which hosts are chosen hour by hour,
distinct variables, the name check, replica bounds, the tie-break term, keeping solver output off
stdout, and the solution record."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from dataclasses import dataclass, field

from planner.errors import SolverBug
from planner.money.costs import HostType

_ZERO = 0.0
"""Start value of sums that may be empty; such rows are added with the `lb=`/`ub=`, `expr=` form,
which takes a constant (`0.0 <= cap` written with operators would be a Python bool)."""
ROUTE_EPS = 1e-9
"""Routes below this share of a workload's demand are solver noise and are not reported."""
RACK_UNITS = 42
"""Height of a full-height rack (EIA-310), in rack units."""
EPS_USD_PER_REPLICA_GPU = 1e-4
"""The objective's tie-break term per replica-GPU (and period, averaged over the day)."""


def hourly(h: HostType, inp) -> bool:
    """Rented instances are chosen hour by hour when the MilpInput `inp` has hourly periods; the
    rest is static."""
    return inp.hourly and h.kind == "instance"


def bays_of(h: HostType) -> int:
    """Cards a bought PCIe server's bays and slot widths take (its `slots` where the catalogue gives no more)."""
    return h.bays if h.bays is not None else h.slots


def distinct(variables: list) -> list:
    """The distinct variables of a per-period list (a static host repeats one variable)."""
    out, seen = [], set()
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def check_unique_names(model) -> None:
    """MathOpt rejects duplicate names with an opaque StatusNotOk; say which name instead."""
    seen: set[str] = set()
    for name in [v.name for v in model.variables()] + [c.name for c in model.linear_constraints()]:
        if name in seen:
            raise SolverBug(f"internal: duplicate MILP name {name!r} (a bug in planner)")
        seen.add(name)


SOLVER_LOG = logging.getLogger("planner.solver")
"""At DEBUG (`planner --debug`), what the solvers write goes to stderr; otherwise it is dropped."""


@contextlib.contextmanager
def solver_output_to_stderr():
    """Keep what a solver's C++ code writes to the process's stdout (file descriptor 1) off stdout
    while it runs, so stdout carries only the report (a stray line would break `--format json`):
    to stderr when SOLVER_LOG is at DEBUG, else nowhere (solver logs and debug chatter, such as
    HiGHS's when it takes a solution hint, are not the report; its status and gap are)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real descriptor 1 (an embedding host): nothing to guard
        yield
        return
    sink = None
    try:
        if SOLVER_LOG.isEnabledFor(logging.DEBUG):
            os.dup2(2, 1)
        else:
            sink = os.open(os.devnull, os.O_WRONLY)
            os.dup2(sink, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        if sink is not None:
            os.close(sink)


def eps_usd(inp, sol) -> float:
    """The tie-break term inside a solution's objective value: EPS_USD_PER_REPLICA_GPU per
    replica-GPU, averaged over the periods (take it off the objective to get the plan's cost)."""
    tp = {c.id: c.tp for c in inp.candidates}
    if sol.replicas_by_hour:
        gpu_periods = sum(tp[k] * n for k, v in sol.replicas_by_hour.items() for n in v)
    else:
        gpu_periods = inp.periods * sum(tp[k] * n for k, n in sol.replicas.items())
    runs = sum(run.candidates[c].tp * sum(n) for run in sol.runs.values() for c, n in run.replicas.items())
    return EPS_USD_PER_REPLICA_GPU * (gpu_periods / inp.periods + runs / 24)  # batch runs: as batch_runs.tie_break


def replica_upper_bound(c, min_replicas: int) -> int:
    """Replicas of one candidate an optimal plan never exceeds: enough to carry every bucket it
    serves and the minimum on their own (dropping any beyond that keeps every constraint)."""
    load = sum(s / cov for s, cov in zip(c.shares, c.coverage_by_bucket))
    return max(min_replicas, math.ceil(load - 1e-9))


@dataclass
class MilpSolution:
    status: str
    """optimal | feasible (a limit stopped the search) | infeasible"""
    solver: str
    seconds: float
    objective_usd: float | None
    bound_usd: float | None
    gap: float | None
    replicas: dict[str, int] = field(default_factory=dict)
    """Candidate id → replicas (the most in any hour when there are hourly periods)."""
    hosts: dict[str, int] = field(default_factory=dict)
    """Host id → count (static hosts; and, with one period, rented instances)."""
    cards: dict[str, int] = field(default_factory=dict)
    racks: int = 0
    replicas_by_hour: dict[str, list[int]] = field(default_factory=dict)
    """With hourly periods: candidate id → replicas in each hour."""
    routes: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    """(candidate id, bucket index) → share of the workload's peak demand routed there, per period
    (workloads with several length buckets; one-bucket workloads' routes follow from the replicas)."""
    hosts_by_hour: dict[str, list[int]] = field(default_factory=dict)
    """With hourly periods: rented instance id → instances in each hour."""
    n_variables: int = 0
    n_constraints: int = 0
    runs: dict = field(default_factory=dict)
    """Batch workload billed by the run → its `batch_runs.JobRun` (replicas and rented instances per slot)."""
    spot_replicas: dict[str, list[int]] = field(default_factory=dict)
    """Spot plans: candidate id → its replicas on spot instances, per period (`optimize.spot_rows`)."""
    models: int = 1
    """MILP models solved: 1, or (hour by hour, `optimize.by_hour`) one per distinct demand level;
    n_variables and n_constraints are then summed over those models."""


CONSTRAINT_FAMILIES = {
    "demand_coverage": "each workload's demand is covered by its replicas (workloads of one length bucket)",
    "bucket_routing": "each length bucket's requests are routed to deployments that serve it",
    "replica_load": "a deployment's routed load, summed over buckets as rate / capacity, fits its replicas",
    "route_slices": "with planning.bucket_slices, each bucket is routed in whole equal slices",
    "min_replicas": "each workload runs at least its minimum replica count",
    "pcie_replicas_max": "replicas on PCIe cards are some of the candidate's replicas",
    "tp_packing": "every TP group fits inside one host of its GPU type that comes with its GPUs",
    "card_packing": "every TP group on PCIe cards fits inside one bought PCIe server's bays and slot widths",
    "server_power_max": "every TP group on PCIe cards fits a bought PCIe server whose PSU can power it",
    "cards_cover": "PCIe cards bought cover the GPUs of the TP groups placed on PCIe servers",
    "cards_fit": "PCIe cards bought fit in the bought servers' slots",
    "owned_first": "GPUs on hand that can serve are used before any of the same type is bought or rented",
    "gpus_available_max": "at most the available number of each GPU type",
    "rack_space": "bought servers fit in the bought 42U racks",
    "budget_capex_max": "capex within budget.capex_usd",
    "budget_monthly_max": "monthly cost within budget.monthly_usd",
    "power_max": "facility power (PUE included) within power_kw_max",
    "site_power_max": "an office's servers draw no more than its circuits give (site: office)",
    "batch_routing": "every request of a batch job billed by the run is done within its window",
    "batch_load": "a batch job's work in an hour slot fits the replicas running it then",
    "batch_packing": "a batch job's TP groups fit the GPUs the plan leaves idle plus instances rented for the run",
    "batch_rented_packing": "a batch job's TP groups on instances rented for the run fit those instance-hours, pooled over alike hour slots",
    "batch_gpus_available": "the plan's GPUs plus a run's rented GPUs within gpus.available",
    "batch_order": "alike hour slots of a batch job's window are used in order (symmetry breaking)",
    "deployment_used": "mixing single (or routed, one bucket): a candidate has replicas only if it is the one chosen",
    "mixing_single": "mixing single (or routed, one bucket): at most one deployment type per workload",
    "bucket_served_by": "mixing routed: a bucket is routed to a candidate only if it is the one serving it",
    "mixing_routed": "mixing routed: at most one deployment type serves each length bucket",
    "deployment_on": "redundancy: a candidate has replicas only if it is switched on in that period",
    "one_replica": "default redundancy: the spare rows are waived only when the workload runs one replica",
    "spare_coverage": "N+1, one bucket: the demand stays covered with any one replica lost",
    "spare_replica": "N+1, several buckets: every deployment carries one replica beyond its routed load",
    "zone_size": "zones: no host holds more than ceil(replicas / N) of a deployment",
    "zone_hosts": "zones: N hosts that can hold a deployment exist wherever it runs",
    "zone_replicas_min": "zones: at least N replicas whenever the workload has demand",
    "zone_coverage": "zones, one bucket: the demand stays covered with any one host's share lost",
    "zone_replica": "zones, several buckets: every deployment carries its largest host share beyond its routed load",
    "spot_replicas_max": "replicas on spot instances are some of the candidate's replicas",
    "spot_packing": "every TP group on spot instances fits inside one spot instance of its GPU type",
    "spot_share_max": "at most rent.spot_max_share of a workload's capacity is on spot instances",
    "batch_spot_share_max": "at most rent.spot_max_share of a batch run's GPU-hours are on spot instances",
}
"""Every constraint family, with what it says. Row names are `<family>[<index>]`."""
