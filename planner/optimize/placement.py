"""Replica placement: every replica's TP group inside one host.

`place` puts TP groups first fit by decreasing TP size, hosts largest first; with power-of-two
sizes this succeeds whenever the MILP's packing inequalities hold.
"""

from __future__ import annotations

from planner.money.costs import HostType
from planner.optimize.plan import DeploymentLine


def place(lines: list[DeploymentLine], hosts: list[tuple[HostType, int]]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Replicas placed on hosts: ([(host label #k, [candidate id per replica])], [unplaced ids])."""
    bins: list[tuple[str, str, list[str]]] = []  # (label, GPU, candidate ids)
    free: dict[str, int] = {}
    for h, n in sorted(hosts, key=lambda t: (-t[0].slots, t[0].id)):
        for k in range(n):
            label = f"{h.id} #{k + 1}"
            bins.append((label, h.gpu, []))
            free[label] = h.slots
    items = sorted(((d.candidate.tp, d.candidate.id, d.candidate.gpu) for d in lines for _ in range(d.replicas)),
                   key=lambda t: (-t[0], t[1]))
    unplaced = []
    for tp, cid, gpu in items:
        for label, _, content in (b for b in bins if b[1] == gpu):
            if free[label] >= tp:
                content.append(cid)
                free[label] -= tp
                break
        else:
            unplaced.append(cid)
    return [(label, content) for label, _, content in bins], unplaced
