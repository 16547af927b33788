"""Replica placement: every replica's TP group on GPUs that are physically in one host.

A host is one rented instance, one server on hand or one bought baseboard server, each holding
`slots` GPUs that come with it; or one bought PCIe server, which holds only the PCIe cards put
into it (at most `slots`), out of the cards the plan buys for its GPU type.

`place` is first fit by decreasing TP size: hosts with their GPUs first (largest first), then
PCIe servers, each group taking cards from the plan's pool as it lands in a server; the cards
left over fill the free slots. With power-of-two sizes every free space is a multiple of the
group being placed, so a group that fits nowhere means every host that could take it is full:
first fit then packs as much as any placement can into the hosts with their GPUs and spills the
least onto cards, and succeeds whenever any placement does (and the MILP's `tp_packing`,
`card_packing`, `cards_cover` and `cards_fit` rows hold exactly then).

Work is linear in hosts x distinct candidates, not in replicas: copies of one group are placed
in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.money.costs import CardCost, HostType
from planner.optimize.plan import DeploymentLine


@dataclass
class _Bin:
    label: str
    host: HostType
    free: int
    content: list[str] = field(default_factory=list)
    cards: int = 0
    """PCIe cards put into this server (always 0 for hosts whose GPUs come with them)."""


@dataclass(frozen=True)
class Placement:
    """Where every replica runs, and what could not be placed."""

    hosts: list[tuple[str, list[str]]]
    """(host label #k, candidate id per replica placed on it), hosts in a stable order."""
    host_types: dict[str, HostType]
    """Host label #k → its host type."""
    cards: dict[str, int]
    """Host label → PCIe cards put into it (bought PCIe servers only)."""
    unplaced: list[str]
    """Candidate id per replica that fits no host."""
    spare_cards: dict[str, int]
    """GPU id → cards bought that fit no free server slot."""


def place(lines: list[DeploymentLine], hosts: list[tuple[HostType, int]],
          cards: list[tuple[CardCost, int]] = ()) -> Placement:
    """Put every replica of `lines` on `hosts` (counts per host type) with `cards` (PCIe cards per GPU)."""
    bins: list[_Bin] = []
    for h, n in sorted(hosts, key=lambda t: (-t[0].slots, t[0].id)):
        bins.extend(_Bin(f"{h.id} #{k + 1}", h, h.slots) for k in range(n))
    by_gpu: dict[str, list[_Bin]] = {}
    for b in sorted(bins, key=lambda b: not b.host.gpus_included):  # stable: hosts with their GPUs first
        by_gpu.setdefault(b.host.gpu, []).append(b)
    pool = {c.gpu: n for c, n in cards}
    unplaced: list[str] = []
    # A spot plan's spot replicas go on spot instances, the rest on other hosts (optimize.spot_rows).
    parts = []
    for d in lines:
        if d.spot_replicas is None:
            parts.append((d, d.replicas, None))
        else:
            parts += [(d, n, spot) for n, spot in ((d.spot_replicas, True), (d.replicas - d.spot_replicas, False))
                      if n > 0]
    for d, left, spot in sorted(parts, key=lambda t: (-t[0].candidate.tp, t[0].candidate.id, t[2] is False)):
        c = d.candidate
        for b in by_gpu.get(c.gpu, ()):
            if left == 0:
                break
            if spot is not None and b.host.is_spot != spot:
                continue
            fit = b.free // c.tp
            if not b.host.gpus_included:
                fit = min(fit, pool.get(c.gpu, 0) // c.tp)
            k = min(left, fit)
            if k <= 0:
                continue
            b.content.extend([c.id] * k)
            b.free -= k * c.tp
            left -= k
            if not b.host.gpus_included:
                b.cards += k * c.tp
                pool[c.gpu] -= k * c.tp
        unplaced.extend([c.id] * left)
    for b in bins:  # spare cards into free slots
        if not b.host.gpus_included and pool.get(b.host.gpu, 0) > 0:
            k = min(b.free, pool[b.host.gpu])
            b.cards += k
            b.free -= k
            pool[b.host.gpu] -= k
    return Placement(
        hosts=[(b.label, b.content) for b in bins],
        host_types={b.label: b.host for b in bins},
        cards={b.label: b.cards for b in bins if not b.host.gpus_included},
        unplaced=unplaced,
        spare_cards={g: n for g, n in sorted(pool.items()) if n > 0},
    )
