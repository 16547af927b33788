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
GAP = 1e-4
"""Relative gap at which a model with batch runs is reported optimal (1e-9 otherwise): a job's hour
slots are many alike integer choices coupled to the plan through its idle GPUs, and closing the last
0.01 % takes minutes on fleet-20 (HiGHS: 16 s to 1e-4, not proven to 1e-6 in 60 s)."""
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


@dataclass
class RunVars:
    """The batch rows' variables, for reading the solution back."""

    replicas: dict[str, list] = field(default_factory=dict)
    routes: dict[tuple[str, int], list] = field(default_factory=dict)
    hosts: dict[tuple[str, str], list] = field(default_factory=dict)
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
        out.run_usd[w] = zero
        for c in cs:
            ub = run_upper_bound(c, window)
            out.replicas[c.id] = [model.add_integer_variable(lb=0, ub=ub, name=f"run_replicas[{c.id},k{k:02d}]")
                                  for k in slots]
            for b in c.buckets:
                out.routes[c.id, b] = [model.add_variable(lb=0.0, name=f"run_route[{c.id},b{b},k{k:02d}]")
                                       for k in slots]
            for k in slots:
                load = sum((window.hours * out.routes[c.id, b][k] / cov
                            for b, cov in zip(c.buckets, c.coverage_by_bucket)), zero)
                model.add_linear_constraint(ub=0.0, expr=load - window.fraction(k) * window.availability * out.replicas[c.id][k],
                                            name=f"batch_load[{c.id},k{k:02d}]")
        for k in slots[:-1]:
            if window.fraction(k + 1) >= 1.0 and period[window.hour_of_day(k)] == period[window.hour_of_day(k + 1)]:
                gpus = [sum((c.tp * out.replicas[c.id][j] for c in cs), zero) for j in (k, k + 1)]
                model.add_linear_constraint(lb=0.0, expr=gpus[0] - gpus[1], name=f"batch_order[{w},k{k:02d}]")
        for b, share in enumerate(inp.shares.get(w, (1.0,))):
            model.add_linear_constraint(
                lb=share, expr=sum((v for c in cs if b in c.buckets for v in out.routes[c.id, b]), zero),
                name=f"batch_routing[{w},b{b}]")
        for g in sorted({c.gpu for c in cs}):
            g_cs = [c for c in cs if c.gpu == g]
            rented = [h for h in host_of.values() if h.gpu == g and h.kind == "instance"]
            for h in rented:
                hub = math.ceil(sum(c.tp * out.replicas[c.id][0].upper_bound for c in g_cs) / h.slots)
                out.hosts[w, h.id] = [model.add_integer_variable(lb=0, ub=hub, name=f"run_hosts[{w},{h.id},k{k:02d}]")
                                      for k in slots]
                usd_h = h.monthly_usd / inp.hours_per_month * (1.0 - DAILY_TIE_BREAK if window.schedule == "daily" else 1.0)
                out.run_usd[w] = out.run_usd[w] + sum(usd_h * BILLING_GRANULARITY_H * v for v in out.hosts[w, h.id])
            with_gpus = [h for h in host_of.values() if h.gpu == g and h.gpus_included]
            for s in tp_sizes:
                lhs = [c for c in g_cs if c.tp >= s]
                if not lhs:
                    continue
                idle = {}
                if any(h.slots >= s for h in with_gpus):
                    for p in sorted({period[window.hour_of_day(k)] for k in slots}):
                        idle[p] = model.add_variable(lb=0.0, name=f"idle_use[{w},{g},{s},p{p:02d}]")
                        out.idle.setdefault((p, g, s), []).append(idle[p])
                for k in slots:
                    used = sum(c.tp * out.replicas[c.id][k] for c in lhs)
                    room = sum((h.slots * out.hosts[w, h.id][k] for h in rented if h.slots >= s), zero)
                    room = room + idle.get(period[window.hour_of_day(k)], zero)
                    model.add_linear_constraint(ub=0.0, expr=used - room, name=f"batch_packing[{w},{g},{s},k{k:02d}]")
            if g in inp.available and rented:
                for k in slots:
                    extra = sum(h.slots * out.hosts[w, h.id][k] for h in rented)
                    model.add_linear_constraint(ub=inp.available[g],
                                                expr=installed(g, period[window.hour_of_day(k)]) + extra,
                                                name=f"batch_gpus_available[{w},{g},k{k:02d}]")
    return out


def tie_break(rv: RunVars, by_id: dict):
    """The tie-break term of the run replicas (as the plan's own: EPS per replica-GPU-hour / 24), so that
    no replica runs on idle GPUs without work to do."""
    return sum((EPS_USD_PER_REPLICA_GPU / HOURS_PER_DAY * by_id[c].tp * v for c, vs in rv.replicas.items() for v in vs),
               0.0)


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


def read(inp, rv: RunVars, values) -> dict[str, JobRun]:
    """Each job's solved run from the solver's variable values."""
    out = {}
    for w, window in inp.runs.items():
        run = JobRun(workload=w, window=window)
        for c in (c for c in inp.candidates if c.workload == w):
            n = [round(values[v]) for v in rv.replicas[c.id]]
            if max(n) > 0:
                run.replicas[c.id] = n
                run.candidates[c.id] = c
                run.work[c.id] = [sum(max(values[rv.routes[c.id, b][k]], 0.0) for b in c.buckets)
                                  for k in range(window.slots)]
        # batch_routing is a >= row: work beyond a bucket's share is free; report what is done.
        for b, share in enumerate(inp.shares.get(w, (1.0,))):
            keys = [(c.id, b) for c in inp.candidates if c.workload == w and c.id in run.replicas and b in c.buckets]
            done = sum(max(values[v], 0.0) for key in keys for v in rv.routes[key])
            if done > share > 0:
                for cid, _ in keys:
                    run.work[cid] = [x - max(values[rv.routes[cid, b][k]], 0.0) * (1 - share / done)
                                     for k, x in enumerate(run.work[cid])]
        for (job, hid), vs in rv.hosts.items():
            n = [round(values[v]) for v in vs]
            if job == w and max(n) > 0:
                run.run_hosts[hid] = n
        price = {h.id: h.monthly_usd / inp.hours_per_month for h in inp.hosts}
        run.hourly_usd = {h: price[h] for h in run.run_hosts}
        run.usd_per_run = sum(price[h] * BILLING_GRANULARITY_H * sum(n) for h, n in sorted(run.run_hosts.items()))
        out[w] = run
    return out
