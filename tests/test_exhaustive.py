"""Exhaustive cross-check of the fleet MILP against physically valid plans, every constraint family.

Random *small* `MilpInput` instances (synthetic candidates, host types and card costs built by
hand, no catalogue and no YAML) are solved with HiGHS and SCIP, and each optimum must equal the
cheapest plan found by `brute_force`, which enumerates plans by its own physical rules and never
looks at the MILP's inequalities. Both solvers must say infeasible exactly when no valid plan
exists. `bench/exhaustive_check.py` runs the same generator on thousands of instances.

A plan (the brute force's rules)
    static, the same every period: a count of every bought server type and of every owned host
    type (0..max_count); PCIe cards per GPU type, each card in one slot of one bought PCIe
    server (gpus_included=False) of its GPU, at most `slots` cards per server, every card bought
    in some server; racks. Per period: a count of every rented instance type, and replicas per
    candidate.
It is valid when
    placement    in every period every replica's TP group (tp GPUs of its candidate's type) is
                 assigned to ONE physical host whose GPUs it uses alone: a rented instance, an
                 owned host or a baseboard server (gpus_included=True) holds `slots` GPUs; a
                 PCIe server holds exactly the cards put into it. Checked by a backtracking
                 assignment of groups to host instances (`fits`), not by counting.
    demand       every workload and period: sum coverage x replicas >= the profile's level
                 (1.0 without a profile); min_replicas every period.
    owned first  no bought server, PCIe card or rented instance (in any period) of GPU g unless
                 every owned host type of g that could hold at least one TP group of g's
                 candidates (slots >= the smallest TP among them) is fully on (max_count).
                 Owned hosts too small for every candidate TP group of g need not be on.
    inventory    every period: GPUs in hosts whose price includes them (owned hosts on, baseboard
                 servers, that period's instances) + PCIe cards <= available[g].
    power        PUE x (power_w of bought servers and owned hosts on + cards x card power_w) /
                 1000 <= power_max_kw; rented instances are not in the facility.
    racks        with rack_usd set: ceil(rack units of the bought servers / 42) racks, each
                 rack_usd capex and rack_monthly_usd a month.
    budgets      capex <= capex_max_usd, monthly <= monthly_max_usd.
Its cost is capex + months x monthly; an instance-period costs monthly_usd / periods (instances
are rented period by period; the generator gives instances no capex).

Bounds on the enumeration (each only drops plans that a cheaper or equal valid plan replaces):
replicas of a candidate at most max(min_replicas, ceil(1 / coverage)), and only replica vectors
minimal for demand and min_replicas (a replica fewer frees GPUs and changes no cost); hosts of a
type at most ceil(GPUs of the groups that fit it / slots) (TP sizes and slots are powers of two,
so that many pack every such group, first fit decreasing); PCIe servers hold at least one card
(an empty one holds nothing) and cards of a GPU at most the GPUs its groups use; of two replica
choices in a period, one needing a superset of the other's TP groups on every GPU is dropped.
Instances only cost monthly, so each period's instances are chosen for the least rent given the
static hosts.

Coverages and profile levels are multiples of 0.01 (the brute force sums them as integers) and
prices integers with instance rents multiples of 6, so every plan costs a whole number of
dollars with 2 or 3 periods and the tie-break eps (EPS_USD_PER_REPLICA_GPU per replica-GPU per
period, divided by the periods) never reorders plans.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, replace

import pytest
from milp_factories import cand, card, cost_of, host, problem

from planner.money.costs import HostType
from planner.optimize.milp import (
    CONSTRAINT_FAMILIES,
    MilpInput,
    build,
    solve,
)

SOLVERS = ("highs", "scip")
RACK_UNITS = 42
"""A full-height rack (EIA-310), as the brute force counts it."""
N_INSTANCES = 400
CAP_FIELDS = {"capex": "capex_max_usd", "monthly": "monthly_max_usd", "power": "power_max_kw",
              "available": "available"}
"""The caps the generator draws, and their MilpInput fields."""
SEED = 20250101


# --------------------------------------------------------------------------------------------
# Helpers (the factories are in milp_factories.py)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# The brute force
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The cheapest valid plan the brute force found, and its figures."""

    cost: float
    capex: float
    monthly: float
    power_kw: float
    static: tuple[tuple[str, int], ...]
    """Bought server and owned host types -> count (nonzero only)."""
    card_layout: tuple[tuple[str, tuple[int, ...]], ...]
    """PCIe server type -> cards in each of its servers."""
    cards: tuple[tuple[str, int], ...]
    racks: int
    replicas: tuple[tuple[tuple[str, int], ...], ...]
    """Per period: candidate -> replicas (nonzero only)."""
    instances: tuple[tuple[tuple[str, int], ...], ...]
    """Per period: instance type -> count (nonzero only)."""
    installed: tuple[tuple[str, int], ...]
    """GPU type -> the most GPUs installed (priced-in GPUs + cards) in any period."""

    def text(self) -> str:
        periods = "; ".join(f"t{t}: replicas {dict(r)} instances {dict(i)}"
                            for t, (r, i) in enumerate(zip(self.replicas, self.instances)))
        return (f"cost {self.cost:,.2f} (capex {self.capex:,.2f}, monthly {self.monthly:,.2f}, {self.power_kw:.3f} kW); "
                f"static {dict(self.static)}; cards {dict(self.cards)} as {dict(self.card_layout)}; racks {self.racks}; "
                f"{periods}")


def _hundredths(x: float) -> int:
    v = round(x * 100)
    assert abs(v - x * 100) < 1e-6, f"{x} is not a multiple of 0.01 (the brute force sums hundredths)"
    return v


@functools.lru_cache(maxsize=500_000)
def fits(groups: tuple[int, ...], bins: tuple[int, ...]) -> bool:
    """Whether every TP group (sizes, largest first) can be assigned whole to one bin (a host's
    free GPUs), each GPU used by one group: backtracking over the bins for the largest group
    (bins with equal free GPUs are interchangeable, so one of each is tried)."""
    if not groups:
        return True
    if sum(groups) > sum(bins) or groups[0] > (bins[0] if bins else 0):
        return False
    first, rest = groups[0], groups[1:]
    tried = set()
    for i, b in enumerate(bins):
        if b >= first and b not in tried:
            tried.add(b)
            left = tuple(sorted((*bins[:i], b - first, *bins[i + 1:]), reverse=True))
            if fits(rest, tuple(x for x in left if x)):
                return True
    return False


def _minimal_vectors(counts_ok, ubs: list[int]) -> list[tuple[int, ...]]:
    """Replica vectors (each entry 0..ub) meeting `counts_ok`, keeping only the minimal ones (no
    other such vector is <= it everywhere)."""
    ok = [v for v in itertools.product(*(range(u + 1) for u in ubs)) if counts_ok(v)]
    return [v for v in ok if not any(u != v and all(a <= b for a, b in zip(u, v)) for u in ok)]


def _contains(big: tuple[int, ...], small: tuple[int, ...]) -> bool:
    """Multiset containment of TP-size tuples."""
    cb, cs = Counter(big), Counter(small)
    return all(cb[k] >= n for k, n in cs.items())


def brute_force(inp: MilpInput) -> Plan | None:
    """The cheapest physically valid plan (see the module docstring), or None when none exists."""
    T = inp.periods
    cands = inp.candidates
    gpus = sorted({c.gpu for c in cands})
    for h in inp.hosts:
        assert h.kind in ("instance", "server", "owned"), h
        assert h.gpus_included or h.kind == "server", "only bought servers come without GPUs"
        assert h.kind != "instance" or h.capex_usd == 0, "the brute force rents instances without capex"
        assert h.slots in (1, 2, 4, 8), h
    by_w = {w: [c for c in cands if c.workload == w] for w in inp.min_replicas}
    cov = {c.id: _hundredths(c.coverage) for c in cands}

    # Per period: the placement demands, one per joint choice of minimal replica vectors: for each
    # GPU the TP sizes of its groups (largest first), and the replicas behind it (for the report).
    demands: list[dict[tuple, dict[str, int]]] = []
    for t in range(T):
        per_w = []
        for w, cs in by_w.items():
            level = _hundredths(inp.profile.get(w, (1.0,) * T)[t])
            m = inp.min_replicas[w]
            ubs = [max(m, math.ceil(100 / cov[c.id])) for c in cs]
            vecs = _minimal_vectors(lambda v, cs=cs, level=level, m=m:
                                    sum(cov[c.id] * n for c, n in zip(cs, v)) >= level and sum(v) >= m, ubs)
            if not vecs:
                return None
            per_w.append([{c.id: n for c, n in zip(cs, v) if n} for v in vecs])
        found: dict[tuple, dict[str, int]] = {}
        for combo in itertools.product(*per_w):
            reps = {k: n for part in combo for k, n in part.items()}
            key = tuple(tuple(sorted((c.tp for c in cands if c.gpu == g for _ in range(reps.get(c.id, 0))),
                                     reverse=True)) for g in gpus)
            found.setdefault(key, reps)
        # A demand needing a superset of another's groups on every GPU is never needed.
        keys = list(found)
        demands.append({k: found[k] for k in keys
                        if not any(o != k and all(_contains(a, b) for a, b in zip(k, o)) for o in keys)})

    def gpus_fitting(gi: int, slots: int) -> int:
        """The most GPUs of GPU gi, in groups no larger than `slots`, any period needs."""
        return max(sum(s for s in d[gi] if s <= slots) for dem in demands for d in dem)

    # Static options per GPU: owned hosts on, baseboard servers, PCIe servers with their cards.
    per_gpu_options = []
    for gi, g in enumerate(gpus):
        hs = [h for h in inp.hosts if h.gpu == g]
        owned = [h for h in hs if h.kind == "owned"]
        board = [h for h in hs if h.kind == "server" and h.gpus_included]
        pcie = [h for h in hs if h.kind == "server" and not h.gpus_included and g in inp.cards]
        min_tp = min(c.tp for c in cands if c.gpu == g)
        useful_owned = [h for h in owned if h.slots >= min_tp]
        choices = [[(h, n, ()) for n in range(h.max_count + 1)] for h in owned]
        for h in board:
            choices.append([(h, n, ()) for n in range(math.ceil(gpus_fitting(gi, h.slots) / h.slots) + 1)])
        for h in pcie:
            cap = gpus_fitting(gi, h.slots)
            layouts = [()]
            for n in range(1, math.ceil(cap / h.slots) + 1):
                layouts += [lay for lay in itertools.combinations_with_replacement(range(h.slots, 0, -1), n)
                            if sum(lay) <= cap]
            choices.append([(h, len(lay), lay) for lay in layouts])
        card = inp.cards.get(g)
        options = []
        for pick in itertools.product(*choices):
            n_cards = sum(sum(lay) for _, _, lay in pick)
            acquired = n_cards > 0 or any(n for h, n, _ in pick if h.kind == "server")
            on = {h.id: n for h, n, _ in pick}
            full = all(on[h.id] == h.max_count for h in useful_owned)
            if acquired and not full:
                continue
            installed = sum(h.slots * n for h, n, _ in pick if h.gpus_included) + n_cards
            if g in inp.available and installed > inp.available[g]:
                continue
            bins = []
            for h, n, lay in pick:
                bins += list(lay) if not h.gpus_included else [h.slots] * n
            options.append({
                "gpu": g, "pick": pick, "full": full, "installed": installed, "cards": n_cards,
                "bins": tuple(sorted(bins, reverse=True)),
                "capex": sum(h.capex_usd * n for h, n, _ in pick) + (card.capex_usd * n_cards if card else 0.0),
                "monthly": sum(h.monthly_usd * n for h, n, _ in pick) + (card.monthly_usd * n_cards if card else 0.0),
                "power_w": sum(h.power_w * n for h, n, _ in pick) + (card.power_w * n_cards if card else 0.0),
                "units": sum(h.server.rack_units * n for h, n, _ in pick if h.kind == "server" and n),
            })
        per_gpu_options.append(options)

    instances = {g: [h for h in inp.hosts if h.gpu == g and h.kind == "instance"] for g in gpus}

    @functools.cache
    def rent(g: str, groups: tuple[int, ...], bins: tuple[int, ...], allowed: bool,
             avail_left: int | None) -> tuple[float, tuple[int, ...]] | None:
        """The least monthly rent of instances of g that, with the static bins, hold the groups."""
        if fits(groups, bins):
            return 0.0, ()
        if not allowed:
            return None
        types = instances[g]
        ranges = [range(math.ceil(sum(s for s in groups if s <= h.slots) / h.slots) + 1) for h in types]
        best = None
        for counts in itertools.product(*ranges):
            cost = sum(h.monthly_usd * n for h, n in zip(types, counts))
            if best is not None and cost >= best[0]:
                continue
            if avail_left is not None and sum(h.slots * n for h, n in zip(types, counts)) > avail_left:
                continue
            extra = [h.slots for h, n in zip(types, counts) for _ in range(n)]
            if fits(groups, tuple(sorted((*bins, *extra), reverse=True))):
                best = (cost, counts)
        return best

    statics = []
    for combo in itertools.product(*per_gpu_options):
        units = sum(o["units"] for o in combo)
        racks = math.ceil(units / RACK_UNITS) if inp.rack_usd is not None else 0
        capex = sum(o["capex"] for o in combo) + (inp.rack_usd or 0.0) * racks
        monthly = sum(o["monthly"] for o in combo) + (inp.rack_monthly_usd * racks if inp.rack_usd is not None else 0.0)
        power_kw = inp.pue * sum(o["power_w"] for o in combo) / 1000.0
        if inp.power_max_kw is not None and power_kw > inp.power_max_kw * (1 + 1e-9):
            continue
        if inp.capex_max_usd is not None and capex > inp.capex_max_usd + 1e-6:
            continue
        if inp.monthly_max_usd is not None and monthly > inp.monthly_max_usd + 1e-6:
            continue
        statics.append((capex + inp.months * monthly, capex, monthly, power_kw, racks, combo))
    statics.sort(key=lambda s: s[0])

    best: Plan | None = None
    for static_cost, capex, monthly, power_kw, racks, combo in statics:
        if best is not None and static_cost >= best.cost - 1e-9:
            break
        chosen = []
        for t in range(T):
            period_best = None
            for key, reps in demands[t].items():
                total, counts = 0.0, []
                for gi, o in enumerate(combo):
                    g = gpus[gi]
                    left = inp.available[g] - o["installed"] if g in inp.available else None
                    r = rent(g, key[gi], o["bins"], o["full"], left)
                    if r is None:
                        break
                    total += r[0]
                    counts.append(r[1])
                else:
                    if period_best is None or total < period_best[0]:
                        period_best = (total, reps, counts)
            if period_best is None:
                break
            chosen.append(period_best)
        else:
            rent_monthly = sum(p[0] for p in chosen) / T
            if inp.monthly_max_usd is not None and monthly + rent_monthly > inp.monthly_max_usd + 1e-6:
                continue
            cost = static_cost + inp.months * rent_monthly
            if best is None or cost < best.cost - 1e-9:
                inst_by_t = []
                installed = {}
                for total, reps, counts in chosen:
                    row = {}
                    for gi, cs in enumerate(counts):
                        for h, n in zip(instances[gpus[gi]], cs):
                            if n:
                                row[h.id] = n
                    inst_by_t.append(tuple(sorted(row.items())))
                    for gi, o in enumerate(combo):
                        g = gpus[gi]
                        n_inst = sum(h.slots * n for h, n in zip(instances[g], counts[gi]))
                        installed[g] = max(installed.get(g, 0), o["installed"] + n_inst)
                best = Plan(
                    cost=cost, capex=capex, monthly=monthly + rent_monthly, power_kw=power_kw,
                    static=tuple((h.id, n) for o in combo for h, n, _ in o["pick"] if n),
                    card_layout=tuple((h.id, lay) for o in combo for h, _, lay in o["pick"] if lay),
                    cards=tuple((o["gpu"], o["cards"]) for o in combo if o["cards"]), racks=racks,
                    replicas=tuple(tuple(sorted(reps.items())) for _, reps, _ in chosen),
                    instances=tuple(inst_by_t), installed=tuple(sorted(installed.items())),
                )
    return best


def static_configs(inp: MilpInput) -> int:
    """A cheap size estimate for the generator: static host combinations the brute force may visit."""
    total = 1
    gpus = {c.gpu for c in inp.candidates}
    gpu_ub = {g: sum(c.tp * max(inp.min_replicas[c.workload], math.ceil(1 / c.coverage - 1e-9))
                     for c in inp.candidates if c.gpu == g) for g in gpus}
    for h in inp.hosts:
        if h.gpu not in gpus:
            continue
        if h.kind == "owned":
            total *= h.max_count + 1
        elif h.kind == "server" and h.gpus_included:
            total *= math.ceil(gpu_ub[h.gpu] / h.slots) + 1
        elif h.kind == "server":
            n = math.ceil(gpu_ub[h.gpu] / h.slots)
            total *= sum(math.comb(h.slots + k - 1, k) for k in range(n + 1))
    return total


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


def _tp_and_coverage(rng: random.Random) -> tuple[int, float]:
    tp = rng.choice([1, 1, 2, 2, 2, 4, 4, 8])
    low = {1: 25, 2: 25, 4: 34, 8: 50}[tp]
    return tp, rng.randint(low, 100) / 100


def random_instance(rng: random.Random) -> MilpInput:
    """One random small instance.

    1-2 GPU types; each is either a PCIe GPU (bought as cards into empty 2/4/8-slot servers) or a
    baseboard GPU (bought servers of 1/2/4/8 GPUs), with 1-3 host types drawn from rented
    instances, bought servers and owned hosts (1-2 on hand). 1-2 workloads with 1-2 candidates
    each (TP 1, 2, 4 or 8; coverage a multiple of 0.01), min replicas 0-2; 1, 2 or 3 periods with
    a profile; months 1, 12 or 36; PUE 1, 1.25 or 1.5; racks priced on some. A third of the
    instances are built to expose PCIe-card pooling: a PCIe GPU with rented or owned hosts of the
    same GPU (1, 2 or 4 GPUs each) and a TP 2 or 4 candidate. Caps are added by `with_caps`.
    """
    T = rng.choice([1, 1, 2, 3])
    gpus = ["ga", "gb"][:rng.choice([1, 2])]
    pool = rng.random() < 1 / 3
    pcie = {g: (pool and i == 0) or rng.random() < 0.4 for i, g in enumerate(gpus)}
    hosts: list[HostType] = []
    racked = rng.random() < 0.4
    for i, g in enumerate(gpus):
        kinds = rng.sample(["instance", "server", "owned", "instance", "server"], rng.randint(1, 3))
        if pool and i == 0:
            kinds = ["server", rng.choice(["instance", "owned"]), *rng.sample(["instance", "owned"], rng.randint(0, 1))]
        seen = set()
        for kind in kinds:
            if kind == "server" and pcie[g]:
                slots = rng.choice([2, 4, 8])
            else:
                slots = rng.choice([1, 2, 4, 8] if not (pool and i == 0) else [1, 1, 2, 4])
            if (kind, slots) in seen:
                continue
            seen.add((kind, slots))
            hid = f"{g}/{kind}{slots}"
            if kind == "instance":
                hosts.append(host(hid, g, slots, monthly=6 * rng.randint(10, 120) * slots))
            elif kind == "server":
                per_gpu = 0 if pcie[g] else 100 * rng.randint(5, 40)
                hosts.append(host(hid, g, slots, kind="server", capex=100 * rng.randint(5, 40) + per_gpu * slots,
                                  monthly=rng.randint(0, 40) * (1 if pcie[g] else slots),
                                  power_w=50 * rng.randint(2, 8) * (1 if pcie[g] else slots),
                                  gpus_included=not pcie[g], rack_units=rng.choice([2, 4, 10, 21, 30])))
            else:
                hosts.append(host(hid, g, slots, kind="owned", monthly=rng.randint(5, 60) * slots,
                                  power_w=50 * rng.randint(2, 8) * slots, max_count=rng.randint(1, 2)))
    cards = {g: card(g, 100 * rng.randint(3, 30), monthly=rng.randint(0, 20), power_w=50 * rng.randint(2, 8))
             for g in gpus if pcie[g]}
    workloads = ["w1", "w2"][:rng.randint(1, 2)]
    cands = []
    for w in workloads:
        for j in range(rng.randint(1, 2)):
            tp, cov = _tp_and_coverage(rng)
            g = rng.choice(gpus)
            if pool and j == 0 and w == "w1":
                g, tp = gpus[0], rng.choice([2, 2, 4])
            cands.append(cand(w, g, tp, cov, id=f"{w}/{j}"))
    profile = {}
    if T > 1:
        for w in workloads:
            if rng.random() < 0.8:
                profile[w] = tuple(rng.choice([0.25, 0.5, 0.75, 1.0]) for _ in range(T))
    months = rng.choice([1, 12, 36]) if any(h.kind != "instance" for h in hosts) else 1
    return problem(cands, hosts, min_replicas={w: rng.choice([0, 0, 1, 2]) for w in workloads}, cards=cards,
                   months=months, pue=rng.choice([1.0, 1.25, 1.5]), periods=T, profile=profile,
                   rack_usd=100 * rng.randint(5, 30) if racked else None,
                   rack_monthly_usd=rng.randint(0, 20) if racked else 0.0)


def with_caps(inp: MilpInput, rng: random.Random) -> MilpInput:
    """Caps drawn from the instance's own optimum so that many bind. Each of capex, monthly,
    power and inventory (one GPU type) is, at random, absent, or set at the optimum's figure
    (tight, not binding), above it, far below it (infeasible), or binding: at the figure of the
    best plan below the optimum's (found by the brute force with the cap just under the optimum's
    figure), so that a dearer plan wins; just under the optimum's figure when no such plan exists."""
    best = brute_force(inp)
    if best is None or rng.random() < 0.35:
        return inp
    for quantity in rng.sample(list(CAP_FIELDS), rng.choice([1, 1, 2])):
        best = brute_force(inp)
        if best is None:
            break
        g = ""
        mode = rng.choice(["at", "above", "below", "bind", "bind", "bind", "bind"])
        if quantity == "power":
            figure, under = best.power_kw, best.power_kw - 1e-3
        elif quantity == "available":
            g, figure = rng.choice(best.installed)
            under = figure - 1
        else:
            figure = best.capex if quantity == "capex" else best.monthly
            under = figure - 1
        if figure <= 0:
            continue
        value = {"at": figure, "above": figure * 1.25, "below": figure * 0.5, "bind": under}[mode]
        if mode == "bind":
            alt = brute_force(_capped(inp, quantity, under, g))
            if alt is not None:
                value = {"capex": alt.capex, "monthly": alt.monthly, "power": alt.power_kw,
                         "available": dict(alt.installed).get(g, 0)}[quantity]
        inp = _capped(inp, quantity, value, g)
    return inp


def _capped(inp: MilpInput, quantity: str, value: float, gpu: str) -> MilpInput:
    """`inp` with one cap set: capex or monthly (whole dollars), power (kW) or available[gpu]."""
    if quantity == "available":
        return replace(inp, available={**inp.available, gpu: max(0, math.floor(value))})
    if quantity == "power":
        return replace(inp, power_max_kw=round(value, 6))
    return replace(inp, **{CAP_FIELDS[quantity]: math.floor(value)})


def small(inp: MilpInput) -> bool:
    """Small enough for the brute force to take milliseconds."""
    return static_configs(inp) <= 400


def instances(n: int, seed: int = SEED) -> list[MilpInput]:
    """`n` seeded random small instances (deterministic for a seed)."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        inp = random_instance(rng)
        if small(inp):
            out.append(with_caps(inp, rng))
    return out


def uncapped(inp: MilpInput) -> MilpInput:
    return replace(inp, capex_max_usd=None, monthly_max_usd=None, power_max_kw=None, available={})


def row_families(inp: MilpInput) -> set[str]:
    """The constraint families of the built model (row names are `<family>[...]` or `<family>`)."""
    return {c.name.split("[")[0] for c in build(inp)[0].linear_constraints()}


def pooling_prone(inp: MilpInput) -> bool:
    """PCIe cards and, on the same GPU, rented or owned hosts, with a TP >= 2 candidate there."""
    return any(g in inp.cards and any(h.gpu == g and h.kind in ("instance", "owned") for h in inp.hosts)
               for g in {c.gpu for c in inp.candidates if c.tp >= 2})


def reproducer(inp: MilpInput) -> str:
    """Python source that rebuilds `inp` with this module's factories."""
    cs = ",\n     ".join(f"cand({c.workload!r}, {c.gpu!r}, {c.tp}, {c.coverage}, id={c.id!r})" for c in inp.candidates)
    hs = []
    for h in inp.hosts:
        args = [repr(h.id), repr(h.gpu), str(h.slots), f"kind={h.kind!r}"]
        if h.capex_usd:
            args.append(f"capex={h.capex_usd:g}")
        if h.monthly_usd:
            args.append(f"monthly={h.monthly_usd:g}")
        if h.power_w:
            args.append(f"power_w={h.power_w:g}")
        if h.max_count is not None:
            args.append(f"max_count={h.max_count}")
        if not h.gpus_included:
            args.append("gpus_included=False")
        if h.server is not None:
            args.append(f"rack_units={h.server.rack_units}")
        hs.append(f"host({', '.join(args)})")
    kw = [f"min_replicas={inp.min_replicas!r}"]
    if inp.cards:
        kw.append("cards={" + ", ".join(f"{g!r}: card({g!r}, {k.capex_usd:g}, monthly={k.monthly_usd:g}, "
                                         f"power_w={k.power_w:g})" for g, k in inp.cards.items()) + "}")
    kw += [f"months={inp.months}", f"pue={inp.pue}"]
    for name in ("capex_max_usd", "monthly_max_usd", "power_max_kw", "rack_usd"):
        if getattr(inp, name) is not None:
            kw.append(f"{name}={getattr(inp, name)!r}")
    if inp.rack_usd is not None:
        kw.append(f"rack_monthly_usd={inp.rack_monthly_usd!r}")
    if inp.available:
        kw.append(f"available={inp.available!r}")
    if inp.periods > 1:
        kw += [f"periods={inp.periods}", f"profile={inp.profile!r}"]
    return (f"problem([{cs}],\n    [" + ",\n     ".join(hs) + "],\n    " + ", ".join(kw) + ")")


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


@functools.cache
def _test_set() -> list[MilpInput]:
    """The test's instances, built on first use (so that importing this module stays cheap)."""
    return instances(N_INSTANCES)


@functools.cache
def _expected(k: int) -> Plan | None:
    return brute_force(_test_set()[k])


@pytest.mark.parametrize("k", range(N_INSTANCES))
def test_exhaustive_agrees(k):
    """Both solvers' optimum (tie-break taken off) equals the cheapest physically valid plan, and
    both say infeasible exactly when there is none (see the module docstring for the rules).
    N_INSTANCES seeded instances (SEED): about 20 s for both solvers on a 2-core machine."""
    inp = _test_set()[k]
    expected = _expected(k)
    for solver in SOLVERS:
        sol = solve(inp, solver=solver)
        if expected is None:
            assert sol.status == "infeasible", (solver, sol, reproducer(inp))
        else:
            assert sol.status == "optimal", (solver, sol, reproducer(inp))
            assert cost_of(inp, sol) == pytest.approx(expected.cost, abs=1e-3), \
                (solver, expected.text(), sol, reproducer(inp))


def test_instances_cover_every_family_and_case():
    """The generated set is not degenerate. Every family of CONSTRAINT_FAMILIES is a row (name
    prefix) of some built model, and no row has another prefix. Feasible and infeasible instances
    occur, infeasible both with no cap and only because of caps; each of the capex, monthly, power
    and inventory caps binds in some feasible instance (a dearer plan wins with it); optimal plans
    use TP 1, 2, 4 and 8 replicas, several periods, rented + bought hosts in one plan (hybrid, with
    a profile), rented + bought + owned host types together, PCIe cards, owned hosts, racks; and
    many instances are PCIe-pooling prone (cards and rented or owned hosts of one GPU, TP >= 2)."""
    inputs = _test_set()
    families = set().union(*(row_families(inp) for inp in inputs))
    # Length-bucket routing (bucket_routing, replica_load, route_slices) has route variables, which this
    # enumeration of integer plans does not cover: its hand-derived tests are in test_milp.py.
    # Nor does it generate PSU-limited PCIe servers or an office's circuits (server_power_max,
    # site_power_max): theirs are in test_milp.py too. Batch runs (batch_*) have route variables too:
    # their hand-derived tests are in test_batch_runs.py. The mixing and redundancy rows (planning.mixing,
    # workloads[].redundancy, zones included; the generator leaves both at free / none) are in test_policy.py. Spot pools (spot_*,
    # batch_spot_share_max) are not generated: their hand-derived tests are in test_spot.py.
    physical = set(CONSTRAINT_FAMILIES) - {"bucket_routing", "replica_load", "route_slices", "server_power_max",
                                           "site_power_max", "batch_routing", "batch_load", "batch_packing",
                                           "batch_gpus_available", "batch_order", "deployment_used", "mixing_single",
                                           "bucket_served_by", "mixing_routed", "deployment_on", "one_replica",
                                           "spare_coverage", "spare_replica", "batch_rented_packing",
                                           "spot_replicas_max", "spot_packing", "spot_share_max", "batch_spot_share_max",
                                           "zone_size", "zone_hosts", "zone_replicas_min", "zone_coverage", "zone_replica"}
    assert families <= physical, sorted(families - physical)
    assert families == physical, sorted(physical - families)
    plans = [_expected(k) for k in range(N_INSTANCES)]
    assert sum(p is not None for p in plans) >= N_INSTANCES // 2
    assert sum(p is None and brute_force(uncapped(inp)) is None for inp, p in zip(inputs, plans)) >= 10
    assert sum(p is None and brute_force(uncapped(inp)) is not None for inp, p in zip(inputs, plans)) >= 10
    dearer = Counter()
    for inp, p in zip(inputs, plans):
        if p is None:
            continue
        for name, field in CAP_FIELDS.items():
            loose = replace(inp, **{field: {} if field == "available" else None})
            if loose != inp and p.cost > brute_force(loose).cost + 1e-6:
                dearer[name] += 1
    assert all(dearer[name] >= 2 for name in ("capex", "monthly", "power", "available")), dearer
    used = [(inp, p) for inp, p in zip(inputs, plans) if p is not None]
    tp_used = {c.tp for inp, p in used for rs in p.replicas for c in inp.candidates if dict(rs).get(c.id)}
    assert {1, 2, 4, 8} <= tp_used, tp_used
    kinds = [{h.kind for h in inp.hosts if h.id in dict(p.static) or any(h.id in dict(i) for i in p.instances)}
             for inp, p in used]
    assert sum(inp.periods > 1 for inp, _ in used) >= 20
    assert sum(inp.periods > 1 and inp.profile != {} and {"instance", "server"} <= k
               for (inp, _), k in zip(used, kinds)) >= 5
    assert sum({"instance", "server", "owned"} <= {h.kind for h in inp.hosts} for inp, _ in used) >= 10
    assert sum(bool(p.cards) for _, p in used) >= 20
    assert sum("owned" in k for k in kinds) >= 20
    assert sum(p.racks > 0 for _, p in used) >= 10
    assert sum(pooling_prone(inp) for inp, _ in used) >= 30


def _pooling(kind: str) -> MilpInput:
    """GPU g: a PCIe server (2 slots, $1,000, bought empty) with cards at $500, and a 1-GPU host of
    g: a rented instance ($100/month) or an owned host ($50/month, 1 on hand). Months = 1.
    `kind` picks the host; the owned case adds a TP1 candidate so that the owned host is useful."""
    cands = [cand("w1", "g", 2, 1.0, id="A")]
    if kind == "instance":
        hosts = [host("inst1", "g", 1, monthly=100)]
    else:
        cands.append(cand("w1", "g", 1, 0.25, id="B"))
        hosts = [host("own1", "g", 1, kind="owned", monthly=50, max_count=1)]
    hosts.append(host("pcie2", "g", 2, kind="server", capex=1000, gpus_included=False, rack_units=2))
    return problem(cands, hosts, cards={"g": card("g", 500)})


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind, expected", [("instance", 2000.0), ("owned", 2050.0)])
def test_pcie_cards_do_not_pool_with_other_hosts(solver, kind, expected):
    """The PCIe-card pooling reproducer in miniature (see `_pooling`).

    Rented: one TP2 replica (A, cov 1.0). Its two GPUs must sit in ONE host: the 1-GPU instance
    cannot hold it, so it goes on the PCIe server with 2 cards: 1,000 + 2 x 500 = $2,000. Counting
    the server's 2 slots for the TP2 group while one card plus the instance's GPU cover its two
    GPUs would give 1,000 + 500 + 100 = $1,600, a plan no hardware can run.
    Owned: the owned host holds a TP1 group of B, so it must be on before anything is bought
    ($50). A on the PCIe server with 2 cards: 50 + 2,000 = $2,050. Four B replicas instead: the
    owned host holds one, three go on cards in two PCIe servers: 50 + 2,000 + 1,500 = $3,550. The
    pooled miscount (A on the server with one card, the owned GPU as its second) gives $1,550.
    Optimum $2,000 (rented) and $2,050 (owned); the brute force agrees.
    """
    inp = _pooling(kind)
    assert brute_force(inp).cost == pytest.approx(expected)
    sol = solve(inp, solver=solver)
    assert sol.status == "optimal", sol
    assert cost_of(inp, sol) == pytest.approx(expected, abs=1e-3)
