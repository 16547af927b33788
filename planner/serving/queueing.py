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
from typing import TYPE_CHECKING, NamedTuple

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
_GRID_SPAN = np.linspace(0.0, 1.0, CAPACITY_GRID_POINTS)
_GRID_INSIDE = np.arange(1.0, CAPACITY_GRID_POINTS + 1.0) / (CAPACITY_GRID_POINTS + 1.0)


@dataclass(frozen=True)
class _Pieces:
    """The slot occupancy n in [0, c] cut where S(n) changes form: every integer (the step table
    is linear between them) and every n = B - L_in / j where the chunk count ceil(L_in / (B - n))
    steps from j to j + 1. Piece i is (x[i-1], x[i]]; on it step(n) = step_at_0_s[i] +
    step_slope_s[i] x n and the chunk count is chunks[i] (left-continuous: its value at x[i]).
    Index 0 is a dummy piece [0, 0]."""

    x: np.ndarray
    step_at_0_s: np.ndarray
    step_slope_s: np.ndarray
    chunks: np.ndarray
    reach_qps: np.ndarray
    """Running maximum over breakpoints of the largest rate with lambda x S(x[i]) <= x[i]."""
    saturation_qps: float
    """The root of lambda x S(c) = c itself (the last breakpoint's rate, not the running maximum)."""


@dataclass(frozen=True, eq=False)
class BucketTimes:
    """One replica serving one length bucket: the inputs of the queueing model.

    Compared by identity (it holds an array). Built, it also holds its cut of the occupancy axis
    (`_Pieces`), so the many rate evaluations of `capacity_qps` share it.

    Attributes:
        input_tokens: Prompt length L_in (tokens).
        output_tokens: Answer length L_out (tokens), at least 1.
        batch_cap: c, the most sequences running at once (vLLM max_num_seqs).
        chunk_tokens: B, the tokens one iteration carries (vLLM max_num_batched_tokens).
        prefill_s: P, seconds to prefill one prompt of the bucket.
        step_s: Decode step seconds with n = 0..batch_cap sequences running (index 0 equals
            index 1), non-decreasing in n (the latencies' monotonicity in the rate rests on it).
        cs2: Squared coefficient of variation of the slot holding time; 1.0 (an exponential's) is
            conservative for near-deterministic service.
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
        if (self.batch_cap < 1 or self.chunk_tokens < 1 or self.input_tokens < 0 or self.output_tokens < 1
                or step_s.shape != (self.batch_cap + 1,) or not np.all(step_s > 0) or not self.prefill_s > 0
                or not self.cs2 >= 0):
            raise ValueError("BucketTimes needs batch_cap, chunk_tokens, output_tokens >= 1, input_tokens >= 0, "
                             f"batch_cap + 1 positive step_s, prefill_s > 0 and cs2 >= 0: {self!r}")
        step_s.setflags(write=False)
        object.__setattr__(self, "step_s", step_s)
        object.__setattr__(self, "_pieces", _cut(self))


@dataclass(frozen=True, eq=False)
class Latencies:
    """Latencies at each rate asked for (a scalar rate gives arrays of one).

    Attributes:
        ttft_s: Time to first token, seconds (inf where unstable).
        tpot_s: Time per output token after the first, seconds (0 when output_tokens is 1).
        e2e_s: End to end, first byte in to last token out, seconds.
        stable: Whether the rate is below saturation (bool).
        mean_running: n_bar, the mean number of sequences running (batch_cap where unstable).
    """

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    stable: np.ndarray
    mean_running: np.ndarray


def bucket_times(
    d: Deployment, eff: Efficiency, input_tokens: int, output_tokens: int,
    batch_cap: int, chunk_tokens: int, cs2: float = 1.0,
) -> BucketTimes:
    """The queueing inputs of deployment `d` serving one bucket, from the roofline.

    step_s[n] = perf.decode_step_time(...).total_s at batch max(n, 1), n = 0..batch_cap, all in one
    array call, at the mean context input + output / 2 (as perf.estimate.timings); prefill_s =
    perf.prefill_time(...).total_s of max(input_tokens, 1) tokens. KV bytes d.kv_bytes, stages d.pp.

    Args:
        d: The deployment (planner.perf.estimate.Deployment); eff: its GPU's efficiency factors.
        input_tokens, output_tokens, batch_cap, chunk_tokens, cs2: As in BucketTimes.
    """
    batch = np.maximum(np.arange(batch_cap + 1, dtype=float), 1.0)
    context_tokens = input_tokens + output_tokens / 2.0
    step = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, batch, context_tokens, eff, d.pp)
    pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, max(input_tokens, 1), eff, d.pp)
    step_s = np.broadcast_to(np.asarray(step.total_s, dtype=float), batch.shape)
    return BucketTimes(input_tokens, output_tokens, batch_cap, chunk_tokens, float(pre.total_s), step_s, cs2)


def normal_quantile(p: float) -> float:
    """The standard normal quantile z, Phi(z) = p.

    Wichura's rational approximation AS 241 (Applied Statistics 37, 1988; relative error about
    1e-16), as the standard library's statistics.NormalDist.inv_cdf implements it.

    Args:
        p: Probability, 0 < p < 1 (ValueError otherwise).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1) (got {p})")
    return NormalDist().inv_cdf(p)


def poisson_quantile(mean: np.ndarray, p: float) -> np.ndarray:
    """Smallest k with P(X <= k) >= p for X ~ Poisson(mean), elementwise.

    Exact 0 when exp(-mean) >= p. Otherwise the Cornish-Fisher expansion (Cornish & Fisher 1937;
    the Poisson's skewness 1 / sqrt(mean) gives the (z^2 - 1) / 6 term) with a continuity
    correction, k + 1/2 = mean + z sqrt(mean) + (z^2 - 1) / 6, so k = ceil(mean + z sqrt(mean) +
    (z^2 - 1) / 6 - 1/2), at least 0. Against exact sums for means 1e-4..600 and p 0.5..0.999 it is the exact quantile or
    one more, never less (exact for 88-99.6 % of means; without the correction, about half are one
    too many). For p < 0.5 (z < 0) the mean is floored at z^2 / 4, where the expansion is least,
    so k never falls as the mean grows.

    Args:
        mean: Poisson means (negative ones are taken as 0).
        p: Probability, 0 < p < 1.

    Returns:
        The quantiles, floats holding whole numbers, in the shape of `mean`.
    """
    return _poisson_quantile(np.maximum(np.asarray(mean, dtype=float), 0.0), normal_quantile(p), p)


def saturation_qps(t: BucketTimes) -> float:
    """The supremum of the stable rates (requests/s), less a relative SATURATION_MARGIN.

    The root of lambda S(c) = c with S(c) = A + G / (1 - lambda P), A = TTFT_svc(c), G = (L_out -
    1) step(c), in closed form rather than by bisection: multiplied out it is the quadratic
    A P lambda^2 - (A + G + c P) lambda + c = 0, whose smaller root, written 2c / (T + sqrt(T^2 -
    4 A P c)) with T = A + G + c P (no cancellation), is at most 1 / P, so rho_p < 1 below it too.
    The margin makes the rate returned itself stable, as a bisection's lower end would be.
    """
    return t._pieces.saturation_qps * (1.0 - SATURATION_MARGIN)


def quantiles(t: BucketTimes, rate_qps, p: float) -> Latencies:
    """p-quantiles of TTFT, TPOT and end-to-end latency at each rate.

    Slot wait: M/G/c with Sakasegawa's (1977) probability of waiting, as in Hopp & Spearman,
    Factory Physics, and the Allen-Cunneen variability factor (Poisson arrivals, ca^2 = 1):
      rho = lambda S(n_bar) / c,  P_w = rho^(sqrt(2 (c + 1)) - 1)  (exactly rho at c = 1: M/G/1),
      Wq = P_w S(n_bar) / (c (1 - rho)) (1 + cs2) / 2;
    a waiting request's wait is exponential with mean theta = Wq / P_w, so
      W_p = theta ln(P_w / (1 - p)) when P_w > 1 - p, else 0.
    Prefill queue, M/M/1 tail (conservative for prompts of one length):
      W_pre,p = P / (1 - rho_p) ln(rho_p / (1 - p)) when rho_p > 1 - p, else 0.
    Running sequences ~ Poisson(n_bar) (M/G/inf): n_p = clip(poisson_quantile(n_bar, p), 1, c).
    Prefills landing during one request's decode, D = (L_out - 1) TPOT_mean(n_bar): N ~
    Poisson(lambda D), N_p = poisson_quantile(lambda D, p). Then, summing quantiles (conservative):
      TPOT_p = step(n_p) + N_p P / (L_out - 1)   (0 when L_out = 1)
      TTFT_p = W_p + W_pre,p + TTFT_svc(n_p);   E2E_p = TTFT_p + (L_out - 1) TPOT_p.

    Args:
        t: The replica and bucket.
        rate_qps: Poisson arrival rates at this replica, requests/s (scalar or array).
        p: The percentile as a probability, 0 < p < 1 (0.9 for p90).

    Returns:
        Latencies, inf at unstable rates.
    """
    z = normal_quantile(p)
    s = _state(t, rate_qps)
    c, decode_tokens, prefill_s = t.batch_cap, t.output_tokens - 1, t.prefill_s
    theta_s = s.hold_s / (c * (1.0 - s.rho)) * (1.0 + t.cs2) / 2.0
    # ln(max(x / (1 - p), 1)) is ln(x / (1 - p)) when x > 1 - p, else 0.
    slot_wait_s = theta_s * np.log(np.maximum(s.p_wait / (1.0 - p), 1.0))
    prefill_wait_s = prefill_s * s.stretch * np.log(np.maximum(s.rho_p / (1.0 - p), 1.0))
    n_p = np.minimum(np.maximum(_poisson_quantile(s.n_bar, z, p), 1.0), c)
    step_p_s = t.step_s[n_p.astype(np.intp)]
    chunks = np.ceil(t.input_tokens / np.maximum(t.chunk_tokens - n_p, 1.0))
    ttft_s = slot_wait_s + prefill_wait_s + prefill_s + (chunks + 0.5) * step_p_s
    if decode_tokens > 0:
        landed = _poisson_quantile(s.rate_qps * decode_tokens * s.tpot_mean_s, z, p)
        tpot_s = step_p_s + landed * prefill_s / decode_tokens
    else:
        tpot_s = np.zeros_like(ttft_s)
    return _latencies(t, s, ttft_s, tpot_s, ttft_s + decode_tokens * tpot_s)


def means(t: BucketTimes, rate_qps) -> Latencies:
    """Mean latencies at each rate.

    TTFT = Wq + rho_p P / (1 - rho_p) (the M/M/1 prefill queue's mean) + TTFT_svc(n_bar), with Wq
    as in `quantiles`; TPOT = TPOT_mean(n_bar) (0 when L_out = 1); E2E = TTFT + (L_out - 1) TPOT.

    Args:
        t: The replica and bucket.
        rate_qps: Poisson arrival rates at this replica, requests/s (scalar or array).

    Returns:
        Latencies, inf at unstable rates.
    """
    s = _state(t, rate_qps)
    decode_tokens = t.output_tokens - 1
    wq_s = s.p_wait * s.hold_s / (t.batch_cap * (1.0 - s.rho)) * (1.0 + t.cs2) / 2.0
    ttft_s = wq_s + s.rho_p * t.prefill_s * s.stretch + s.ttft_service_s
    tpot_s = s.tpot_mean_s if decode_tokens > 0 else np.zeros_like(ttft_s)
    return _latencies(t, s, ttft_s, tpot_s, ttft_s + decode_tokens * tpot_s)


def capacity_qps(
    t: BucketTimes, p: float, ttft_max_s: float | None, tpot_max_s: float | None,
    e2e_max_s: float | None = None,
) -> float:
    """Largest rate at which the stable p-quantiles meet every given limit.

    Every latency is non-decreasing in the rate (step_s being non-decreasing in n): rho_p and
    lambda S(n) grow with lambda, so the least fixed point n_bar does; with them rho, P_w, theta,
    S(n_bar) and the Poisson means n_bar and lambda D, hence n_p, N_p, TTFT_svc(n_p) and step(n_p);
    and the stable rates are those below saturation. So the passing rates are an interval from 0,
    and a grid brackets its end: CAPACITY_GRID_POINTS geometric points from saturation x
    CAPACITY_LOWEST_FRACTION to saturation, then as many inside the bracket, until it is within
    CAPACITY_REL_PRECISION (three rounds: ratios 1.25, 1.0034, 1.00005).

    Args:
        t: The replica and bucket.
        p: The percentile as a probability, 0 < p < 1.
        ttft_max_s: Limit on TTFT_p, seconds, or None.
        tpot_max_s: Limit on TPOT_p, seconds, or None.
        e2e_max_s: Limit on E2E_p, seconds, or None.

    Returns:
        The last passing rate (requests/s), never a failing one; 0.0 when the lowest rate of the
        grid (CAPACITY_LOWEST_FRACTION of saturation, nearly no load) misses a limit.
    """
    limits = [(name, x) for name, x in (("ttft_s", ttft_max_s), ("tpot_s", tpot_max_s), ("e2e_s", e2e_max_s))
              if x is not None]

    def passes(rates_qps: np.ndarray) -> np.ndarray:
        q = quantiles(t, rates_qps, p)
        ok = q.stable.copy()
        for name, limit in limits:
            ok &= getattr(q, name) <= limit
        return ok

    top_qps = saturation_qps(t)
    grid_qps = top_qps * CAPACITY_LOWEST_FRACTION ** (1.0 - _GRID_SPAN)
    ok = passes(grid_qps)
    if not ok[0]:
        return 0.0
    if ok.all():
        return float(grid_qps[-1])
    k = int(np.argmin(ok))
    lo_qps, hi_qps = float(grid_qps[k - 1]), float(grid_qps[k])
    while hi_qps > lo_qps * (1.0 + CAPACITY_REL_PRECISION):
        grid_qps = lo_qps * (hi_qps / lo_qps) ** _GRID_INSIDE
        ok = passes(grid_qps)
        k = len(grid_qps) if ok.all() else int(np.argmin(ok))
        lo_qps = float(grid_qps[k - 1]) if k > 0 else lo_qps
        hi_qps = float(grid_qps[k]) if k < len(grid_qps) else hi_qps
    return lo_qps


def _cut(t: BucketTimes) -> _Pieces:
    """The pieces of [0, c] on which S(n) is linear (see _Pieces), and for each breakpoint x the
    largest rate with lambda S(x) <= x (the quadratic of `saturation_qps` with c replaced by x)."""
    c, b_tok, l_in = t.batch_cap, t.chunk_tokens, t.input_tokens
    x = np.arange(c + 1, dtype=float)
    j_hi = l_in if b_tok - c < 1 else min(l_in, math.ceil(l_in / (b_tok - c)))
    if l_in >= 1 and j_hi > l_in // b_tok:
        jumps = b_tok - l_in / np.arange(l_in // b_tok + 1, j_hi + 1, dtype=float)
        x = np.unique(np.concatenate([x, jumps[(jumps > 0.0) & (jumps < c)]]))
    mid = np.concatenate([[0.5], (x[:-1] + x[1:]) / 2.0])  # index 0: a dummy piece [0, 0]
    k = mid.astype(np.intp)  # floor: each piece lies in [k, k + 1], 0 <= k < c
    step_s = np.concatenate([t.step_s[1:2], t.step_s[1:]])  # step(n) is step_s[1] on [0, 1]
    slope_s = step_s[k + 1] - step_s[k]
    at_0_s = step_s[k] - slope_s * k
    chunks = np.ceil(l_in / np.maximum(b_tok - mid, 1.0))
    step_at_x_s = at_0_s + slope_s * x
    ttft_s = t.prefill_s + (chunks + 0.5) * step_at_x_s
    total_s = ttft_s + (t.output_tokens - 1) * step_at_x_s + x * t.prefill_s
    disc_s2 = np.maximum(total_s * total_s - 4.0 * ttft_s * t.prefill_s * x, 0.0)
    reach_qps = 2.0 * x / (total_s + np.sqrt(disc_s2))
    return _Pieces(x=x, step_at_0_s=at_0_s, step_slope_s=slope_s, chunks=chunks,
                   reach_qps=np.maximum.accumulate(reach_qps), saturation_qps=float(reach_qps[-1]))


def _poisson_quantile(mean: np.ndarray, z: float, p: float) -> np.ndarray:
    """poisson_quantile with z = normal_quantile(p) given (mean >= 0)."""
    m = np.maximum(mean, z * z / 4.0) if z < 0 else mean
    k = np.maximum(np.ceil(m + z * np.sqrt(m) + (z * z - 1.0) / 6.0 - 0.5), 0.0)
    return np.where(mean <= -math.log(p), 0.0, k)


class _State(NamedTuple):
    """What follows from n_bar at each rate (unstable rates evaluated at rate 0): stretch is
    1 / (1 - rho_p), ttft_service_s TTFT_svc(n_bar), hold_s S(n_bar), p_wait P_w."""

    rate_qps: np.ndarray
    stable: np.ndarray
    rho_p: np.ndarray
    stretch: np.ndarray
    n_bar: np.ndarray
    ttft_service_s: np.ndarray
    tpot_mean_s: np.ndarray
    hold_s: np.ndarray
    rho: np.ndarray
    p_wait: np.ndarray


def _state(t: BucketTimes, rate_qps) -> _State:
    """n_bar and what follows from it at each rate.

    The least fixed point of f(n) = lambda S(n) is found exactly rather than by iterating from 0:
    f is non-decreasing and jumps only upward, so it is the root, inside the first piece whose
    right end x has f(x) <= x, of the linear equation n = lambda (P + W (a + b n)) (a + b n =
    step(n) on the piece, W = chunks + 0.5 + (L_out - 1) / (1 - rho_p)), so n = lambda (P + W a) /
    (1 - lambda W b). That piece is the first breakpoint whose reach (running maximum) is at least
    lambda: one searchsorted. (Unlike iterating n <- lambda S(n) from 0, it needs no stopping rule
    near saturation, where the iteration converges slowly.)
    """
    pc = t._pieces
    rate = np.atleast_1d(np.asarray(rate_qps, dtype=float))
    stable = (rate >= 0.0) & (rate < pc.saturation_qps) & (rate * t.prefill_s < 1.0)
    if not stable.all():
        rate = np.where(stable, rate, 0.0)
    rho_p = rate * t.prefill_s
    stretch = 1.0 / (1.0 - rho_p)
    i = np.maximum(np.searchsorted(pc.reach_qps, rate), 1)  # rate 0 -> piece 1, n_bar 0
    at_0_s, slope_s, attend = pc.step_at_0_s[i], pc.step_slope_s[i], pc.chunks[i] + 0.5
    w = attend + (t.output_tokens - 1) * stretch
    n_bar = rate * (t.prefill_s + w * at_0_s) / np.maximum(1.0 - rate * w * slope_s, 1e-300)
    n_bar = np.minimum(np.maximum(n_bar, pc.x[i - 1]), pc.x[i])
    step_s = at_0_s + slope_s * n_bar
    hold_s = t.prefill_s + w * step_s
    rho = np.minimum(rate * hold_s / t.batch_cap, 1.0 - 1e-15)
    return _State(rate_qps=rate, stable=stable, rho_p=rho_p, stretch=stretch, n_bar=n_bar,
                  ttft_service_s=t.prefill_s + attend * step_s, tpot_mean_s=step_s * stretch, hold_s=hold_s,
                  rho=rho, p_wait=rho ** (math.sqrt(2.0 * (t.batch_cap + 1)) - 1.0))


def _latencies(t: BucketTimes, s: _State, ttft_s, tpot_s, e2e_s) -> Latencies:
    """Latencies with inf (and batch_cap running) where the rate is unstable."""
    if s.stable.all():
        return Latencies(ttft_s=ttft_s, tpot_s=tpot_s, e2e_s=e2e_s, stable=s.stable, mean_running=s.n_bar)
    bad = ~s.stable
    return Latencies(ttft_s=np.where(bad, np.inf, ttft_s), tpot_s=np.where(bad, np.inf, tpot_s),
                     e2e_s=np.where(bad, np.inf, e2e_s), stable=s.stable,
                     mean_running=np.where(bad, float(t.batch_cap), s.n_bar))
