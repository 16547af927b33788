"""Replica-level serving simulation: continuous batching with chunked prefill, iteration by iteration.

One replica of a `Deployment` serves requests that arrive at given times with (L_in, L_out) tokens.
The engine model (vLLM-like; an analytic queueing model elsewhere assumes exactly these rules):

- FCFS waiting queue. At an iteration boundary the head is admitted while the running sequences
  (prefilling + decoding) number fewer than `batch_cap` (vLLM `max_num_seqs`) and the reserved KV
  plus L_in + L_out fits `kv_budget_tokens`. KV is reserved for the whole context at admission
  and freed at completion: conservative, where vLLM allocates blocks lazily and preempts when they
  run out; with sliding-window layers a request reserves what its capped cache is worth
  (`kv_reserved_tokens`). A request whose context exceeds the whole budget can never run; it is counted in
  `rejected` and never queues.
- Each iteration every decoding sequence gets one token, and prefill gets up to
  max(chunk_tokens - n_decoding, 1) prompt tokens, FCFS over admitted prompts (several short
  prompts share an iteration; a long one spans several).
- Iteration time = overhead + decode_core + sum of chunk costs (the step composition of
  `perf.prefill_added_s`: one weight read per iteration): overhead = step_overhead_ms;
  decode_core = perf.decode_step_time(n_decoding, mean context).total_s - overhead, mean context =
  mean over decoding sequences of L_in + tokens generated so far; with nothing decoding it is the
  weight read alone (perf.prefill_time(...).memory_s; 0 for an engine that does not batch prefill,
  whose chunks carry their own); a chunk of k tokens of an L-token prompt costs
  perf.prefill_added_s(perf.prefill_time(L)) x k / L.
- The first token comes at the end of the iteration that completes the prefill, then one token
  per iteration up to L_out. TTFT = first token - arrival, TPOT = (last - first) / (L_out - 1)
  (NaN for L_out = 1), E2E = last token - arrival. An idle replica jumps to the next arrival.

Speed. No SimPy (and no new dependency): a process library would schedule every iteration as an
event, while these semantics are per iteration and a fleet needs ~150,000 requests in seconds.
Here a plain loop over a heap and lists jumps from event to event: while the decoding set and the
prefill in progress stay the same, iterations repeat with the same composition, so k of them are
advanced at once, k = min(iterations until the next decoding sequence finishes, until the long
prompt in progress reaches its last chunk, until the first boundary at or after the next arrival
when that arrival could be admitted). The decode step is linear in the context within each
regime (memory: weights + batch x context x KV; compute: batch x (2 x params + attention(context))),
so its coefficients are read once per batch size from two perf.decode_step_time calls over an
array of batch sizes, and the k iterations' decode time is summed in closed form with the mean
context rising by one token per iteration, split at the memory/compute ridge. No context is
frozen between events or binned: the only error is floating-point rounding (the tests check
against a per-iteration reference to 1e-9). The tables (decode coefficients by batch size,
prefill_s by prompt length) are cached per deployment across calls.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from heapq import heappop, heappush

import numpy as np

from planner import perf
from planner.catalog.precisions import Efficiency
from planner.perf.estimate import Deployment, memory_breakdown
from planner.serving.arrivals import poisson_arrivals, renewal_arrivals, route, thin

__all__ = [
    "ReplicaResult", "ReplicaSpec", "attainment", "kv_budget_tokens", "kv_reserved_tokens", "percentiles",
    "poisson_arrivals", "renewal_arrivals", "route", "simulate_replica", "thin",
]

_SLOPE_CONTEXT_TOKENS = 1 << 20
"""Second context at which the decode step is evaluated to read off its slope per context token."""

_CACHE_SIZE = 16
"""Deployments whose step tables are kept between calls (a fleet simulation reuses a few)."""


@dataclass(frozen=True)
class ReplicaSpec:
    """One replica and its engine limits.

    Attributes:
        deployment: Model, GPU, precision and parallelism of the replica.
        eff: Efficiency factors for the GPU's family (`Catalog.efficiency_for(gpu)`).
        batch_cap: Most sequences running at once, prefilling or decoding (vLLM `max_num_seqs`).
        kv_budget_tokens: KV-cache tokens the replica holds (`kv_budget_tokens(deployment)`).
        chunk_tokens: Token budget of one iteration (vLLM `max_num_batched_tokens`).
    """

    deployment: Deployment
    eff: Efficiency
    batch_cap: int
    kv_budget_tokens: int
    chunk_tokens: int

    def __post_init__(self) -> None:
        if self.batch_cap < 1 or self.chunk_tokens < 1 or self.kv_budget_tokens < 0:
            raise ValueError(f"need batch_cap >= 1, chunk_tokens >= 1, kv_budget_tokens >= 0 (got "
                             f"{self.batch_cap}, {self.chunk_tokens}, {self.kv_budget_tokens})")


@dataclass
class ReplicaResult:
    """Per-request latencies (in the input's order; NaN for rejected requests) and replica totals.

    Attributes:
        ttft_s: Time to first token, seconds.
        tpot_s: Time per output token after the first, seconds (NaN where L_out = 1).
        e2e_s: Arrival to last token, seconds.
        arrival_s: Arrival times as given, seconds.
        admit_s: Admission times (the iteration boundary that took the request in), seconds.
        peak_queue: Most requests waiting for admission at once (one admitted at the instant it
            arrives never waits).
        rejected: Requests whose context (L_in + L_out) exceeds the whole KV budget.
        mean_running: Time-average of sequences admitted and not finished over [0, end_s].
        mean_waiting: Time-average of requests arrived and not admitted over [0, end_s].
        busy_s: Seconds the replica spent running iterations.
        end_s: Time of the last token, seconds (0 when nothing ran).
    """

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    arrival_s: np.ndarray
    admit_s: np.ndarray
    peak_queue: int
    rejected: int
    mean_running: float
    mean_waiting: float
    busy_s: float
    end_s: float

    @property
    def completed(self) -> int:
        """Requests served to their last token."""
        return int(np.count_nonzero(~np.isnan(self.e2e_s)))


def kv_budget_tokens(d: Deployment) -> int:
    """KV-cache tokens one replica holds: floor(free bytes / KV bytes per token per GPU), where free =
    usable capacity - weights - activations - runtime overhead per GPU (`memory_breakdown(d, 0, 1)`);
    0 when the weights do not fit.

    Example: Llama-3.1-8B FP16 on an H100 (0.9 x 79.19 GiB reported = 71.27 GiB usable, 14.96 GiB
    weights): KV is 2 x 32 layers x 8 heads x 128 x 2 B = 128 KiB per token: about 450,000 tokens."""
    base = memory_breakdown(d, 0, 1)
    free_bytes = base.capacity - base.weights - base.activations - base.overhead
    per_token_bytes = perf.kv_cache_bytes_per_token_per_gpu(d.model, d.kv_bytes, d.tp, d.pp)
    return max(0, math.floor(free_bytes / per_token_bytes))


def kv_reserved_tokens(d: Deployment, context_tokens: np.ndarray) -> np.ndarray:
    """KV-budget tokens a request of `context_tokens` reserves: its context, or with sliding-window
    layers ceil(`perf.kv_cache_layer_tokens` / n_layers), the whole-model tokens its capped cache
    is worth (Gemma-3-27B at 8,192 tokens: ceil(135,168 / 62) = 2,181)."""
    m = d.model
    if not m.n_sliding_layers:
        return context_tokens
    return np.ceil(perf.kv_cache_layer_tokens(m, context_tokens.astype(float)) / m.n_layers).astype(np.int64)


class _Tables:
    """Step-time tables of one deployment: decode coefficients by batch size, prefill by length.

    decode_core(n, c) = max(mem0[n] + mem_slope[n] x c, cmp0[n] + cmp_slope[n] x c) + comm[n], read
    off two perf.decode_step_time calls (context 0 and 2^20) over an array of batch sizes; `cross[n]`
    is the context where the two lines meet (inf when parallel).
    """

    def __init__(self, d: Deployment, eff: Efficiency) -> None:
        self.d, self.eff = d, eff
        self.overhead_s = eff.step_overhead_ms / 1e3
        weights_s = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, 1, eff, d.pp).memory_s
        self.idle_weights_s = float(weights_s) if d.batches_prefill else 0.0
        """Weight read of an iteration with nothing decoding (the decode batch reads them otherwise)."""
        self.prefill_s: dict[int, float] = {}
        self.n_max = -1
        self.mem0 = self.mem_slope = self.cmp0 = self.cmp_slope = self.comm = self.cross = []

    def ensure_batch(self, n_max: int) -> None:
        """Make the decode tables cover batch sizes 0..n_max."""
        if n_max <= self.n_max:
            return
        d, eff = self.d, self.eff
        n = np.arange(n_max + 1, dtype=float)
        at0 = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, n, 0.0, eff, d.pp)
        at1 = perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, n, float(_SLOPE_CONTEXT_TOKENS),
                                    eff, d.pp)
        mem0, cmp0 = np.broadcast_to(at0.memory_s, n.shape), np.broadcast_to(at0.compute_s, n.shape)
        mem_slope = (np.broadcast_to(at1.memory_s, n.shape) - mem0) / _SLOPE_CONTEXT_TOKENS
        cmp_slope = (np.broadcast_to(at1.compute_s, n.shape) - cmp0) / _SLOPE_CONTEXT_TOKENS
        gap = mem_slope - cmp_slope
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(gap != 0, (cmp0 - mem0) / np.where(gap != 0, gap, 1.0), np.inf)
        self.mem0, self.mem_slope, self.cmp0, self.cmp_slope = (mem0.tolist(), mem_slope.tolist(), cmp0.tolist(),
                                                                cmp_slope.tolist())
        self.comm = np.broadcast_to(np.asarray(at0.comm_s, dtype=float), n.shape).tolist()
        self.cross = cross.tolist()
        self.n_max = n_max

    def prefill_per_token_s(self, lengths: np.ndarray) -> np.ndarray:
        """perf.prefill_added_s(prefill of L) / L for each prompt length L, cached by L."""
        d, eff, cache = self.d, self.eff, self.prefill_s
        unique, inverse = np.unique(lengths, return_inverse=True)
        values = np.empty(len(unique))
        for i, length in enumerate(unique.tolist()):
            s = cache.get(length)
            if s is None:
                pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, length, eff, d.pp)
                s = cache[length] = float(perf.prefill_added_s(pre, d.batches_prefill))
            values[i] = s / length
        return values[inverse.reshape(-1)]


_TABLES: OrderedDict[str, _Tables] = OrderedDict()


def _tables(d: Deployment, eff: Efficiency) -> _Tables:
    """The cached tables of a deployment, keyed by everything the step times depend on."""
    key = repr((d.model, d.gpu, d.precision, d.kv_bytes, d.tp, d.pp, d.batches_prefill, eff))
    found = _TABLES.get(key)
    if found is None:
        found = _TABLES[key] = _Tables(d, eff)
        while len(_TABLES) > _CACHE_SIZE:
            _TABLES.popitem(last=False)
    _TABLES.move_to_end(key)
    return found


def _stretch_s(j: int, per_iteration_s: float, c0: float, am: float, bm: float, ac: float, bc: float,
               cross: float) -> float:
    """Seconds of j iterations: j x per_iteration_s plus sum over i < j of
    max(am + bm x (c0 + i), ac + bc x (c0 + i)), each line summed in closed form on either side of
    the crossing context `cross` (am = bm = ac = bc = 0 with nothing decoding)."""
    if cross - c0 >= j:
        split = j
    elif cross <= c0:
        split = 0
    else:
        split = math.ceil(cross - c0)
    total = j * per_iteration_s
    if split > 0:
        mid = c0 + (split - 1) / 2.0
        total += split * max(am + bm * mid, ac + bc * mid)
    if split < j:
        mid = c0 + (split + j - 1) / 2.0
        total += (j - split) * max(am + bm * mid, ac + bc * mid)
    return total


def _iterations_to_reach(delta_s: float, k_max: int, args: tuple) -> int:
    """Fewest iterations j <= k_max whose stretch lasts at least `delta_s` (k_max when none does).
    The per-iteration time never falls (the context only grows), which brackets j before bisecting."""
    if _stretch_s(k_max, *args) < delta_s:
        return k_max
    per_iteration_s, c0, am, bm, ac, bc, _ = args
    lo, hi = 0, k_max  # stretch(lo) < delta_s <= stretch(hi)
    first_s = per_iteration_s + max(am + bm * c0, ac + bc * c0)
    guess = min(k_max, max(1, math.ceil(delta_s / first_s)))
    if guess < hi and _stretch_s(guess, *args) >= delta_s:
        hi = guess
    c_last = c0 + hi - 1
    guess = math.ceil(delta_s / (per_iteration_s + max(am + bm * c_last, ac + bc * c_last))) - 1
    if lo < guess < hi and _stretch_s(guess, *args) < delta_s:
        lo = guess
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _stretch_s(mid, *args) >= delta_s:
            hi = mid
        else:
            lo = mid
    return hi


def _run(arr: list, lin: list, lout: list, ctx: list, unit: list, tab: _Tables, cap: int, budget: int,
         chunk: int) -> tuple:
    """The event loop over requests sorted by arrival (all of which fit the KV budget)."""
    n_req = len(arr)
    oh, idle_weights_s = tab.overhead_s, tab.idle_weights_s
    mem0, mem_slope, cmp0, cmp_slope = tab.mem0, tab.mem_slope, tab.cmp0, tab.cmp_slope
    comm, cross = tab.comm, tab.cross
    nan = math.nan
    admit, first, last = [nan] * n_req, [nan] * n_req, [nan] * n_req
    first_iter = [0] * n_req
    t, it, nxt, adm, kv, n_run = 0.0, 0, 0, 0, 0, 0
    pf = 0  # admitted requests pf..adm-1 are prefilling, in FCFS order (admission follows arrival)
    head_rem = 0  # prompt tokens request pf still needs (only the head is ever partly prefilled)
    heap: list[tuple[int, int]] = []  # (iteration that emits the last token, request) of decoding ones
    ctx_sum = 0  # sum over decoding requests of L_in - first_iter: mean context = ctx_sum / n + it + 1
    peak = 0
    run_area = wait_area = busy = 0.0
    while True:
        while nxt < n_req and arr[nxt] < t:
            wait_area += t - arr[nxt]
            nxt += 1
        if nxt - adm > peak:  # the queue just before this boundary
            peak = nxt - adm
        while nxt < n_req and arr[nxt] == t:  # arriving now: admitted at once if there is room
            nxt += 1
        while adm < nxt and n_run < cap and kv + ctx[adm] <= budget:
            kv += ctx[adm]
            n_run += 1
            admit[adm] = t
            if pf == adm:
                head_rem = lin[adm]
            adm += 1
        if nxt - adm > peak:
            peak = nxt - adm
        if n_run == 0:
            if nxt >= n_req:
                break
            t = arr[nxt]
            continue
        n_dec = len(heap)
        bud = chunk - n_dec if chunk - n_dec > 1 else 1
        per_it = oh
        am = bm = ac = bc = c0 = 0.0
        cr = math.inf
        k_max = 1 << 62
        if n_dec:
            per_it += comm[n_dec]
            am, bm, ac, bc, cr = mem0[n_dec], mem_slope[n_dec], cmp0[n_dec], cmp_slope[n_dec], cross[n_dec]
            c0 = ctx_sum / n_dec + it + 1
            k_max = heap[0][0] - it
        else:
            per_it += idle_weights_s
        mixed = False
        if pf < adm:
            if head_rem > bud:  # a long prompt takes whole chunks until its last one
                per_it += unit[pf] * bud
                k_max = min(k_max, (head_rem - 1) // bud)
            else:  # one iteration finishes the head's prompt and starts the next ones
                mixed, k_max, left, rem, h = True, 1, bud, head_rem, pf
                while True:
                    take = rem if rem < left else left
                    per_it += unit[h] * take
                    left -= take
                    h += 1
                    if left == 0 or h == adm:
                        break
                    rem = lin[h]
        args = (per_it, c0, am, bm, ac, bc, cr)
        k = k_max
        if not mixed and adm == nxt and nxt < n_req and n_run < cap and kv + ctx[nxt] <= budget:
            k = _iterations_to_reach(arr[nxt] - t, k_max, args)
        dur = _stretch_s(k, *args)
        run_area += n_run * dur
        wait_area += (nxt - adm) * dur
        busy += dur
        t += dur
        it += k
        while heap and heap[0][0] <= it:
            h = heappop(heap)[1]
            last[h] = t
            ctx_sum -= lin[h] - first_iter[h]
            kv -= ctx[h]
            n_run -= 1
        if pf < adm:
            if not mixed:
                head_rem -= k * bud
            else:
                left = bud
                while pf < adm and left > 0:
                    if head_rem > left:
                        head_rem -= left
                        break
                    left -= head_rem
                    h = pf
                    pf += 1
                    head_rem = lin[pf] if pf < adm else 0
                    first[h] = t
                    if lout[h] == 1:
                        last[h] = t
                        kv -= ctx[h]
                        n_run -= 1
                    else:
                        first_iter[h] = it
                        ctx_sum += lin[h] - it
                        heappush(heap, (it + lout[h] - 1, h))
    return admit, first, last, peak, run_area, wait_area, busy, t


def simulate_replica(spec: ReplicaSpec, arrival_s: np.ndarray, input_tokens: np.ndarray,
                     output_tokens: np.ndarray) -> ReplicaResult:
    """Serve the requests on one replica (rules in the module docstring) and time each of them.

    Args:
        spec: The replica and its engine limits.
        arrival_s: Arrival times, seconds (>= 0, any order; ties are served in the given order).
        input_tokens: Prompt tokens per request (>= 1).
        output_tokens: Output tokens per request (>= 1).

    Returns:
        Per-request TTFT, TPOT and E2E in the input's order, and the replica's totals.
    """
    arrival = np.asarray(arrival_s, dtype=float).reshape(-1)
    l_in = np.asarray(input_tokens).reshape(-1).astype(np.int64)
    l_out = np.asarray(output_tokens).reshape(-1).astype(np.int64)
    if not len(arrival) == len(l_in) == len(l_out):
        raise ValueError(f"arrival_s, input_tokens and output_tokens differ in length "
                         f"({len(arrival)}, {len(l_in)}, {len(l_out)})")
    if len(arrival) and (not np.all(np.isfinite(arrival)) or arrival.min() < 0):
        raise ValueError("arrival_s must be finite and >= 0")
    if len(arrival) and (l_in.min() < 1 or l_out.min() < 1):
        raise ValueError("input_tokens and output_tokens must be >= 1")
    context = l_in + l_out
    kv_tokens = kv_reserved_tokens(spec.deployment, context)
    fits = kv_tokens <= spec.kv_budget_tokens
    order = np.argsort(arrival, kind="stable")
    order = order[fits[order]]
    tab = _tables(spec.deployment, spec.eff)
    n_req = len(order)
    admit = first = last = np.empty(0)
    peak, run_area, wait_area, busy, end_s = 0, 0.0, 0.0, 0.0, 0.0
    if n_req:
        tab.ensure_batch(min(spec.batch_cap, spec.kv_budget_tokens // 2, n_req))
        unit = tab.prefill_per_token_s(l_in[order])
        admit, first, last, peak, run_area, wait_area, busy, end_s = _run(
            arrival[order].tolist(), l_in[order].tolist(), l_out[order].tolist(), kv_tokens[order].tolist(),
            unit.tolist(), tab, spec.batch_cap, spec.kv_budget_tokens, spec.chunk_tokens)
    n = len(arrival)
    out = {name: np.full(n, np.nan) for name in ("admit", "first", "last")}
    out["admit"][order], out["first"][order], out["last"][order] = admit, first, last
    ttft = out["first"] - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(l_out > 1, (out["last"] - out["first"]) / (l_out - 1), np.nan)
    window = end_s if end_s > 0 else 1.0
    return ReplicaResult(
        ttft_s=ttft, tpot_s=tpot, e2e_s=out["last"] - arrival, arrival_s=arrival, admit_s=out["admit"],
        peak_queue=int(peak), rejected=int(n - n_req), mean_running=run_area / window,
        mean_waiting=wait_area / window, busy_s=busy, end_s=end_s if n_req else 0.0,
    )


def percentiles(values: np.ndarray, ps: tuple[float, ...] = (50, 90, 99)) -> dict[str, float]:
    """Percentiles of the non-NaN values (numpy's 'linear' method), keyed "p50", "p90", "p99.9"...;
    NaN for each when no value is left.

    Example: [1, 2, 3, 4, NaN] -> p50 = 2.5 (halfway between the 2nd and 3rd of four values).
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[~np.isnan(v)]
    keys = [f"p{p:g}" for p in ps]
    if v.size == 0:
        return {k: math.nan for k in keys}
    return {k: float(x) for k, x in zip(keys, np.percentile(v, list(ps), method="linear"))}


def attainment(values: np.ndarray, limit: float) -> float:
    """Share of the non-NaN values at or under `limit` (an SLO's attainment); 1.0 when there are
    none (no value misses it: e.g. TPOT when every answer is one token long).

    Example: [0.1, 0.2, 0.3, NaN] against 0.2 -> 2 / 3.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return 1.0
    return float(np.count_nonzero(v <= limit)) / v.size
