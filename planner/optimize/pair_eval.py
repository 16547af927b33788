"""The SLO capacity and latencies of a workload's (deployment, length bucket, batch cap) pairs,
all evaluated at once: the candidate generator's numeric pass (`optimize.candidates.generate`).

A deployment (one workload on one GPU, precision and TP degree) brings its decode step table at
each bucket's context (`steps_s`, (buckets, batch 1..largest cap)), each bucket's prefill
(`prefill_s`) and its engine token budget (`chunk`); `Pairs` lists the (deployment, bucket, batch
cap) to evaluate; `evaluate` answers them with `serving.queueing.Table`s.
"""

from __future__ import annotations

import numpy as np

from planner.catalog.resolve import ResolvedWorkload
from planner.optimize.slo import LATENCIES, at_rate, over_limits, slo_limits_s
from planner.perf.estimate import Deployment, default_kv_precision
from planner.serving import queueing
from planner.serving.occupancy import Table, step_kinks
from planner.serving.mix import LengthMix


def full(values, shape: tuple[int, ...]) -> np.ndarray:
    """`values` as a float array of `shape` (broadcast only when a term did not depend on every axis)."""
    out = np.asarray(values, dtype=float)
    return out if out.shape == shape else np.broadcast_to(out, shape)

TABLE_CELLS = 1 << 21
"""Pairs are evaluated in blocks of about this many (pair x batch cap) cells, one `Table` each, so
that memory stays bounded whatever the number of pairs (some 100 MB of temporaries)."""


class Shape:
    """What every deployment of a workload shares about its length buckets: the memory tiers (distinct
    longest contexts, ascending), the buckets each tier serves and the one of them with the longest
    mean decode context, each bucket's mean decode context (input + output / 2) and prompt (>= 1)."""

    def __init__(self, mix: LengthMix) -> None:
        buckets = mix.buckets
        self.tiers = sorted({b.max_context_tokens for b in buckets})
        self.contexts = np.array([b.input_tokens + b.output_tokens / 2.0 for b in buckets])
        self.prompts = np.array([max(b.input_tokens, 1) for b in buckets], dtype=float)
        self.served = [[i for i, b in enumerate(buckets) if b.max_context_tokens <= t] for t in self.tiers]
        self.longest = [max(s, key=lambda i: (self.contexts[i], -i)) for s in self.served]
        self._kv: dict = {}

    def kv_precision(self, res, p):
        """The KV-cache precision that goes with weight precision `p` by default (looked up once)."""
        if p.id not in self._kv:
            self._kv[p.id] = res.catalog.precision(default_kv_precision(p.id))
        return self._kv[p.id]


class Pairs:
    """The (deployment, bucket, batch cap) pairs of one workload to evaluate: combo position,
    bucket index and batch cap of each, numbered in order of first request."""

    def __init__(self) -> None:
        self.combo: list[int] = []
        self.bucket: list[int] = []
        self.batch: list[int] = []
        self.combos: list = []

    def add(self, combo, bucket: int, batch: int) -> int:
        if not self.combos or self.combos[-1] is not combo:
            self.combos.append(combo)
        self.combo.append(len(self.combos) - 1)
        self.bucket.append(bucket)
        self.batch.append(batch)
        return len(self.batch) - 1


class Results:
    """Per evaluated pair (indexed as in Pairs): SLO capacity (requests/s, 0 when the bucket misses
    the SLO even with no queue), the SLO-percentile latencies at max_utilization x capacity and at
    1.001 x capacity (for the bottleneck), and the mean end-to-end latency at the planned rate."""

    def __init__(self, n: int) -> None:
        self.slo_qps = np.zeros(n)
        self.planned = {k: np.zeros(n) for k in ("ttft", "tpot", "e2e")}
        self.above = {k: np.zeros(n) for k in ("ttft", "tpot", "e2e")}
        self.mean_e2e_s = np.zeros(n)

    def as_lists(self) -> Results:
        """The same figures as Python lists of floats (the candidates read them a few at a time)."""
        self.slo_qps, self.mean_e2e_s = self.slo_qps.tolist(), self.mean_e2e_s.tolist()
        self.planned = {k: v.tolist() for k, v in self.planned.items()}
        self.above = {k: v.tolist() for k, v in self.above.items()}
        return self


def evaluate(pairs: Pairs, w: ResolvedWorkload, mix: LengthMix) -> Results:
    """The SLO capacity and latencies of every pair: the step tables of all the workload's
    deployments in one matrix (a row per deployment and bucket), then blocks of pairs of similar
    batch cap, one `queueing.Table` each."""
    n = len(pairs.batch)
    out = Results(n)
    if n == 0:
        return out.as_lists()
    slo = w.spec.slo
    p = (slo.percentile if slo is not None else 50) / 100.0
    util = w.max_utilization
    limits = slo_limits_s(slo) if slo is not None else None
    n_buckets = len(mix.buckets)
    width = max(c.steps_s.shape[1] for c in pairs.combos) + 1
    steps = np.empty((len(pairs.combos) * n_buckets, width))
    prefill_s, chunk = np.empty(len(steps)), np.empty(len(steps))
    for j, combo in enumerate(pairs.combos):  # row j x n_buckets + b: step(n), n = 0..width - 1
        rows, top = slice(j * n_buckets, (j + 1) * n_buckets), combo.steps_s.shape[1]
        steps[rows, 0] = combo.steps_s[:, 0]
        steps[rows, 1:top + 1] = combo.steps_s
        steps[rows, top + 1:] = combo.steps_s[:, -1:]
        prefill_s[rows], chunk[rows] = combo.prefill_s, combo.chunk
    kinks = step_kinks(steps)
    bucket = np.array(pairs.bucket)
    row = np.array(pairs.combo) * n_buckets + bucket
    l_in = np.array([b.input_tokens for b in mix.buckets], dtype=float)[bucket]
    l_out = np.array([b.output_tokens for b in mix.buckets], dtype=float)[bucket]
    batch = np.array(pairs.batch)
    order = np.argsort(batch, kind="stable")
    start = 0
    while start < n:
        stop = start + 1  # rows sorted by batch cap: the block's width is its last row's
        while stop < n and (stop - start + 1) * (int(batch[order[stop]]) + 1) <= TABLE_CELLS:
            stop += 1
        idx = order[start:stop]
        top = int(batch[idx[-1]]) + 1
        r = row[idx]
        tab = Table.build(l_in[idx], l_out[idx], batch[idx], chunk[r], prefill_s[r], steps[r, :top],
                                   kinks=kinks[r, :top])
        if limits is None:
            q = queueing.saturations(tab)
        else:
            q = queueing.capacities(tab, p, limits["ttft"], limits["tpot"], limits["e2e"])
        out.slo_qps[idx] = q
        at_planned = queueing.table_quantiles(tab, (util * q)[:, None], p)
        above = queueing.table_quantiles(tab, (q * 1.001)[:, None], p)
        for key in LATENCIES:
            out.planned[key][idx] = getattr(at_planned, f"{key}_s")[:, 0]
            out.above[key][idx] = getattr(above, f"{key}_s")[:, 0]
        out.mean_e2e_s[idx] = queueing.table_means(tab, (util * q)[:, None]).e2e_s[:, 0]
        start = stop
    return out.as_lists()


def service_miss(d: Deployment, eff, bucket, chunk: int, slo) -> tuple[str, str, float] | None:
    """Why the shortest bucket fails even with no queue: the reason, detail and miss ratio."""
    if slo is None:
        return None
    t = queueing.bucket_times(d, eff, bucket.input_tokens, bucket.output_tokens, 1, chunk)
    over = over_limits(at_rate(t, 1e-9, slo.percentile / 100.0), slo)
    if not over:
        return None
    name, got, limit = over[0]
    digits = 1 if name == "tpot" else 0
    return name.upper(), f"{name.upper()} {got * 1e3:.{digits}f} ms > {limit * 1e3:g} ms with no queue", got / limit
