"""Percentile latencies of one replica under Poisson arrivals, and the largest rate that meets them.

A replica serves with continuous batching and chunked prefill, like vLLM: at most `batch_cap` (c)
sequences run at once (max_num_seqs) and a request waits first come, first served for a slot; each
iteration carries one decode token for each of the n running sequences plus up to
`chunk_tokens` (B) - n prompt tokens (max_num_batched_tokens), so a prompt of L tokens takes
ceil(L / max(B - n, 1)) iterations (iteration-level scheduling: Orca, OSDI 2022; vLLM, SOSP 2023).
`step_s[n]` is the decode step with n sequences (index 0 equals index 1), `prefill_s` one prompt's
prefill. With rate lambda (requests/s), P = prefill_s, step(n) = step_s interpolated at n in [1, c]:

  rho_p        = lambda x P                                   (prefill utilisation; < 1 to be stable)
  TTFT_svc(n)  = P + (ceil(L_in / max(B - n, 1)) + 0.5) x step(n)   (half the iteration in progress)
  TPOT_mean(n) = step(n) / (1 - rho_p)          (the replica spends rho_p of its time on prefills)
  S(n)         = TTFT_svc(n) + (L_out - 1) x TPOT_mean(n)     (time a request holds a slot)
  n_bar        = least fixed point of n = lambda x S(n) on [0, c]   (Little's law on the slots)

Stable iff rho_p < 1 and lambda x S(c) < c: with the slots full the replica finishes c / S(c)
requests/s, which must exceed the arrivals. The percentile latencies then add (sums of
quantiles, conservative) the slot wait, the prefill queue and the service at a high occupancy;
`quantiles` documents each term, `means` the means. Every latency is non-decreasing in the rate,
which lets `capacity_qps` search a grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from planner import perf
from planner.catalog.precisions import Efficiency

if TYPE_CHECKING:
    from planner.perf.estimate import Deployment

CAPACITY_GRID_POINTS = 64
"""Rates evaluated at once per refinement of `capacity_qps`."""
CAPACITY_LOWEST_FRACTION = 1e-6
"""`capacity_qps` searches rates from this fraction of the saturation rate up to it."""
CAPACITY_REL_PRECISION = 2e-4
"""`capacity_qps` refines until the bracket's upper end is within this fraction of its lower end."""
SATURATION_MARGIN = 1e-9
"""`saturation_qps` is this fraction below the root of lambda S(c) = c, so that it is a stable rate."""


@dataclass(frozen=True)
class _Pieces:
    """The slot occupancy n in [0, c] cut where S(n) changes form: every integer (the step table
    is linear between them) and every n = B - L_in / j where the chunk count ceil(L_in / (B - n))
    steps from j to j + 1. Piece i is (x[i-1], x[i]]; on it step(n) = a[i] + b[i] x n and the chunk
    count is chunks[i] (it is left-continuous, so its value at x[i]). Index 0 is unused."""

    x: np.ndarray
    a: np.ndarray
    b: np.ndarray
    chunks: np.ndarray
    reach_qps: np.ndarray
    """Running maximum over breakpoints of the largest rate with lambda x S(x[i]) <= x[i]."""


@dataclass(frozen=True, eq=False)
class BucketTimes:
    """One replica serving one length bucket: the inputs of the queueing model.

    `step_s` (length batch_cap + 1) is the decode step in seconds with n = 0..batch_cap sequences
    running, non-decreasing in n; `cs2` the squared coefficient of variation of the slot holding
    time (1.0, an exponential's, is conservative for near-deterministic service). Compared by
    identity (it holds an array).
    """

    input_tokens: int
    output_tokens: int
    batch_cap: int
    chunk_tokens: int
    prefill_s: float
    step_s: np.ndarray
    cs2: float = 1.0
    _pieces: _Pieces = field(init=False, repr=False)

    def __post_init__(self) -> None:
        step_s = np.array(self.step_s, dtype=float)
        if self.batch_cap < 1 or self.chunk_tokens < 1 or self.input_tokens < 0 or self.output_tokens < 1:
            raise ValueError(f"need batch_cap, chunk_tokens, output_tokens >= 1 and input_tokens >= 0: {self!r}")
        if step_s.shape != (self.batch_cap + 1,) or not np.all(step_s > 0) or not self.prefill_s > 0:
            raise ValueError("step_s needs batch_cap + 1 positive entries and prefill_s must be > 0")
        if not self.cs2 >= 0:
            raise ValueError(f"cs2 must be >= 0 (got {self.cs2})")
        step_s.setflags(write=False)
        object.__setattr__(self, "step_s", step_s)
        object.__setattr__(self, "_pieces", _cut(self))


@dataclass(frozen=True, eq=False)
class Latencies:
    """Latencies (seconds) at each rate given (a scalar rate gives arrays of one); inf where
    `stable` is False."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    stable: np.ndarray
    mean_running: np.ndarray
    """n_bar, the mean number of sequences running (batch_cap where unstable: every slot busy)."""


def bucket_times(
    d: Deployment, eff: Efficiency, input_tokens: int, output_tokens: int,
    batch_cap: int, chunk_tokens: int, cs2: float = 1.0,
) -> BucketTimes:
    """BucketTimes of deployment `d` from the roofline: `step_s[n]` = perf.decode_step_time at
    batch max(n, 1) for n = 0..batch_cap, at the mean context input + output / 2 (as
    perf.estimate.timings), and `prefill_s` = perf.prefill_time of max(input_tokens, 1) tokens."""
    batch = np.maximum(np.arange(batch_cap + 1, dtype=float), 1.0)
    context = input_tokens + output_tokens / 2.0
    step = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, batch, context, eff, d.pp)
    pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, max(input_tokens, 1), eff, d.pp)
    step_s = np.broadcast_to(np.asarray(step.total_s, dtype=float), batch.shape)
    return BucketTimes(input_tokens, output_tokens, batch_cap, chunk_tokens, float(pre.total_s), step_s, cs2)


def normal_quantile(p: float) -> float:
    """z with Phi(z) = p, the standard normal quantile, for 0 < p < 1.

    Wichura's rational approximation AS 241 (Applied Statistics 37, 1988), relative error about
    1e-16, as implemented by the standard library's statistics.NormalDist.inv_cdf.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1) (got {p})")
    return NormalDist().inv_cdf(p)


def poisson_quantile(mean: np.ndarray, p: float) -> np.ndarray:
    """Smallest k with P(X <= k) >= p for X ~ Poisson(mean), elementwise (floats holding integers).

    Exact 0 when exp(-mean) >= p. Otherwise the Cornish-Fisher expansion with continuity
    correction: k + 1/2 = mean + z sqrt(mean) + (z^2 - 1) / 6 (the skewness term of a Poisson,
    skew = 1 / sqrt(mean)), so k = ceil(mean + z sqrt(mean) + (z^2 - 1) / 6 - 1/2), at least 0.
    Against exact sums for means 1e-4..600 and p 0.5..0.999 it is the exact quantile or one more,
    never less (exact 88-99.6 % of the time). For p < 0.5 (z < 0) mean is floored at z^2 / 4,
    where the expansion is least, so the result never falls as the mean grows.
    """
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    z = normal_quantile(p)
    m = np.maximum(mean, z * z / 4.0) if z < 0 else mean
    k = np.maximum(np.ceil(m + z * np.sqrt(m) + (z * z - 1.0) / 6.0 - 0.5), 0.0)
    return np.where(mean <= -math.log(p), 0.0, k)


def saturation_qps(t: BucketTimes) -> float:
    """Supremum of the stable rates: the root of lambda x S(c) = c, S(c) = A + G / (1 - lambda P)
    with A = TTFT_svc(c), G = (L_out - 1) x step(c).

    Closed form instead of a bisection: lambda A (1 - lambda P) + lambda G = c (1 - lambda P) is the
    quadratic A P lambda^2 - (A + G + c P) lambda + c = 0, whose smaller root (written
    2c / (T + sqrt(T^2 - 4 A P c)), T = A + G + c P, to stay accurate when A P c << T^2) is at
    most 1 / P, so it also bounds rho_p < 1. Returned less a relative SATURATION_MARGIN, so the
    rate itself is stable (as the lower end of a bisection on the stability test would be).
    """
    return float(t._pieces.reach_qps[-1]) * (1.0 - SATURATION_MARGIN)


def quantiles(t: BucketTimes, rate_qps, p: float) -> Latencies:
    """p-quantiles of TTFT, TPOT and end-to-end latency at each rate (requests/s to this replica).

    Slot wait: M/G/c with the Sakasegawa (1977) probability of waiting as in Hopp & Spearman,
    Factory Physics, and the Allen-Cunneen variability factor (Poisson arrivals, ca^2 = 1):
      rho = lambda S(n_bar) / c,  P_w = rho^(sqrt(2 (c + 1)) - 1)  (exactly rho at c = 1: M/G/1),
      Wq = P_w S(n_bar) / (c (1 - rho)) x (1 + cs2) / 2;
    a waiting request's wait is exponential with mean theta = Wq / P_w, so
      W_p = theta ln(P_w / (1 - p)) when P_w > 1 - p, else 0.
    Prefill queue, M/M/1 tail (conservative for fixed-length prompts):
      W_pre,p = P / (1 - rho_p) x ln(rho_p / (1 - p)) when rho_p > 1 - p, else 0.
    Running sequences ~ Poisson(n_bar) (M/G/inf), n_p = clip(poisson_quantile(n_bar, p), 1, c).
    Prefills landing during one request's decode D = (L_out - 1) TPOT_mean(n_bar): N ~
    Poisson(lambda D), N_p = poisson_quantile(lambda D, p).
      TPOT_p = step(n_p) + N_p P / (L_out - 1)   (0 when L_out = 1)
      TTFT_p = W_p + W_pre,p + TTFT_svc(n_p);   E2E_p = TTFT_p + (L_out - 1) TPOT_p.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1) (got {p})")
    s = _state(t, rate_qps)
    c, lo, prefill_s, rho_p = t.batch_cap, t.output_tokens - 1, t.prefill_s, s["rho_p"]
    with np.errstate(divide="ignore", invalid="ignore"):
        theta_s = s["hold_s"] / (c * (1.0 - s["rho"])) * (1.0 + t.cs2) / 2.0
        slot_wait_s = np.where(s["p_wait"] > 1.0 - p, theta_s * np.log(s["p_wait"] / (1.0 - p)), 0.0)
        prefill_wait_s = np.where(rho_p > 1.0 - p, prefill_s / (1.0 - rho_p) * np.log(rho_p / (1.0 - p)), 0.0)
    n_p = np.clip(poisson_quantile(s["n_bar"], p), 1.0, c)
    if lo > 0:
        landed = poisson_quantile(s["rate"] * lo * s["tpot_mean_s"], p)
        tpot_s = _step_s(t, n_p) + landed * prefill_s / lo
    else:
        tpot_s = np.zeros_like(n_p)
    ttft_s = slot_wait_s + prefill_wait_s + _ttft_service_s(t, n_p)
    return _latencies(s, t.batch_cap, ttft_s, tpot_s, ttft_s + lo * tpot_s)


def means(t: BucketTimes, rate_qps) -> Latencies:
    """Mean latencies at each rate: TTFT = Wq + rho_p P / (1 - rho_p) (the M/M/1 prefill queue's
    mean) + TTFT_svc(n_bar); TPOT = TPOT_mean(n_bar) (0 when L_out = 1); E2E = TTFT +
    (L_out - 1) TPOT. Wq as in `quantiles`."""
    s = _state(t, rate_qps)
    lo, rho_p = t.output_tokens - 1, s["rho_p"]
    with np.errstate(divide="ignore", invalid="ignore"):
        wq_s = s["p_wait"] * s["hold_s"] / (t.batch_cap * (1.0 - s["rho"])) * (1.0 + t.cs2) / 2.0
        ttft_s = wq_s + rho_p * t.prefill_s / (1.0 - rho_p) + _ttft_service_s(t, s["n_bar"])
    tpot_s = s["tpot_mean_s"] if lo > 0 else np.zeros_like(ttft_s)
    return _latencies(s, t.batch_cap, ttft_s, tpot_s, ttft_s + lo * tpot_s)


def capacity_qps(
    t: BucketTimes, p: float, ttft_max_s: float | None, tpot_max_s: float | None,
    e2e_max_s: float | None = None,
) -> float:
    """Largest rate (requests/s) at which the stable p-quantiles meet every given limit; 0.0 when
    even a vanishing rate (CAPACITY_LOWEST_FRACTION of saturation) misses one.

    Every quantity is non-decreasing in the rate (with step_s non-decreasing in n): rho_p and
    lambda S(n) grow with lambda, so the least fixed point n_bar does; rho, P_w, theta, S(n_bar), the
    Poisson means n_bar and lambda D, hence n_p and N_p, and TTFT_svc(n_p), step(n_p) all grow with
    them; and stability is a prefix of the rates. So the rates that pass form an interval from 0
    and a grid search brackets its end: CAPACITY_GRID_POINTS geometric points over
    (saturation x 1e-6, saturation), then the same number inside the bracket, until the bracket is
    within CAPACITY_REL_PRECISION (three rounds: 1.25x, 3.5e-3, 5.5e-5). Returns the last passing
    point, never a failing one.
    """
    limits = [(name, x) for name, x in (("ttft_s", ttft_max_s), ("tpot_s", tpot_max_s), ("e2e_s", e2e_max_s))
              if x is not None]

    def passes(rates: np.ndarray) -> np.ndarray:
        q = quantiles(t, rates, p)
        ok = q.stable.copy()
        for name, limit in limits:
            ok &= getattr(q, name) <= limit
        return ok

    top = saturation_qps(t)
    grid = np.geomspace(top * CAPACITY_LOWEST_FRACTION, top, CAPACITY_GRID_POINTS)
    ok = passes(grid)
    if not ok[0]:
        return 0.0
    if ok.all():
        return float(grid[-1])
    k = int(np.argmin(ok))
    lo, hi = float(grid[k - 1]), float(grid[k])
    while hi > lo * (1.0 + CAPACITY_REL_PRECISION):
        inner = np.geomspace(lo, hi, CAPACITY_GRID_POINTS + 2)[1:-1]
        ok = passes(inner)
        k = len(inner) if ok.all() else int(np.argmin(ok))
        lo, hi = (float(inner[k - 1]) if k > 0 else lo), (float(inner[k]) if k < len(inner) else hi)
    return lo


def _cut(t: BucketTimes) -> _Pieces:
    """The pieces of [0, c] on which S(n) is linear (see _Pieces), and for each breakpoint x the
    largest rate with lambda S(x) <= x (the quadratic of `saturation_qps` with c replaced by x)."""
    c, b_tok, l_in = t.batch_cap, t.chunk_tokens, t.input_tokens
    jumps = np.empty(0)
    if l_in >= 1:
        j_hi = l_in if b_tok - c <= 1 else min(l_in, math.ceil(l_in / (b_tok - c)))
        j = np.arange(l_in // b_tok + 1, j_hi + 1, dtype=float)
        jumps = b_tok - l_in / j
        jumps = jumps[(jumps > 0.0) & (jumps < c)]
    x = np.unique(np.concatenate([np.arange(c + 1, dtype=float), jumps]))
    mid = (x[:-1] + x[1:]) / 2.0
    k = np.clip(np.floor(mid).astype(int), 0, c - 1)
    slope = np.where(k >= 1, t.step_s[np.minimum(k + 1, c)] - t.step_s[k], 0.0)
    a = np.where(k >= 1, t.step_s[k] - slope * k, t.step_s[min(1, c)])
    chunks = np.ceil(l_in / np.maximum(b_tok - mid, 1.0))
    step_at_x = a + slope * x[1:]
    hold_a = t.prefill_s + (chunks + 0.5) * step_at_x
    hold_g = (t.output_tokens - 1) * step_at_x
    total = hold_a + hold_g + x[1:] * t.prefill_s
    disc = np.maximum(total * total - 4.0 * hold_a * t.prefill_s * x[1:], 0.0)
    reach = 2.0 * x[1:] / (total + np.sqrt(disc))
    pad = np.zeros(1)
    return _Pieces(x=x, a=np.concatenate([pad, a]), b=np.concatenate([pad, slope]),
                   chunks=np.concatenate([pad, chunks]), reach_qps=np.maximum.accumulate(np.concatenate([pad, reach])))


def _step_s(t: BucketTimes, n: np.ndarray) -> np.ndarray:
    """step(n): step_s linearly interpolated at n clipped to [1, c]."""
    return np.interp(np.clip(n, 1.0, t.batch_cap), np.arange(t.batch_cap + 1.0), t.step_s)


def _ttft_service_s(t: BucketTimes, n: np.ndarray) -> np.ndarray:
    """TTFT_svc(n) = P + (ceil(L_in / max(B - n, 1)) + 0.5) x step(n)."""
    chunks = np.ceil(t.input_tokens / np.maximum(t.chunk_tokens - n, 1.0))
    return t.prefill_s + (chunks + 0.5) * _step_s(t, n)


def _state(t: BucketTimes, rate_qps) -> dict[str, np.ndarray]:
    """n_bar and what follows from it at each rate.

    The least fixed point of f(n) = lambda S(n) is found exactly rather than by iterating from 0:
    f is non-decreasing and jumps only upward, so it is the root, inside the first piece whose
    right end x has f(x) <= x, of the linear equation n = lambda (P + W (a + b n)), W = chunks +
    0.5 + (L_out - 1) / (1 - rho_p): n = lambda (P + W a) / (1 - lambda W b). That piece is the
    first breakpoint whose rate reach (running maximum) is at least lambda: one searchsorted.
    """
    pc = t._pieces
    rate = np.atleast_1d(np.asarray(rate_qps, dtype=float))
    rho_p = rate * t.prefill_s
    stable = (rate >= 0.0) & (rate < pc.reach_qps[-1]) & (rho_p < 1.0)
    stretch = 1.0 / np.where(stable, 1.0 - rho_p, 1.0)
    i = np.clip(np.searchsorted(pc.reach_qps, rate, side="left"), 1, len(pc.x) - 1)
    w = pc.chunks[i] + 0.5 + (t.output_tokens - 1) * stretch
    with np.errstate(divide="ignore", invalid="ignore"):
        n_bar = rate * (t.prefill_s + w * pc.a[i]) / (1.0 - rate * w * pc.b[i])
    n_bar = np.where(stable & (rate > 0.0), np.clip(n_bar, pc.x[i - 1], pc.x[i]), 0.0)
    tpot_mean_s = _step_s(t, n_bar) * stretch
    hold_s = _ttft_service_s(t, n_bar) + (t.output_tokens - 1) * tpot_mean_s
    rho = np.where(stable, rate * hold_s / t.batch_cap, 0.0)
    p_wait = rho ** (math.sqrt(2.0 * (t.batch_cap + 1)) - 1.0)
    return {"rate": rate, "rho_p": np.where(stable, rho_p, 0.0), "stable": stable, "n_bar": n_bar,
            "tpot_mean_s": tpot_mean_s, "hold_s": hold_s, "rho": rho, "p_wait": p_wait}


def _latencies(s: dict[str, np.ndarray], cap: int, ttft_s, tpot_s, e2e_s) -> Latencies:
    """Latencies with inf where the rate is unstable."""
    inf = np.inf
    stable = s["stable"]
    return Latencies(ttft_s=np.where(stable, ttft_s, inf), tpot_s=np.where(stable, tpot_s, inf),
                     e2e_s=np.where(stable, e2e_s, inf), stable=stable, mean_running=np.where(stable, s["n_bar"], float(cap)))
