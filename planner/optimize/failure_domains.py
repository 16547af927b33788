"""Single points of failure of a plan: online workloads whose replicas all sit in one failure domain.

Read off the plan's placement (at its placement hour for plans that change by hour), two domains:
- **host**: every replica of the workload on one server or rented instance: losing that machine
  stops the service;
- **provider**: the replicas on several rented instances, all from one cloud provider: a provider
  (or region) outage stops it.
Bought and owned servers share one site by construction, so no site-level domain is reported.
Batch jobs are left out: a failed run is retried, nobody waits on it live.

The MILP plans spare replicas (`optimize.policy_rows`: N+1 against one lost replica); a lost host
may take several replicas at once. `host_losses` names each host whose loss leaves an online
workload's routed demand above what its remaining replicas carry at their planned capacity: one
bucket, sum over deployments of coverage x replicas left < the demand; several buckets, a
deployment's routed load (in replicas) > its replicas left (its buckets stay with it).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.optimize.plan import Plan

INSTANCE_PREFIX = "instance:"


@dataclass(frozen=True)
class SinglePoint:
    """All `replicas` of `workload` in one failure domain (`host` or `provider`) called `name`."""

    workload: str
    domain: str
    name: str
    replicas: int


def _workload_of(candidate_id: str) -> str:
    return candidate_id.split(":", 1)[0]


def _provider(host_label: str) -> str | None:
    """`lambda` of `instance:lambda/gpu_1x_gh200/gh200-96gb #3`; None for bought or owned servers."""
    if not host_label.startswith(INSTANCE_PREFIX):
        return None
    return host_label[len(INSTANCE_PREFIX):].split("/", 1)[0]


@dataclass(frozen=True)
class HostLoss:
    """Losing `host` takes `replicas` replicas of `workload` and leaves its demand uncarried."""

    workload: str
    host: str
    replicas: int


def host_losses(plan: Plan, online: set[str], multi: set[str]) -> list[HostLoss]:
    """Hosts of the plan's placement whose loss leaves an online workload short (see the module
    docstring); `multi`: the workloads planned with several length buckets."""
    lines = {d.candidate.id: d for d in plan.deployments}
    placed: dict[str, int] = {}
    for _, content in plan.placement:
        for cid in content:
            placed[cid] = placed.get(cid, 0) + 1
    out = []
    for label, content in plan.placement:
        lost: dict[str, int] = {}
        for cid in content:
            lost[cid] = lost.get(cid, 0) + 1
        for w in sorted({_workload_of(cid) for cid in lost} & online):
            mine = [d for cid, d in lines.items() if _workload_of(cid) == w and placed.get(cid)]
            if w in multi:
                short = any(d.capacity_used * placed[d.candidate.id] > placed[d.candidate.id] - lost.get(d.candidate.id, 0)
                            + 1e-9 for d in mine if d.routes)
            else:
                left = sum(d.candidate.coverage * (placed[d.candidate.id] - lost.get(d.candidate.id, 0)) for d in mine)
                short = left < sum(sum(d.routes.values()) for d in mine) - 1e-9
            if short:
                out.append(HostLoss(w, label, sum(n for cid, n in lost.items() if _workload_of(cid) == w)))
    return out


def single_points(plan: Plan, online: set[str]) -> list[SinglePoint]:
    """The single points of failure of `plan` for the workloads named in `online`, in placement order."""
    hosts: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for label, content in plan.placement:
        for cid in content:
            w = _workload_of(cid)
            if w in online:
                if label not in hosts.setdefault(w, []):
                    hosts[w].append(label)
                counts[w] = counts.get(w, 0) + 1
    out = []
    for w, labels in hosts.items():
        if len(labels) == 1:
            out.append(SinglePoint(w, "host", labels[0], counts[w]))
            continue
        providers = {_provider(label) for label in labels}
        if len(providers) == 1 and None not in providers:
            out.append(SinglePoint(w, "provider", providers.pop(), counts[w]))
    return out
