"""Batch jobs billed for the hours they run: the MILP rows of a job's run, and what a run costs.

A batch job (`batch:` in the workload file) with rented capacity is not a fleet rented all month:
it runs once, or every day, or every week, in a window of `deadline_hours` hours starting at
`start_hour`, on

- capacity the rest of the plan leaves idle in the hours of its window: GPUs of rented instances,
  bought baseboard servers and servers on hand (hosts that come with their GPUs) not used by online
  traffic in that hour, at no extra cost; and
- instances rented for the run (`run_hosts`), paid per instance-hour for the hours the plan uses
  (billing granularity `BILLING_GRANULARITY_H`, one hour, for every provider: the job's window is
  cut into hour slots and an instance used in a slot is billed for the whole hour).

Data (per job w)
    D_w               its window, hours (`deadline_hours`); slots k = 0 .. ceil(D_w) - 1 of one hour,
                      f_k = min(1, D_w - k) of slot k in the window (the last may be partial)
    p(k)              the plan's period that slot k falls in: (start_hour + k) mod 24 with hourly
                      periods (traffic profiles; alike hours merged unless in a window), else 0
    cov_c,b           as in `optimize.milp` (share of the demand rate requests / (3600 D_w) one replica
                      of c covers at bucket b): in a full hour one replica does cov_c,b / D_w of the job
    usd_h             instance $/h of rented host type h (monthly_h / hours_per_month)
Variables
    run_replicas[c,k]       integer >= 0: c's replicas running the job in slot k
    run_route[c,b,k]        continuous >= 0: the share of the job (bucket b) done by c in slot k
    run_hosts[w,h,k]        integer >= 0: instances of rented type h rented for the run in slot k
    idle_use[w,g,s,p]       continuous >= 0: GPUs of the plan's hosts of g with >= s slots (those that
                            come with their GPUs) that the job may use in period p, idle otherwise
Constraints
    batch_routing[w,b]      sum_{c, k} run_route[c,b,k] >= share_w,b: every request is done in the window
    batch_load[c,k]         D_w x sum_b run_route[c,b,k] / cov_c,b <= f_k a_w run_replicas[c,k], a_w the job's
                            restart allowance on spot (`JobWindow.availability`, 1 otherwise)
    batch_packing[w,g,s,k]  sum_{c of w on g, tp_c >= s} tp_c run_replicas[c,k]
                              <= idle_use[w,g,s,p(k)] + sum_{rented h on g, slots_h >= s} slots_h run_hosts[w,h,k]
                            and in `tp_packing[g,s,p]` the plan's own TP groups plus sum_w idle_use[w,g,s,p]
                            fit its hosts: the job's groups and the plan's fit together (the power-of-two
                            argument of tp_packing), on any day, as if every job ran at once (conservative)
    batch_order[w,k]        (slots k, k+1 with f = 1 in the same period p) sum_c tp_c run_replicas[c,k]
                              >= sum_c tp_c run_replicas[c,k+1]: such slots have the same rows, so any plan
                              can be reordered to meet this; it only cuts the solver's symmetric search
    batch_gpus_available[w,g,k]   the plan's GPUs of g in period p(k) + sum_h slots_h run_hosts[w,h,k]
                              <= available_g
Cost
    run_usd_w = sum_{h,k} usd_h run_hosts[w,h,k]           (one run)
    monthly  += runs_per_month_w x run_usd_w  for `daily` (730 / 24 runs) and `weekly` (730 / 168)
    once_usd  = sum_{once w} run_usd_w: added once to the objective and to the horizon total, never
                to the monthly cost nor multiplied by the horizon
Alike slots pooled (exact; this is what makes fleet-20 provable: every hour slot its own integer
choices left the solver to search the orderings of identical hours and stop at a 1e-4 gap)
    Slots k with the same period p(k) and fraction f_k have the same rows (`slot_groups`; with one
    period: the full hours, and the partial last one). For a job's GPU g in mode "pooled"
    (`pool_mode`: g has no `gpus.available` cap and every rented instance size on g is a multiple of
    the job's largest TP degree t_max there), per group G of n alike slots:
    run_rented[c,G]         integer: c's replica-hours on instances rented for the run over G
    run_hosts[w,h,G]        integer: instance-hours of h rented over G (billed as before)
    run_replicas[c,k]       now only c's replicas on the plan's idle GPUs in slot k
    run_route[c,b,G]        the share done by c over G; batch_load[c,G] reads
                            D_w sum_b run_route[c,b,G] / cov_c,b <= f_G (sum_{k in G} run_replicas[c,k] + run_rented[c,G])
    batch_packing[w,g,s,k]  sum_{c on g, tp_c >= s} tp_c run_replicas[c,k] <= idle_use[w,g,s,p(k)]
    batch_rented_packing[w,g,G]   sum_{c on g} tp_c run_rented[c,G] <= sum_{rented h on g} slots_h run_hosts[w,h,G]
    Why exact. (1) Split: with every instance size a multiple of t_max, the per-slot row of the
    unpooled model, U_s(r) <= I_s + V (U_s: GPUs of groups of size >= s, V: the slot's rented GPUs,
    the same for every s <= t_max), holds iff the groups split into a part within I_s for every s
    and a part of at most V GPUs: give the rented instances the largest groups first, up to V
    exactly (sizes divide t_max, which divides V); the rest, the smallest, keep U_s(rest) = 0 or
    U_s(r) - V <= I_s. (2) Pooling: groups whose sizes divide every instance size fit a set of
    instance-hours iff their GPUs do (first fit by decreasing size), and an instance-hour may be put
    in any slot of G (the slots are alike and nothing caps a slot's instances), so the rented parts
    of the slots of G may be summed, and the routes with them (batch_load summed over G, and spread
    back in proportion to the replicas). (3) Mode "hours" (t_max = 1, so only s = 1): the per-slot
    idle rows are r_k <= I_1 with integer r_k, so idle_use may be integer (rounding it down keeps
    every row) and n integer replica-hours fit n slots of I_1 each iff their sum is <= n I_1:
    run_idle[c,G] integer replica-hours on idle GPUs, batch_packing[w,g,1,G]
    sum_c run_idle[c,G] <= n idle_use[w,g,1,p(G)], and no per-slot variables. Where a rented
    instance is smaller than a group of the job's (mode "slots"), the rows stay per slot: there the
    per-slot row also lets a job's group use a plan host while a small instance takes the plan's
    GPUs, which no split reproduces. batch_order then orders the per-slot variables left in each
    group. `read` spreads a group's pooled hours back over its slots (`unpool`: instance-hours
    dealt in turn, the fewest instances at once), so a plan prints the same per-slot schedule form.
Not covered: bought PCIe cards (their idle slots are not offered to jobs), `min_replicas` (a job has
no redundancy to keep) and `planning.bucket_slices` (a job's buckets are split freely).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.optimize.milp_parts import EPS_USD_PER_REPLICA_GPU
from planner.units import HOURS_PER_DAY

BILLING_GRANULARITY_H = 1.0
"""Rented instances are billed per started hour (every provider in the catalogue bills by the
second or minute at most as coarsely as this; the catalogue has no per-provider column)."""
HOURS_PER_WEEK = 7 * HOURS_PER_DAY
GAP = 1e-9
"""Relative gap at which a model with batch runs is reported optimal: the same as every other model.
(With every hour slot its own integer choices, fleet-20 stopped at 1e-4 after 15 s on HiGHS; pooling
alike slots, see the module docstring, proves its optimum in about 5 s.)"""
DAILY_TIE_BREAK = 1e-9
"""A daily job's hour on a rented instance costs the same as that hour of the plan's own hourly
fleet; its run instances are priced this much lower in the model only, so the solver books them to
the run (and the run's reported cost is what it adds), not to the fleet."""
SCHEDULES = ("once", "daily", "weekly")


def runs_per_month(schedule: str, hours_per_month: float) -> float:
    """Runs a month: daily 730 / 24, weekly 730 / 168; a `once` job 0 (it is not a recurring cost)."""
    return {"once": 0.0, "daily": hours_per_month / HOURS_PER_DAY,
            "weekly": hours_per_month / HOURS_PER_WEEK}[schedule]


@dataclass(frozen=True)
class JobWindow:
    """A batch job billed by the run: its window and how often it runs."""

    hours: float
    """Window length (`deadline_hours`)."""
    start_hour: int
    schedule: str
    runs_per_month: float
    availability: float = 1.0
    """Share of the run's replica-hours that does work (`optimize.spot_rows.job_availability`: 1, or
    below 1 on spot, the restart allowance): batch_load counts its replicas at this."""

    @property
    def slots(self) -> int:
        return max(1, math.ceil(self.hours - 1e-9))

    def fraction(self, k: int) -> float:
        """Share of slot k inside the window."""
        return min(1.0, self.hours - k)

    def hour_of_day(self, k: int) -> int:
        return (self.start_hour + k) % HOURS_PER_DAY


@dataclass
class JobRun:
    """A solved run of one batch job."""

    workload: str
    window: JobWindow
    replicas: dict[str, list[int]] = field(default_factory=dict)
    """Candidate id → its replicas in each slot of the window."""
    work: dict[str, list[float]] = field(default_factory=dict)
    """Candidate id → share of the job it does in each slot."""
    run_hosts: dict[str, list[int]] = field(default_factory=dict)
    """Rented host id → instances rented for the run in each slot."""
    candidates: dict[str, object] = field(default_factory=dict)
    """Candidate id → the `Candidate` of each deployment in `replicas`."""
    hourly_usd: dict[str, float] = field(default_factory=dict)
    """Rented host id → instance $/h it is billed at."""
    usd_per_run: float = 0.0

    @property
    def usd_per_month(self) -> float:
        """Recurring cost a month (0 for a `once` job: see `usd_per_run`)."""
        return self.usd_per_run * self.window.runs_per_month

    def instance_hours(self, host_id: str) -> int:
        return sum(self.run_hosts.get(host_id, []))


def window_hours(windows: dict[str, JobWindow]) -> set[int]:
    """Hours of the day some job's window touches (such hours are never merged with others)."""
    return {w.hour_of_day(k) for w in windows.values() for k in range(w.slots)}


def period_of_hour(inp) -> list[int]:
    """Hour of the day → the MilpInput's period holding it (0 for every hour with one period)."""
    if not inp.hourly:
        return [0] * HOURS_PER_DAY
    if not inp.hours:
        return list(range(HOURS_PER_DAY))
    out = [0] * HOURS_PER_DAY
    for p, hs in enumerate(inp.hours):
        for t in hs:
            out[t] = p
    return out


def run_upper_bound(c, window: JobWindow) -> int:
    """Replicas of c in one slot an optimal plan never exceeds: the whole job in its smallest slot."""
    load = sum(s / cov for s, cov in zip(c.shares, c.coverage_by_bucket))
    f_min = min(window.fraction(k) for k in range(window.slots)) * window.availability
    return max(1, math.ceil(window.hours * load / f_min - 1e-9))


def slot_groups(inp, window: JobWindow) -> list[tuple[int, ...]]:
    """The window's slots grouped by alike rows (same period p(k), same fraction f_k), in order of
    their first slot: with one period, the full hours form one group and a partial last hour another."""
    period = period_of_hour(inp)
    out: dict[tuple[int, float], list[int]] = {}
    for k in range(window.slots):
        out.setdefault((period[window.hour_of_day(k)], window.fraction(k)), []).append(k)
    return [tuple(ks) for ks in out.values()]


def pool_mode(inp, g: str, g_cands: list, rented: list) -> str:
    """How a job's rows on GPU g are written (module docstring): "slots" (every slot its own rows),
    "pooled" (instances rented over alike slots pooled: g has no `gpus.available` cap and every
    instance size on g is a multiple of the job's largest TP group there) or "hours" (pooled, and every
    candidate on g is TP1, so its replica-hours on idle GPUs are pooled too)."""
    tp_max = max(c.tp for c in g_cands)
    if g in inp.available or any(h.slots % tp_max for h in rented):
        return "slots"
    return "hours" if tp_max == 1 else "pooled"


def _tag(ks: tuple[int, ...]) -> str:
    """Name suffix of a slot (kNN) or of a group of alike slots (kNNxN: first slot, count)."""
    return f"k{ks[0]:02d}" if len(ks) == 1 else f"k{ks[0]:02d}x{len(ks)}"


@dataclass
class RunVars:
    """The batch rows' variables, for reading the solution back."""

    replicas: dict[str, list] = field(default_factory=dict)
    """Candidate → per slot: its replicas in the slot (on the plan's idle GPUs only, where pooled);
    absent where its replica-hours on idle GPUs are pooled too (`idle_hours`)."""
    idle_hours: dict[str, dict[tuple[int, ...], object]] = field(default_factory=dict)
    """TP1 candidate in mode "hours" → group of alike slots → its replica-hours on idle GPUs there."""
    rented: dict[str, dict[tuple[int, ...], object]] = field(default_factory=dict)
    """Pooled candidate → group of alike slots → its replica-hours on instances rented for the run."""
    routes: dict[tuple[str, int], dict[tuple[int, ...], object]] = field(default_factory=dict)
    """(candidate, bucket) → slot group (one slot where not pooled) → share of the job done there."""
    hosts: dict[tuple[str, str], list] = field(default_factory=dict)
    """(job, rented host) → per slot: instances rented in the slot (not pooled)."""
    pooled_hosts: dict[tuple[str, str], dict[tuple[int, ...], object]] = field(default_factory=dict)
    """(job, rented host) → group of alike slots → instance-hours rented over the group (pooled)."""
    pools: dict[tuple[str, str], tuple[list, list, list]] = field(default_factory=dict)
    """(job, gpu) pooled → (its candidates, its rented host types, its slot groups), for `read`."""
    idle: dict[tuple[int, str, int], list] = field(default_factory=dict)
    """(period, gpu, s) → idle_use variables of every job (added to tp_packing)."""
    run_usd: dict[str, object] = field(default_factory=dict)
    """Job → its run cost expression."""


def add_rows(model, inp, hosts: dict[str, list], host_of: dict, installed) -> RunVars:
    """Add every job's variables and rows to `model` (`hosts`: the plan's host variables per period;
    `installed(g, p)`: the plan's GPUs of g in period p, for gpus_available_max)."""
    zero = 0.0
    out = RunVars()
    period = period_of_hour(inp)
    tp_sizes = (1, 2, 4, 8)
    for w, window in inp.runs.items():
        cs = [c for c in inp.candidates if c.workload == w]
        slots = range(window.slots)
        groups = slot_groups(inp, window)
        singles = [(k,) for k in slots]
        out.run_usd[w] = zero
        gpus = sorted({c.gpu for c in cs})
        on = {g: [c for c in cs if c.gpu == g] for g in gpus}
        rented = {g: [h for h in host_of.values() if h.gpu == g and h.kind == "instance"] for g in gpus}
        mode = {g: pool_mode(inp, g, on[g], rented[g]) for g in gpus}
        ub = {c.id: run_upper_bound(c, window) for c in cs}
        for g in gpus:
            if mode[g] != "slots":
                out.pools[w, g] = (on[g], rented[g], groups)
        for c in cs:
            m = mode[c.gpu]
            if m != "hours":
                out.replicas[c.id] = [model.add_integer_variable(lb=0, ub=ub[c.id], name=f"run_replicas[{c.id},k{k:02d}]")
                                      for k in slots]
            else:
                out.idle_hours[c.id] = {ks: model.add_integer_variable(lb=0, ub=ub[c.id] * len(ks),
                                                                       name=f"run_idle[{c.id},{_tag(ks)}]") for ks in groups}
            if m != "slots":
                out.rented[c.id] = {ks: model.add_integer_variable(lb=0, ub=ub[c.id] * len(ks),
                                                                   name=f"run_rented[{c.id},{_tag(ks)}]") for ks in groups}
            for ks in (singles if m == "slots" else groups):
                for b in c.buckets:
                    out.routes.setdefault((c.id, b), {})[ks] = model.add_variable(
                        lb=0.0, name=f"run_route[{c.id},b{b},{_tag(ks)}]")
                load = sum((window.hours * out.routes[c.id, b][ks] / cov
                            for b, cov in zip(c.buckets, c.coverage_by_bucket)), zero)
                running = sum((out.replicas[c.id][k] for k in ks if c.id in out.replicas), zero) + \
                    out.rented.get(c.id, {}).get(ks, zero) + out.idle_hours.get(c.id, {}).get(ks, zero)
                # Scaled by the largest coverage: a replica that does a job millions of times an hour
                # would otherwise give its routes coefficients below the solver's feasibility tolerance.
                scale = max(1.0, *c.coverage_by_bucket)
                model.add_linear_constraint(
                    ub=0.0, expr=scale * load - scale * window.fraction(ks[0]) * window.availability * running,
                    name=f"batch_load[{c.id},{_tag(ks)}]")
        per_slot = [c for c in cs if c.id in out.replicas]
        for ks in groups if per_slot else ():
            for k, nxt in zip(ks, ks[1:]):
                used = [sum(c.tp * out.replicas[c.id][j] for c in per_slot) for j in (k, nxt)]
                model.add_linear_constraint(lb=0.0, expr=used[0] - used[1], name=f"batch_order[{w},k{k:02d}]")
        for b, share in enumerate(inp.shares.get(w, (1.0,))):
            model.add_linear_constraint(
                lb=share, expr=sum((v for c in cs if b in c.buckets for v in out.routes[c.id, b].values()), zero),
                name=f"batch_routing[{w},b{b}]")
        for g in gpus:
            g_cs = on[g]
            for h in rented[g]:
                hub = math.ceil(sum(c.tp * ub[c.id] for c in g_cs) / h.slots)
                usd_h = h.monthly_usd / inp.hours_per_month * (1.0 - DAILY_TIE_BREAK if window.schedule == "daily" else 1.0)
                if mode[g] != "slots":
                    out.pooled_hosts[w, h.id] = {ks: model.add_integer_variable(
                        lb=0, ub=hub * len(ks), name=f"run_hosts[{w},{h.id},{_tag(ks)}]") for ks in groups}
                    billed = list(out.pooled_hosts[w, h.id].values())
                else:
                    out.hosts[w, h.id] = [model.add_integer_variable(lb=0, ub=hub, name=f"run_hosts[{w},{h.id},k{k:02d}]")
                                          for k in slots]
                    billed = out.hosts[w, h.id]
                out.run_usd[w] = out.run_usd[w] + sum(usd_h * BILLING_GRANULARITY_H * v for v in billed)
            for ks in groups if mode[g] != "slots" else ():
                used = sum(c.tp * out.rented[c.id][ks] for c in g_cs)
                room = sum((h.slots * out.pooled_hosts[w, h.id][ks] for h in rented[g]), zero)
                model.add_linear_constraint(ub=0.0, expr=used - room, name=f"batch_rented_packing[{w},{g},{_tag(ks)}]")
            with_gpus = [h for h in host_of.values() if h.gpu == g and h.gpus_included]
            for s in tp_sizes:
                lhs = [c for c in g_cs if c.tp >= s]
                if not lhs:
                    continue
                idle = {}
                if any(h.slots >= s for h in with_gpus):
                    for p in sorted({period[window.hour_of_day(k)] for k in slots}):
                        name = f"idle_use[{w},{g},{s},p{p:02d}]"
                        idle[p] = (model.add_integer_variable(lb=0, name=name) if mode[g] == "hours"
                                   else model.add_variable(lb=0.0, name=name))
                        out.idle.setdefault((p, g, s), []).append(idle[p])
                if mode[g] == "hours":  # TP1 only (s = 1): a group's replica-hours within its hours x idle GPUs
                    for ks in groups:
                        used = sum(out.idle_hours[c.id][ks] for c in lhs)
                        model.add_linear_constraint(ub=0.0, expr=used - len(ks) * idle.get(period[window.hour_of_day(ks[0])], zero),
                                                    name=f"batch_packing[{w},{g},{s},{_tag(ks)}]")
                    continue
                for k in slots:
                    used = sum(c.tp * out.replicas[c.id][k] for c in lhs)
                    room = sum((h.slots * out.hosts[w, h.id][k] for h in rented[g] if h.slots >= s and mode[g] == "slots"),
                               zero)
                    room = room + idle.get(period[window.hour_of_day(k)], zero)
                    model.add_linear_constraint(ub=0.0, expr=used - room, name=f"batch_packing[{w},{g},{s},k{k:02d}]")
            if g in inp.available and rented[g]:
                for k in slots:
                    extra = sum(h.slots * out.hosts[w, h.id][k] for h in rented[g])
                    model.add_linear_constraint(ub=inp.available[g],
                                                expr=installed(g, period[window.hour_of_day(k)]) + extra,
                                                name=f"batch_gpus_available[{w},{g},k{k:02d}]")
    return out


def tie_break(rv: RunVars, by_id: dict):
    """The tie-break term of the run replicas (as the plan's own: EPS per replica-GPU-hour / 24), so that
    no replica runs on idle GPUs without work to do."""
    per_slot = [by_id[c].tp * v for c, vs in rv.replicas.items() for v in vs]
    pooled_ = [by_id[c].tp * v for pool in (rv.rented, rv.idle_hours) for c, by_group in pool.items()
               for v in by_group.values()]
    return sum((EPS_USD_PER_REPLICA_GPU / HOURS_PER_DAY * x for x in per_slot + pooled_), 0.0)


def tie_break_usd(runs: dict) -> float:
    """`tie_break` at a solution's runs."""
    return sum(EPS_USD_PER_REPLICA_GPU / HOURS_PER_DAY * run.candidates[c].tp * sum(n)
               for run in runs.values() for c, n in run.replicas.items())


def recurring_usd_per_month(inp, rv: RunVars):
    """The daily and weekly jobs' run costs a month (an expression)."""
    return sum((inp.runs[w].runs_per_month * e for w, e in rv.run_usd.items()), 0.0)


def once_usd(inp, rv: RunVars):
    """The once-jobs' run costs (an expression), paid once."""
    return sum((e for w, e in rv.run_usd.items() if inp.runs[w].schedule == "once"), 0.0)


def unpool(groups: dict[str, int], tp: dict[str, int], bins: list[tuple[str, int]], ks: tuple[int, ...],
           replicas: dict[str, list[int]], run_hosts: dict[str, list[int]]) -> None:
    """Spread a pooled group's rented replica-hours (`groups`: candidate → its TP groups, of `tp[c]`
    GPUs) and instance-hours (`bins`: (host id, GPUs) per instance-hour, largest first) over its slots
    `ks`: the TP groups go first fit by decreasing size into the instance-hours (they fit by
    batch_rented_packing, every group size dividing every instance's), and the instance-hours are dealt
    to the slots in turn (the fewest instances at once). Adds to `replicas` and `run_hosts` per slot."""
    free = [size for _, size in bins]
    where: list[list[str]] = [[] for _ in bins]
    for cid in sorted(groups, key=lambda c: (-tp[c], c)):
        for _ in range(groups[cid]):
            i = next(i for i, room in enumerate(free) if room >= tp[cid])
            free[i] -= tp[cid]
            where[i].append(cid)
    for i, (hid, _) in enumerate(bins):
        k = ks[i % len(ks)]
        run_hosts[hid][k] += 1
        for cid in where[i]:
            replicas[cid][k] += 1


def read(inp, rv: RunVars, values) -> dict[str, JobRun]:
    """Each job's solved run from the solver's variable values (pooled instance-hours spread over
    their slots by `unpool`)."""
    out = {}
    price = {h.id: h.monthly_usd / inp.hours_per_month for h in inp.hosts}
    for w, window in inp.runs.items():
        run = JobRun(workload=w, window=window)
        n_slots = window.slots
        cs = [c for c in inp.candidates if c.workload == w]
        replicas = {c.id: [round(values[v]) for v in rv.replicas[c.id]] if c.id in rv.replicas else [0] * n_slots
                    for c in cs}
        run_hosts = {hid: [round(values[v]) for v in vs] for (job, hid), vs in rv.hosts.items() if job == w}
        for (job, g), (g_cs, rented, groups) in sorted(rv.pools.items()):
            if job != w:
                continue
            for ks in groups:
                for c in g_cs:  # replica-hours on idle GPUs: dealt in turn, so at most ceil(n / len(ks)) a slot
                    for i in range(round(values[rv.idle_hours[c.id][ks]]) if c.id in rv.idle_hours else 0):
                        replicas[c.id][ks[i % len(ks)]] += 1
                need = {c.id: round(values[rv.rented[c.id][ks]]) for c in g_cs}
                bins = [(h.id, h.slots) for h in sorted(rented, key=lambda h: (-h.slots, h.id))
                        for _ in range(round(values[rv.pooled_hosts[w, h.id][ks]]))]
                for h in rented:
                    run_hosts.setdefault(h.id, [0] * n_slots)
                unpool(need, {c.id: c.tp for c in g_cs}, bins, ks, replicas, run_hosts)
        for c in cs:
            n = replicas[c.id]
            if max(n) > 0:
                run.replicas[c.id] = n
                run.candidates[c.id] = c
        # The share of each bucket done in each slot: a pooled group's share goes to its slots in
        # proportion to c's replicas there (batch_load holds for the group, so for each slot).
        work: dict[tuple[str, int], list[float]] = {}
        for c in cs:
            for b in c.buckets:
                x = [0.0] * n_slots
                for ks, v in rv.routes[c.id, b].items():
                    done = max(values[v], 0.0)
                    total = sum(replicas[c.id][k] for k in ks)
                    for k in ks:
                        x[k] += done * (replicas[c.id][k] / total if total else (1.0 if k == ks[0] else 0.0))
                work[c.id, b] = x
        # batch_routing is a >= row: work beyond a bucket's share is free; report what is done.
        for b, share in enumerate(inp.shares.get(w, (1.0,))):
            keys = [(c.id, b) for c in cs if c.id in run.replicas and b in c.buckets]
            done = sum(sum(work[key]) for key in keys)
            if done > share > 0:
                for key in keys:
                    work[key] = [x * share / done for x in work[key]]
        for cid in run.replicas:
            run.work[cid] = [sum(work[cid, b][k] for b in run.candidates[cid].buckets) for k in range(n_slots)]
        run.run_hosts = {h: n for h, n in sorted(run_hosts.items()) if max(n) > 0}
        run.hourly_usd = {h: price[h] for h in run.run_hosts}
        run.usd_per_run = sum(price[h] * BILLING_GRANULARITY_H * sum(n) for h, n in sorted(run.run_hosts.items()))
        out[w] = run
    return out
