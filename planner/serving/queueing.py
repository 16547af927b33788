"""Queueing model of one replica: percentile TTFT, TPOT and end-to-end latency at a request rate,
and the SLO capacity (the largest rate at which the percentiles meet the SLO).

A replica serves with continuous batching and chunked prefill (vLLM): at most `c` sequences run at
once (the batch cap, max_num_seqs); each iteration carries one decode token of every running
sequence and up to B - n prompt tokens (B = max_num_batched_tokens). Requests of one length bucket
(L_in prompt tokens, L_out answer tokens) arrive as a Poisson stream at rate λ. With step(n) the
decode step at n running sequences (`perf.decode_step_time`, linear between integers) and
prefill_s the prefill of one prompt (`perf.prefill_time`):

1. ρ_p = λ prefill_s, the share of time the replica spends prefilling (unstable when >= 1).
2. TTFT_svc(n) = prefill_s + (ceil(L_in / max(B - n, 1)) + 0.5) step(n): half an iteration in
   progress, then the iterations that carry its chunks (Orca, OSDI 2022; vLLM chunked prefill).
   TPOT_mean(n) = step(n) / (1 - ρ_p); S(n) = TTFT_svc(n) + (L_out - 1) TPOT_mean(n), the time a
   request holds a slot.
3. n̄, the mean running sequences: the smallest fixed point of n = λ S(n) on [0, c]. Solved the
   other way round: for each n the rate giving it is explicit (`_rate_at`, a quadratic in λ), and
   n̄(λ) is read off that table. Saturated (unstable) when λ reaches the rate at n = c.
4. Slots are an M/G/c queue with offered load a = λ S(n̄), ρ = a / c. The probability of waiting is
   Sakasegawa's approximation P_w = ρ^(sqrt(2(c+1)) - 1) (Sakasegawa 1977; Hopp & Spearman,
   Factory Physics, eq. 8.10; exact ρ for c = 1); the mean wait adds the Allen-Cunneen variability
   factor (1 + cs²)/2 with Poisson arrivals: Wq = P_w S / (c (1 - ρ)) (1 + cs²)/2. A waiting
   request's wait is taken as exponential with mean Wq / P_w, so its p-quantile is
   W_p = Wq / P_w ln(P_w / (1 - p)) when P_w > 1 - p, else 0.
5. Prefills queue behind each other (an M/M/1 tail, conservative for prompts of one length):
   W_pre,p = prefill_s / (1 - ρ_p) ln(ρ_p / (1 - p)) when ρ_p > 1 - p, else 0.
6. Running sequences at the percentile: Poisson(n̄) (the M/G/∞ occupancy), its p-quantile by the
   Cornish-Fisher expansion n̄ + z sqrt(n̄) + (z² - 1)/6, rounded up and clipped to [1, c].
7. Prefills landing during one request's decode D = (L_out - 1) TPOT_mean(n̄): N ~ Poisson(λ D),
   N_p its p-quantile. TPOT_p = step(n_p) + N_p prefill_s / (L_out - 1) (0 when L_out = 1).
8. TTFT_p = W_p + W_pre,p + TTFT_svc(n_p); E2E_p = TTFT_p + (L_out - 1) TPOT_p. Summing quantiles
   over-states the quantile of the sum: the model errs on the safe side.

Every term is non-decreasing in λ (n̄, ρ_p, ρ, P_w, the waits, n_p and N_p all rise with it), so
the SLO capacity is found by a search over λ. The serving simulation (`serving.simulate`) checks
these approximations on whole plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner import perf
from planner.catalog.precisions import Efficiency
from planner.perf.estimate import Deployment

GRID_POINTS = 64


@dataclass(frozen=True)
class BucketTimes:
    """What the queueing model needs of one replica serving one length bucket."""

    input_tokens: int
    output_tokens: int
    batch_cap: int
    chunk_tokens: int
    prefill_s: float
    step_s: np.ndarray
    """Decode step seconds at n = 0..batch_cap running sequences (index 0 repeats index 1)."""
    cs2: float = 1.0
    """Squared coefficient of variation of the service time (1: exponential, conservative)."""


@dataclass(frozen=True)
class Latencies:
    """Latencies in seconds, one entry per rate asked for (inf where unstable)."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    stable: np.ndarray
    mean_running: np.ndarray


def bucket_times(d: Deployment, eff: Efficiency, input_tokens: int, output_tokens: int, batch_cap: int,
                 chunk_tokens: int, cs2: float = 1.0) -> BucketTimes:
    """Step times at every occupancy (decode context input + output / 2, as `estimate.timings`) and
    the prefill of one prompt, from the performance model."""
    context = input_tokens + output_tokens / 2.0
    n = np.arange(1, batch_cap + 1, dtype=float)
    steps = np.atleast_1d(np.asarray(perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, n, context,
                                                           eff, d.pp).total_s, dtype=float))
    pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, max(input_tokens, 1), eff, d.pp).total_s
    return BucketTimes(input_tokens, output_tokens, batch_cap, chunk_tokens, float(pre),
                       np.concatenate([steps[:1], steps]), cs2)


def normal_quantile(p: float) -> float:
    """Standard normal p-quantile (Acklam's rational approximation, relative error < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1) (got {p})")
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - 0.02425:
        return -normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def poisson_quantile(mean: np.ndarray, p: float) -> np.ndarray:
    """p-quantile of Poisson(mean), Cornish-Fisher: ceil(m + z sqrt(m) + (z² - 1)/6), at least 0.
    Within one of the exact quantile for means of a few upwards; 0 for a zero mean."""
    m = np.maximum(np.asarray(mean, dtype=float), 0.0)
    z = normal_quantile(p)
    q = np.ceil(m + z * np.sqrt(m) + (z * z - 1.0) / 6.0 - 1e-9)
    return np.where(m > 0, np.maximum(q, 0.0), 0.0)


def _step(t: BucketTimes, n: np.ndarray) -> np.ndarray:
    """step(n), linear between integers, n clipped to [1, c]."""
    x = np.clip(n, 1.0, float(t.batch_cap))
    return np.interp(x, np.arange(t.batch_cap + 1, dtype=float), t.step_s)


def _ttft_service(t: BucketTimes, n: np.ndarray) -> np.ndarray:
    chunks = np.ceil(t.input_tokens / np.maximum(t.chunk_tokens - np.clip(n, 1.0, t.batch_cap), 1.0))
    return t.prefill_s + (chunks + 0.5) * _step(t, n)


def _rate_at(t: BucketTimes, n: np.ndarray) -> np.ndarray:
    """The rate λ at which n sequences run on average: n = λ S(n) with S(n) = A + K / (1 - λ prefill_s),
    A = TTFT_svc(n), K = (L_out - 1) step(n); multiplying out gives prefill_s A λ² - (A + K + n
    prefill_s) λ + n = 0, whose smaller root is the rate (n / (A + K) when prefill_s = 0)."""
    a = _ttft_service(t, n)
    k = (t.output_tokens - 1) * _step(t, n)
    b = a + k + n * t.prefill_s
    qa = t.prefill_s * a
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.sqrt(np.maximum(b * b - 4.0 * qa * n, 0.0))
        root = np.where(qa > 0, 2.0 * n / (b + disc), n / np.maximum(a + k, 1e-300))
    return root


def _occupancy_table(t: BucketTimes) -> tuple[np.ndarray, np.ndarray]:
    """(rates, occupancies): the running maximum of _rate_at over n in [0, c] in quarter steps, so the
    mean occupancy at a rate (the smallest fixed point of n = λ S(n)) is read off by interpolation."""
    key = id(t)
    hit = _TABLES.get(key)
    if hit is not None and hit[0] is t:
        return hit[1], hit[2]
    n = np.linspace(0.0, float(t.batch_cap), 4 * t.batch_cap + 1)
    lam = np.maximum.accumulate(_rate_at(t, n))
    if len(_TABLES) > 4096:
        _TABLES.clear()
    _TABLES[key] = (t, lam, n)
    return lam, n


_TABLES: dict[int, tuple] = {}


def _state(t: BucketTimes, rate: np.ndarray):
    """(ρ_p, n̄, S(n̄), 1 / (1 - ρ_p), stable) at each rate."""
    lam = np.asarray(rate, dtype=float)
    rho_p = lam * t.prefill_s
    slow = np.where(rho_p < 1.0, 1.0 / np.maximum(1.0 - rho_p, 1e-12), np.inf)
    table_rate, table_n = _occupancy_table(t)
    n = np.interp(lam, table_rate, table_n)
    s = _ttft_service(t, n) + (t.output_tokens - 1) * _step(t, n) * slow
    stable = (rho_p < 1.0) & (lam < table_rate[-1] * (1.0 - 1e-9)) & np.isfinite(s)
    return rho_p, n, s, slow, stable


def quantiles(t: BucketTimes, rate_qps, p: float) -> Latencies:
    """p-quantiles of TTFT, TPOT and E2E at each rate (steps 1-8 of the module docstring)."""
    rate = np.atleast_1d(np.asarray(rate_qps, dtype=float))
    rho_p, n_bar, s, slow, stable = _state(t, rate)
    c = t.batch_cap
    rho = np.clip(rate * s / c, 0.0, 1.0 - 1e-12)
    p_wait = rho ** (math.sqrt(2.0 * (c + 1)) - 1.0)
    wq = p_wait * s / (c * (1.0 - rho)) * (1.0 + t.cs2) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        w_slot = np.where(p_wait > 1 - p, wq / np.maximum(p_wait, 1e-300) * np.log(p_wait / (1 - p)), 0.0)
        rp = np.clip(rho_p, 0.0, 1.0 - 1e-12)
        w_pre = np.where(rp > 1 - p, t.prefill_s / (1.0 - rp) * np.log(np.maximum(rp, 1e-300) / (1 - p)), 0.0)
    n_p = np.clip(poisson_quantile(n_bar, p), 1.0, float(c))
    ttft = w_slot + w_pre + _ttft_service(t, n_p)
    if t.output_tokens > 1:
        decode = (t.output_tokens - 1) * _step(t, n_bar) * slow
        n_pre = poisson_quantile(rate * decode, p)
        tpot = _step(t, n_p) + n_pre * t.prefill_s / (t.output_tokens - 1)
    else:
        tpot = np.zeros_like(rate)
    e2e = ttft + (t.output_tokens - 1) * tpot
    inf = np.full_like(rate, np.inf)
    return Latencies(np.where(stable, ttft, inf), np.where(stable, tpot, inf), np.where(stable, e2e, inf),
                     stable, n_bar)


def means(t: BucketTimes, rate_qps) -> Latencies:
    """Mean TTFT, TPOT and E2E at each rate (the response time of Little's law)."""
    rate = np.atleast_1d(np.asarray(rate_qps, dtype=float))
    rho_p, n_bar, s, slow, stable = _state(t, rate)
    c = t.batch_cap
    rho = np.clip(rate * s / c, 0.0, 1.0 - 1e-12)
    p_wait = rho ** (math.sqrt(2.0 * (c + 1)) - 1.0)
    wq = p_wait * s / (c * (1.0 - rho)) * (1.0 + t.cs2) / 2.0
    rp = np.clip(rho_p, 0.0, 1.0 - 1e-12)
    ttft = wq + rp * t.prefill_s / (1.0 - rp) + _ttft_service(t, n_bar)
    tpot = _step(t, n_bar) * slow if t.output_tokens > 1 else np.zeros_like(rate)
    e2e = ttft + (t.output_tokens - 1) * tpot
    inf = np.full_like(rate, np.inf)
    return Latencies(np.where(stable, ttft, inf), np.where(stable, tpot, inf), np.where(stable, e2e, inf),
                     stable, n_bar)


def saturation_qps(t: BucketTimes) -> float:
    """The supremum of stable rates: the rate at which all c slots are busy on average (the queue of
    slots grows without bound above it)."""
    return float(_occupancy_table(t)[0][-1]) * (1.0 - 1e-6)


def capacity_qps(t: BucketTimes, p: float, ttft_max_s: float | None, tpot_max_s: float | None,
                 e2e_max_s: float | None = None) -> float:
    """The largest rate (requests/s) at which the stable p-quantiles meet every given limit; 0 when
    even a vanishing rate misses one. Latencies rise with the rate, so a 64-point geometric grid up
    to saturation brackets it and a second 64-point grid inside the bracket refines it (relative
    precision ~2e-4); the point returned always passes."""
    top = saturation_qps(t)
    if top <= 0:
        return 0.0

    def passes(rates: np.ndarray) -> np.ndarray:
        lat = quantiles(t, rates, p)
        ok = lat.stable.copy()
        for got, limit in ((lat.ttft_s, ttft_max_s), (lat.tpot_s, tpot_max_s), (lat.e2e_s, e2e_max_s)):
            if limit is not None:
                ok &= got <= limit
        return ok

    grid = top * np.geomspace(1e-6, 1.0, GRID_POINTS)
    ok = passes(grid)
    if not ok[0]:
        return 0.0
    k = len(grid) if ok.all() else int(np.argmin(ok))
    lo = float(grid[k - 1])
    hi = float(grid[k]) if k < len(grid) else top
    fine = np.linspace(lo, hi, GRID_POINTS + 1)[1:]
    ok = passes(fine)
    j = len(fine) if ok.all() else int(np.argmin(ok))
    return float(fine[j - 1]) if j > 0 else lo
