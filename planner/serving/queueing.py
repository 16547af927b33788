"""Percentile latencies of one replica under Poisson arrivals, and the largest rate that meets them.

A replica serves with continuous batching and chunked prefill, like vLLM: at most `batch_cap` (c)
sequences run at once (max_num_seqs) and a request waits first come, first served for a slot; each
iteration carries one decode token for each of the n running sequences plus up to
`chunk_tokens` (B) - n prompt tokens (max_num_batched_tokens), so a prompt of L tokens takes
ceil(L / max(B - n, 1)) iterations (iteration-level scheduling: Orca, OSDI 2022; vLLM, SOSP 2023).
`step_s[n]`: the decode step with n sequences (index 0 equals index 1); P = `prefill_s`: what one prompt
adds to the steps it rides (`perf.prefill_added_s`); rate lambda (requests/s); step(n) interpolated:

  rho_p        = lambda x P                                   (prefill utilisation; < 1 to be stable)
  TTFT_svc(n)  = P + (ceil(L_in / max(B - n, 1)) + 0.5) x step(n)   (perf.loaded_ttft_s)
  TPOT_mean(n) = step(n) / (1 - rho_p)          (the replica spends rho_p of its time on prefills)
  S(n)         = TTFT_svc(n) + (L_out - 1) x TPOT_mean(n)     (time a request holds a slot)
  n_bar        = least fixed point of n = lambda x S(n) on [0, c]   (Little's law on the slots)

Stable iff rho_p < 1 and lambda x S(c) < c: with the slots full the replica finishes c / S(c)
requests/s, which must exceed the arrivals. The percentile latencies then add (sums of
quantiles, conservative) the slot wait, the prefill queue and the service at a high occupancy;
`table_quantiles` documents each term, `table_means` the means. Every latency is non-decreasing in the
rate, so `capacities` bisects for the largest rate meeting an SLO. `Table` holds (replica, bucket)
pairs side by side for one numpy pass; `BucketTimes` is one pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from planner import perf
from planner.catalog.precisions import Efficiency
from planner.serving.occupancy import Table

if TYPE_CHECKING:
    from planner.perf.estimate import Deployment

CAPACITY_LOWEST_FRACTION = 1e-6
"""`capacity_qps` searches rates from this fraction of the saturation rate up to it."""
CAPACITY_REL_PRECISION = 2e-4
"""`capacity_qps` bisects until the bracket's upper end is within this fraction of its lower end."""
CAPACITY_HALVINGS = math.ceil(math.log2(math.log(1.0 / CAPACITY_LOWEST_FRACTION) / math.log1p(CAPACITY_REL_PRECISION)))
"""Bisections taking the log-rate bracket's ratio from 1 / CAPACITY_LOWEST_FRACTION to 1 + CAPACITY_REL_PRECISION (17)."""
SATURATION_MARGIN = 1e-9
"""`saturation_qps` is this fraction below the root of lambda S(c) = c, so that it is a stable rate."""


@dataclass(frozen=True, eq=False)
class BucketTimes:
    """One replica serving one length bucket: the inputs of the queueing model.

    Compared by identity (it holds an array). Its one-row `Table` (the cut of the occupancy axis)
    is built on first use and kept, so the many rate evaluations of `capacity_qps` share it.

    Attributes:
        input_tokens: Prompt length L_in (tokens).
        output_tokens: Answer length L_out (tokens), at least 1.
        batch_cap: c, the most sequences running at once (vLLM max_num_seqs).
        chunk_tokens: B, the tokens one iteration carries (vLLM max_num_batched_tokens).
        prefill_s: P, seconds one prompt adds to the steps it rides (`perf.prefill_added_s`).
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
    _table: list = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        step_s = np.array(self.step_s, dtype=float)
        if (self.batch_cap < 1 or self.chunk_tokens < 1 or self.input_tokens < 0 or self.output_tokens < 1
                or step_s.shape != (self.batch_cap + 1,) or not np.all(step_s > 0) or not self.prefill_s > 0
                or not self.cs2 >= 0):
            raise ValueError("BucketTimes needs batch_cap, chunk_tokens, output_tokens >= 1, input_tokens >= 0, "
                             f"batch_cap + 1 positive step_s, prefill_s > 0 and cs2 >= 0: {self!r}")
        step_s.setflags(write=False)
        object.__setattr__(self, "step_s", step_s)

    def table(self) -> Table:
        """This bucket as a one-row Table (built once)."""
        if not self._table:
            self._table.append(Table.build([self.input_tokens], [self.output_tokens], [self.batch_cap],
                                           [self.chunk_tokens], [self.prefill_s], self.step_s[None, :], [self.cs2]))
        return self._table[0]


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
    perf.prefill_added_s of max(input_tokens, 1) tokens (its compute where the engine batches
    prefill, the whole pass where not). KV bytes d.kv_bytes, stages d.pp.

    Args:
        d: The deployment (planner.perf.estimate.Deployment); eff: its GPU's efficiency factors.
        input_tokens, output_tokens, batch_cap, chunk_tokens, cs2: As in BucketTimes.
    """
    batch = np.maximum(np.arange(batch_cap + 1, dtype=float), 1.0)
    context_tokens = input_tokens + output_tokens / 2.0
    step = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, batch, context_tokens, eff, d.pp)
    pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, max(input_tokens, 1), eff, d.pp)
    step_s = np.broadcast_to(np.asarray(step.total_s, dtype=float), batch.shape)
    return BucketTimes(input_tokens, output_tokens, batch_cap, chunk_tokens, float(perf.prefill_added_s(pre, d.batches_prefill)), step_s, cs2)


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
    return float(saturations(t.table())[0])


def saturations(tab: Table) -> np.ndarray:
    """`saturation_qps` of every row of `tab`, (N,)."""
    return tab.saturation_qps * (1.0 - SATURATION_MARGIN)


def quantiles(t: BucketTimes, rate_qps, p: float) -> Latencies:
    """p-quantiles of TTFT, TPOT and end-to-end latency at each rate (`table_quantiles` of one row).

    Args:
        t: The replica and bucket.
        rate_qps: Poisson arrival rates at this replica, requests/s (scalar or 1-D array).
        p: The percentile as a probability, 0 < p < 1 (0.9 for p90).

    Returns:
        Latencies, 1-D, inf at unstable rates.
    """
    return _row(table_quantiles(t.table(), np.atleast_1d(np.asarray(rate_qps, dtype=float))[None, :], p))


def table_quantiles(tab: Table, rate_qps: np.ndarray, p: float | np.ndarray) -> Latencies:
    """p-quantiles of TTFT, TPOT and end-to-end latency of every row at its rates.

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
        tab: The rows (replica and bucket each).
        rate_qps: (N, G) Poisson arrival rates, requests/s: G rates for each row.
        p: The percentile as a probability, 0 < p < 1 (0.9 for p90); or an array of them
            broadcasting with the rates.

    Returns:
        Latencies, (N, G), inf at unstable rates.
    """
    z = normal_quantile(p) if np.ndim(p) == 0 else np.vectorize(normal_quantile, otypes=[float])(p)
    s = _state(tab, rate_qps)
    c, decode_tokens, prefill_s = tab.batch_cap, tab.output_tokens - 1.0, tab.prefill_s
    theta_s = s.hold_s / (c * (1.0 - s.rho)) * (1.0 + tab.cs2) / 2.0
    # ln(max(x / (1 - p), 1)) is ln(x / (1 - p)) when x > 1 - p, else 0.
    slot_wait_s = theta_s * np.log(np.maximum(s.p_wait / (1.0 - p), 1.0))
    prefill_wait_s = prefill_s * s.stretch * np.log(np.maximum(s.rho_p / (1.0 - p), 1.0))
    n_p = np.minimum(np.maximum(_poisson_quantile(s.n_bar, z, p), 1.0), c)
    step_p_s = np.take_along_axis(tab.step_s, n_p.astype(np.intp), axis=1)
    chunks = perf.prefill_chunks(tab.input_tokens, tab.chunk_tokens, n_p)
    ttft_s = slot_wait_s + prefill_wait_s + perf.loaded_ttft_s(prefill_s, step_p_s, chunks)
    landed = _poisson_quantile(s.rate_qps * decode_tokens * s.tpot_mean_s, z, p)
    tpot_s = np.where(decode_tokens > 0, step_p_s + landed * prefill_s / np.maximum(decode_tokens, 1.0), 0.0)
    return _latencies(tab, s, ttft_s, tpot_s, ttft_s + decode_tokens * tpot_s)


def quantile_function(t: BucketTimes, rate_qps: float, probabilities: np.ndarray) -> Latencies:
    """The p-quantiles of `quantiles` at one rate for each p in `probabilities` (1-D), in one pass."""
    probabilities = np.asarray(probabilities, dtype=float)
    return _row(table_quantiles(t.table(), np.full((1, len(probabilities)), float(rate_qps)), probabilities[None, :]))


def means(t: BucketTimes, rate_qps) -> Latencies:
    """Mean latencies at each rate (`table_means` of one row).

    Args:
        t: The replica and bucket.
        rate_qps: Poisson arrival rates at this replica, requests/s (scalar or 1-D array).

    Returns:
        Latencies, 1-D, inf at unstable rates.
    """
    return _row(table_means(t.table(), np.atleast_1d(np.asarray(rate_qps, dtype=float))[None, :]))


def table_means(tab: Table, rate_qps: np.ndarray) -> Latencies:
    """Mean latencies of every row at its rates.

    TTFT = Wq + rho_p P / (1 - rho_p) (the M/M/1 prefill queue's mean) + TTFT_svc(n_bar), with Wq
    as in `table_quantiles`; TPOT = TPOT_mean(n_bar) (0 when L_out = 1); E2E = TTFT + (L_out - 1) TPOT.

    Args:
        tab: The rows.
        rate_qps: (N, G) Poisson arrival rates, requests/s.

    Returns:
        Latencies, (N, G), inf at unstable rates.
    """
    s = _state(tab, rate_qps)
    decode_tokens = tab.output_tokens - 1.0
    wq_s = s.p_wait * s.hold_s / (tab.batch_cap * (1.0 - s.rho)) * (1.0 + tab.cs2) / 2.0
    ttft_s = wq_s + s.rho_p * tab.prefill_s * s.stretch + s.ttft_service_s
    tpot_s = np.where(decode_tokens > 0, s.tpot_mean_s, 0.0)
    return _latencies(tab, s, ttft_s, tpot_s, ttft_s + decode_tokens * tpot_s)


def capacity_qps(
    t: BucketTimes, p: float, ttft_max_s: float | None, tpot_max_s: float | None,
    e2e_max_s: float | None = None,
) -> float:
    """Largest rate at which the stable p-quantiles meet every given limit (`capacities` of one row).

    Args:
        t: The replica and bucket.
        p: The percentile as a probability, 0 < p < 1.
        ttft_max_s: Limit on TTFT_p, seconds, or None.
        tpot_max_s: Limit on TPOT_p, seconds, or None.
        e2e_max_s: Limit on E2E_p, seconds, or None.

    Returns:
        A passing rate (requests/s) within CAPACITY_REL_PRECISION of the last one, never a failing
        one; 0.0 when CAPACITY_LOWEST_FRACTION of saturation (nearly no load) misses a limit.
    """
    return float(capacities(t.table(), p, ttft_max_s, tpot_max_s, e2e_max_s)[0])


def capacities(
    tab: Table, p: float, ttft_max_s: float | None, tpot_max_s: float | None,
    e2e_max_s: float | None = None,
) -> np.ndarray:
    """Per row, the largest rate at which the stable p-quantiles meet every given limit.

    Every latency is non-decreasing in the rate (step_s being non-decreasing in n): rho_p and
    lambda S(n) grow with lambda, so the least fixed point n_bar does; with them rho, P_w, theta,
    S(n_bar) and the Poisson means n_bar and lambda D, hence n_p, N_p, TTFT_svc(n_p) and step(n_p);
    and the stable rates are those below saturation. So the passing rates are an interval from 0,
    and bisection finds its end: saturation itself if it passes, 0 if saturation x
    CAPACITY_LOWEST_FRACTION fails, else CAPACITY_HALVINGS bisections of the log-rate bracket
    between them (all rows at once), which leave the upper end within CAPACITY_REL_PRECISION of
    the lower, passing one.

    Args:
        tab: The rows.
        p: The percentile as a probability, 0 < p < 1.
        ttft_max_s, tpot_max_s, e2e_max_s: Limits on TTFT_p, TPOT_p and E2E_p, seconds (a scalar,
            or one per row), or None.

    Returns:
        (N,) requests/s.
    """
    limits = [(name, np.asarray(x, dtype=float).reshape(-1, 1))
              for name, x in (("ttft_s", ttft_max_s), ("tpot_s", tpot_max_s), ("e2e_s", e2e_max_s))
              if x is not None]

    def passes(rows: Table, keep: np.ndarray, rates_qps: np.ndarray) -> np.ndarray:
        q = table_quantiles(rows, rates_qps[:, None], p)
        ok = q.stable[:, 0].copy()
        for name, limit in limits:
            ok &= getattr(q, name)[:, 0] <= (limit[keep, 0] if limit.shape[0] > 1 else limit[0, 0])
        return ok

    every = np.arange(len(tab))
    top_qps = saturations(tab)
    low_qps = top_qps * CAPACITY_LOWEST_FRACTION
    ok_top = passes(tab, every, top_qps)
    ok_low = passes(tab, every, low_qps)
    out = np.where(ok_top, top_qps, 0.0)
    todo = np.flatnonzero(ok_low & ~ok_top)
    if len(todo):
        rows = tab.rows(todo)
        lo_qps, hi_qps = low_qps[todo], top_qps[todo]
        for _ in range(CAPACITY_HALVINGS):
            mid_qps = np.sqrt(lo_qps * hi_qps)
            ok = passes(rows, todo, mid_qps)
            lo_qps = np.where(ok, mid_qps, lo_qps)
            hi_qps = np.where(ok, hi_qps, mid_qps)
        out[todo] = lo_qps
    return out


def _poisson_quantile(mean: np.ndarray, z, p) -> np.ndarray:
    """poisson_quantile with z = normal_quantile(p) given (mean >= 0); p and z scalars or arrays
    broadcasting with `mean`."""
    if np.ndim(p) == 0:
        m = np.maximum(mean, z * z / 4.0) if z < 0 else mean
        at_zero = -math.log(p)
    else:
        m = np.where(z < 0, np.maximum(mean, z * z / 4.0), mean)
        at_zero = -np.log(p)
    k = np.maximum(np.ceil(m + z * np.sqrt(m) + (z * z - 1.0) / 6.0 - 0.5), 0.0)
    return np.where(mean <= at_zero, 0.0, k)


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


def _state(tab: Table, rate_qps: np.ndarray) -> _State:
    """n_bar and what follows from it at each rate, (N, G).

    The least fixed point of f(n) = lambda S(n) is found exactly rather than by iterating from 0:
    f is non-decreasing and jumps only upward, so it is the root, inside the first piece whose
    right end x has f(x) <= x, of the linear equation n = lambda (P + W (a + b n)) (a + b n =
    step(n) on the piece, W = chunks + 0.5 + (L_out - 1) / (1 - rho_p)), so n = lambda (P + W a) /
    (1 - lambda W b). That piece is the first breakpoint whose reach (running maximum) is at least
    lambda: a binary search along each row. (Unlike iterating n <- lambda S(n) from 0, it needs no
    stopping rule near saturation, where the iteration converges slowly.)
    """
    rate = np.asarray(rate_qps, dtype=float)
    stable = (rate >= 0.0) & (rate < tab.saturation_qps[:, None]) & (rate * tab.prefill_s < 1.0)
    if not stable.all():
        rate = np.where(stable, rate, 0.0)
    rho_p = rate * tab.prefill_s
    stretch = 1.0 / (1.0 - rho_p)
    i = np.maximum(_first_reaching(tab.reach_qps, rate), 1)  # rate 0 -> piece 1, n_bar 0
    at = lambda a, idx: np.take_along_axis(a, idx, axis=1)
    at_0_s, slope_s, attend = at(tab.step_at_0_s, i), at(tab.step_slope_s, i), at(tab.chunks, i) + 0.5
    w = attend + (tab.output_tokens - 1.0) * stretch
    n_bar = rate * (tab.prefill_s + w * at_0_s) / np.maximum(1.0 - rate * w * slope_s, 1e-300)
    n_bar = np.minimum(np.maximum(n_bar, at(tab.x, i - 1)), at(tab.x, i))
    step_s = at_0_s + slope_s * n_bar
    hold_s = tab.prefill_s + w * step_s
    rho = np.minimum(rate * hold_s / tab.batch_cap, 1.0 - 1e-15)
    return _State(rate_qps=rate, stable=stable, rho_p=rho_p, stretch=stretch, n_bar=n_bar,
                  ttft_service_s=tab.prefill_s + attend * step_s, tpot_mean_s=step_s * stretch, hold_s=hold_s,
                  rho=rho, p_wait=rho ** (np.sqrt(2.0 * (tab.batch_cap + 1.0)) - 1.0))


def _first_reaching(reach_qps: np.ndarray, rate_qps: np.ndarray) -> np.ndarray:
    """Per element of the (N, G) rates, the first column of its row of the (N, K) non-decreasing
    reach with reach >= rate (K when none): numpy's searchsorted (side 'left') row by row, as one
    binary search over all rows at once."""
    width = reach_qps.shape[1]
    lo = np.zeros(rate_qps.shape, dtype=np.intp)
    hi = np.full(rate_qps.shape, width, dtype=np.intp)
    for _ in range(max(width, 1).bit_length()):
        mid = (lo + hi) >> 1
        go = np.take_along_axis(reach_qps, np.minimum(mid, width - 1), axis=1) < rate_qps
        more = lo < hi
        lo = np.where(more & go, mid + 1, lo)
        hi = np.where(more & ~go, mid, hi)
    return lo


def _latencies(tab: Table, s: _State, ttft_s, tpot_s, e2e_s) -> Latencies:
    """Latencies with inf (and batch_cap running) where the rate is unstable."""
    if s.stable.all():
        return Latencies(ttft_s=ttft_s, tpot_s=tpot_s, e2e_s=e2e_s, stable=s.stable, mean_running=s.n_bar)
    bad = ~s.stable
    return Latencies(ttft_s=np.where(bad, np.inf, ttft_s), tpot_s=np.where(bad, np.inf, tpot_s),
                     e2e_s=np.where(bad, np.inf, e2e_s), stable=s.stable,
                     mean_running=np.where(bad, np.broadcast_to(tab.batch_cap, bad.shape), s.n_bar))


def _row(lat: Latencies) -> Latencies:
    """Row 0 of a table's latencies."""
    return Latencies(ttft_s=lat.ttft_s[0], tpot_s=lat.tpot_s[0], e2e_s=lat.e2e_s[0], stable=lat.stable[0],
                     mean_running=lat.mean_running[0])
