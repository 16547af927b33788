"""Replica placement: every replica's TP group on GPUs that are physically in one host.

A host is one rented instance, one server on hand or one bought baseboard server, each holding
`slots` GPUs that come with it; or one bought PCIe server, which holds only the PCIe cards put
into it (at most `slots`), out of the cards the plan buys for its GPU type.

`place` first spreads each workload's replicas over the hosts of their GPU, those that come with
their GPUs first, then bought PCIe servers with cards from the pool (water-filling: the most of one
workload on any host as small as it can be), so that one lost
host takes as few of them as it can (`failure_domains.host_losses`); when
that leaves a replica or a card unplaced it falls back to first fit by decreasing TP size, which
places whatever any placement can:

First fit by decreasing TP size: hosts with their GPUs first (largest first), then
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
    per_workload: dict[str, int] = field(default_factory=dict)
    """Workload → its replicas spread onto this host (`_spread`)."""


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
    """Put every replica of `lines` on `hosts` (counts per host type) with `cards` (PCIe cards per GPU):
    spread (each replica on the host of its GPU that holds the fewest of its workload's replicas, so
    one lost host takes as few as it can) when that places everything, else first fit."""
    spread = _place(lines, hosts, cards, spread=True)
    if not spread.unplaced and not spread.spare_cards:
        return spread
    return _place(lines, hosts, cards, spread=False)


def _place(lines: list[DeploymentLine], hosts: list[tuple[HostType, int]], cards, spread: bool) -> Placement:
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
    # Largest groups first; when spreading, among equal sizes the deployments of fewest replicas
    # first (a small pool is the one a host holding two of its replicas leaves short).
    order = (lambda t: (-t[0].candidate.tp, t[1], t[0].candidate.id, t[2] is False)) if spread else \
        (lambda t: (-t[0].candidate.tp, t[0].candidate.id, t[2] is False))
    for d, left, spot in sorted(parts, key=order):
        c = d.candidate
        if spread:
            left = _spread(c, left, [b for b in by_gpu.get(c.gpu, ()) if spot is None or b.host.is_spot == spot], pool)
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


def _spread(c, left: int, bins: list[_Bin], pool: dict[str, int]) -> int:
    """Spread replicas of `c` over its GPU's bins: water-filling, so that the most replicas of its
    workload on any one bin is as small as it can be (ties to the earlier bins). Bins whose GPUs come
    with them first; then, with what is left, bought PCIe servers, each group taking cards from `pool`
    as it lands. Returns the replicas left (for first fit) when they are full. Linear in bins, not
    replicas."""
    left = _fill(c, left, [(i, b) for i, b in enumerate(bins) if b.host.gpus_included], None)
    return _fill(c, left, [(i, b) for i, b in enumerate(bins) if not b.host.gpus_included], pool)


def _fill(c, left: int, indexed: list[tuple[int, _Bin]], pool: dict[str, int] | None) -> int:
    """Water-fill `left` replicas of `c` into `indexed` bins (PCIe servers when `pool` is given: at
    most the pool's cards in all)."""
    workload = c.id.split(":", 1)[0]
    bins = dict(indexed)
    idx = [i for i, b in indexed if b.free >= c.tp]
    cap = {i: bins[i].free // c.tp for i in idx}
    mine = {i: bins[i].per_workload.get(workload, 0) for i in idx}
    n = min(left, sum(cap.values()), pool.get(c.gpu, 0) // c.tp if pool is not None else left)
    if n == 0:
        return left

    def fill(level: int) -> int:
        return sum(min(cap[i], max(0, level - mine[i])) for i in idx)

    lo, hi = 1, max(mine[i] + cap[i] for i in idx)
    while lo < hi:  # the least level whose fill holds n replicas
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fill(mid) >= n else (mid + 1, hi)
    x = {i: min(cap[i], max(0, lo - 1 - mine[i])) for i in idx}
    extra = n - sum(x.values())
    for i in idx:
        if extra == 0:
            break
        if mine[i] + x[i] == lo - 1 and x[i] < cap[i]:
            x[i] += 1
            extra -= 1
    for i, k in x.items():
        if k:
            b = bins[i]
            b.content.extend([c.id] * k)
            b.free -= k * c.tp
            b.per_workload[workload] = b.per_workload.get(workload, 0) + k
            if pool is not None:
                b.cards += k * c.tp
                pool[c.gpu] -= k * c.tp
    return left - n
