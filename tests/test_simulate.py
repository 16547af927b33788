"""The replica simulator (planner/serving/simulate.py), its arrival generators and statistics.

Hand-derived cases use Llama-3.1-8B in FP16 with FP16 KV on one H100 SXM (80 GiB, 3,350 GB/s,
989.5 dense FP16 TFLOPS; Hopper factors: bandwidth 62.48 %, decode MFU 32.85 %, prefill MFU
59.70 %, 0.55 ms per step). The expected times are recomputed from `perf` in each test by the
rule stated in its docstring; the docstrings give the figures rounded. A slow per-iteration
reference, written straight from the rules, checks the fast event-stretch simulator on busy runs.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest

from planner import perf
from planner.catalog.store import load_catalog
from planner.perf.estimate import Deployment
from planner.serving import simulate
from planner.serving.simulate import (
    ReplicaSpec,
    attainment,
    kv_budget_tokens,
    percentiles,
    poisson_arrivals,
    renewal_arrivals,
    route,
    simulate_replica,
    thin,
)

CAT = load_catalog()
FP16 = CAT.precision("fp16")
D8B = Deployment(CAT.model("llama-3.1-8b"), CAT.gpu("h100"), FP16, FP16)
EFF = CAT.efficiency_for(D8B.gpu)
OVERHEAD_S = EFF.step_overhead_ms / 1e3


MOE_TP2 = Deployment(CAT.model("mixtral-8x7b"), CAT.gpu("h100"), FP16, FP16, tp=2)


def spec(batch_cap: int = 256, kv_tokens: int | None = None, chunk_tokens: int = 8192,
         d: Deployment = D8B) -> ReplicaSpec:
    return ReplicaSpec(d, EFF, batch_cap, kv_budget_tokens(d) if kv_tokens is None else kv_tokens, chunk_tokens)


def prefill_s(tokens: int, d: Deployment = D8B) -> float:
    return perf.prefill_time(d.model, d.gpu, d.precision, d.tp, tokens, EFF, d.pp).total_s


def added_s(tokens: int, d: Deployment = D8B) -> float:
    """What a prompt adds to an iteration (perf.prefill_added_s): its compute and all-reduce."""
    pre = perf.prefill_time(d.model, d.gpu, d.precision, d.tp, tokens, EFF, d.pp)
    return pre.compute_s + pre.comm_s


def weights_s(d: Deployment = D8B) -> float:
    """The weight read of an iteration that nothing decodes in."""
    return perf.prefill_time(d.model, d.gpu, d.precision, d.tp, 1, EFF, d.pp).memory_s


def step_s(batch: int, context: float, d: Deployment = D8B) -> float:
    return perf.decode_step_time(d.model, d.gpu, d.precision, d.kv_bytes, d.tp, batch, context, EFF, d.pp).total_s


def run(s: ReplicaSpec, arrival, lin, lout):
    return simulate_replica(s, np.asarray(arrival, float), np.asarray(lin), np.asarray(lout))


def test_kv_budget_tokens_is_free_memory_over_kv_per_token():
    """Usable = 79.19 GiB reported by an H100 x 0.9 = 76,526,653,538 B; minus weights 8.03e9 x 2 =
    16,060,000,000 B, the activation peak max(forward 1.4085 x 8,192 x (2 x 4,096 + 3 x 14,336) x 2 =
    1,181,535,437 B, sampler 15.4543 x 256 x 128,256 = 507,419,315 B) = 1,181,535,437 B and non-torch
    0.2498 GiB = 268,220,708 B leaves 59,016,897,393 B (terms of catalog/memory_terms.csv). KV per
    token is 2 x 32 layers x 8 KV heads x 128 x 2 B = 131,072 B, so floor(450,263.2) = 450,263 tokens."""
    assert kv_budget_tokens(D8B) == 450_263


def test_one_request_alone():
    """512 tokens in, 100 out, arriving at 1.0 s on an idle replica. The prompt fits one chunk
    (512 <= 8,192) and nothing decodes, so TTFT is one iteration: overhead + weight read + the
    prompt's compute = prefill_s(512) = memory 7.673 + compute 14.036 + overhead 0.550 = 22.26 ms
    (shipped Hopper factors). Then 99 decode iterations at batch 1 with contexts 513..611 (L_in +
    tokens generated so far): E2E = TTFT + sum of step(1, 512 + g) for g = 1..99; the step is
    linear in the context, so this is 99 x step(1, 562) = 99 x 8.258 = 817.6 ms, and E2E = 839.8 ms.
    TPOT = (E2E - TTFT) / 99 = 8.258 ms."""
    r = run(spec(), [1.0], [512], [100])
    ttft = prefill_s(512)
    assert ttft == pytest.approx(0.02226, abs=1e-5)
    assert OVERHEAD_S + weights_s() + added_s(512) == pytest.approx(ttft, rel=1e-12)
    assert r.ttft_s[0] == pytest.approx(ttft, rel=1e-12)
    decode = sum(step_s(1, 512 + g) for g in range(1, 100))
    assert r.e2e_s[0] == pytest.approx(ttft + decode, rel=1e-12)
    assert r.e2e_s[0] == pytest.approx(ttft + 99 * step_s(1, 562), rel=1e-9)
    assert r.e2e_s[0] == pytest.approx(0.8398, abs=1e-4)
    assert r.tpot_s[0] == pytest.approx(decode / 99, rel=1e-12)
    assert r.admit_s[0] == 1.0 and r.peak_queue == 0 and r.rejected == 0
    assert r.end_s == pytest.approx(1.0 + r.e2e_s[0], rel=1e-12)
    assert r.busy_s == pytest.approx(r.e2e_s[0], rel=1e-12)


def test_long_prompt_takes_ceil_length_over_chunk_iterations():
    """5,000 prompt tokens with a 2,048-token chunk: ceil(5000 / 2048) = 3 iterations of 2,048,
    2,048 and 904 tokens, each with its own overhead and weight read (nothing decodes): TTFT = 3 x
    (0.550 + 7.673) ms + the prompt's compute 147.027 ms = prefill_s(5000) + 2 x 8.223 = 155.25 +
    16.45 = 171.70 ms. One output token: no TPOT, E2E = TTFT."""
    r = run(spec(chunk_tokens=2048), [0.0], [5000], [1])
    expected = prefill_s(5000) + 2 * (OVERHEAD_S + weights_s())
    assert expected == pytest.approx(0.17170, abs=1e-5)
    assert r.ttft_s[0] == pytest.approx(expected, rel=1e-12)
    assert math.isnan(r.tpot_s[0])
    assert r.e2e_s[0] == r.ttft_s[0]
    one_chunk = run(spec(chunk_tokens=5000), [0.0], [5000], [1])
    assert one_chunk.ttft_s[0] == pytest.approx(prefill_s(5000), rel=1e-12)


def test_batch_cap_one_serialises_requests():
    """Two requests at t = 0 with batch_cap 1: the second is admitted at the boundary where the
    first emits its last token (E2E1 = prefill_s(300) + 49 steps at batch 1), then prefills alone:
    TTFT2 = E2E1 + prefill_s(200) >= E2E1. It waited alone: peak queue 1."""
    r = run(spec(batch_cap=1), [0.0, 0.0], [300, 200], [50, 20])
    e2e1 = prefill_s(300) + sum(step_s(1, 300 + g) for g in range(1, 50))
    assert r.e2e_s[0] == pytest.approx(e2e1, rel=1e-12)
    assert r.ttft_s[1] >= r.e2e_s[0]
    assert r.ttft_s[1] == pytest.approx(e2e1 + prefill_s(200), rel=1e-12)
    assert r.admit_s[1] == pytest.approx(e2e1, rel=1e-12)
    assert r.peak_queue == 1


def test_kv_budget_holds_back_and_rejects():
    """KV budget 600 tokens = one request of 500 in + 100 out. Two such requests at t = 0 (batch
    cap 8): the second's 600 tokens fit only after the first frees its reservation, so TTFT2 =
    E2E1 + prefill_s(500). A third request of 501 + 100 = 601 tokens exceeds the whole budget:
    rejected, NaN times, and it never queues."""
    r = run(spec(batch_cap=8, kv_tokens=600), [0.0, 0.0, 0.0], [500, 500, 501], [100, 100, 100])
    e2e1 = prefill_s(500) + sum(step_s(1, 500 + g) for g in range(1, 100))
    assert r.e2e_s[0] == pytest.approx(e2e1, rel=1e-12)
    assert r.ttft_s[1] == pytest.approx(e2e1 + prefill_s(500), rel=1e-12)
    assert r.rejected == 1 and r.completed == 2
    assert np.isnan([r.ttft_s[2], r.tpot_s[2], r.e2e_s[2], r.admit_s[2]]).all()
    assert r.peak_queue == 1
    all_rejected = run(spec(kv_tokens=0), [0.0, 1.0], [10, 10], [10, 10])
    assert all_rejected.rejected == 2 and all_rejected.completed == 0 and all_rejected.end_s == 0.0


def test_short_prompts_share_an_iteration():
    """Three 100-token prompts at t = 0, chunk 8,192: one iteration prefills all three (one
    overhead, one weight read), so each TTFT = overhead + weights + 3 x the prompt's compute =
    0.550 + 7.673 + 3 x 2.723 = 16.39 ms (three separate passes would be 3 x 10.95 = 32.84 ms)."""
    r = run(spec(), [0.0] * 3, [100] * 3, [1] * 3)
    expected = OVERHEAD_S + weights_s() + 3 * added_s(100)
    assert expected == pytest.approx(0.01639, abs=1e-5)
    np.testing.assert_allclose(r.ttft_s, expected, rtol=1e-12)


def reference(s: ReplicaSpec, arrival, lin, lout) -> dict:
    """The rules of the module docstring, one iteration at a time, calling perf every iteration
    with the exact mean context (slow; for cross-checking only)."""
    d = s.deployment
    n = len(arrival)
    ctx = [lin[i] + lout[i] for i in range(n)]
    pending = deque(i for i in sorted(range(n), key=lambda i: (arrival[i], i)) if ctx[i] <= s.kv_budget_tokens)
    first, last, admit = [math.nan] * n, [math.nan] * n, [math.nan] * n
    waiting: deque[int] = deque()
    prefilling: list[list[int]] = []  # [request, prompt tokens left]
    decoding: dict[int, int] = {}  # request -> tokens generated
    t, kv, peak = 0.0, 0, 0
    while pending or waiting or prefilling or decoding:
        while pending and arrival[pending[0]] < t:
            waiting.append(pending.popleft())
        peak = max(peak, len(waiting))
        while pending and arrival[pending[0]] == t:
            waiting.append(pending.popleft())
        while (waiting and len(prefilling) + len(decoding) < s.batch_cap
               and kv + ctx[waiting[0]] <= s.kv_budget_tokens):
            i = waiting.popleft()
            kv += ctx[i]
            admit[i] = t
            prefilling.append([i, lin[i]])
        peak = max(peak, len(waiting))
        if not prefilling and not decoding:
            t = arrival[pending[0]]
            continue
        dur = OVERHEAD_S
        if decoding:
            mean_context = sum(lin[i] + g for i, g in decoding.items()) / len(decoding)
            dur += step_s(len(decoding), mean_context, d) - OVERHEAD_S
        else:
            dur += weights_s(d)
        budget = max(s.chunk_tokens - len(decoding), 1)
        done = []
        for item in prefilling:
            if budget == 0:
                break
            take = min(item[1], budget)
            dur += added_s(lin[item[0]], d) * take / lin[item[0]]
            item[1] -= take
            budget -= take
            if item[1] == 0:
                done.append(item[0])
        t += dur
        for i, g in list(decoding.items()):
            decoding[i] = g + 1
            if g + 1 == lout[i]:
                last[i] = t
                del decoding[i]
                kv -= ctx[i]
        prefilling = [item for item in prefilling if item[1] > 0]
        for i in done:
            first[i] = t
            if lout[i] == 1:
                last[i] = t
                kv -= ctx[i]
            else:
                decoding[i] = 1
    return {"first": np.array(first), "last": np.array(last), "admit": np.array(admit), "peak": peak}


@pytest.mark.parametrize("case", ["tight", "busy", "ridge", "moe-tp2"])
def test_matches_per_iteration_reference(case, monkeypatch):
    """The event-stretch simulator equals the per-iteration reference to rounding (1e-9 relative).
    `tight`: batch cap 4, KV budget 2,500 tokens, 256-token chunks, bursty arrivals, prompts up to
    900 tokens (several chunks), answers of 1 to 60 tokens, and a request too large for the budget.
    `busy`: 240 requests within 0.2 s at batch cap 256. `ridge`: 200 requests at t = 0 with 40-59
    prompt tokens and 380 or 400 answer tokens: at 200 sequences the decode step of llama-3.1-8b on
    an H100 is compute-bound (200 x 2 x 8.03e9 FLOPs / (989.5 T x 31.33 %) = 10.4 ms against 6.9 ms
    of weight reads) until the KV reads catch up near a mean context of 311 tokens, so stretches of
    decode iterations cross the ridge and their closed-form sums are split there (counted).
    `moe-tp2`: Mixtral-8x7B on 2 x H100 (TP all-reduces and experts touched both vary with the
    batch), 150 requests over 10 s, 1,024-token chunks."""
    splits = []
    stretch = simulate._stretch_s

    def counting(j, per_iteration_s, c0, am, bm, ac, bc, cross):
        splits.append(c0 < cross < c0 + j - 1)
        return stretch(j, per_iteration_s, c0, am, bm, ac, bc, cross)

    monkeypatch.setattr(simulate, "_stretch_s", counting)
    rng = np.random.default_rng({"tight": 7, "busy": 8, "ridge": 9, "moe-tp2": 10}[case])
    if case == "tight":
        n = 90
        arrival = np.sort(np.round(rng.exponential(0.15, n).cumsum() * (rng.random(n) < 0.7), 3))
        lin = rng.integers(1, 900, n)
        lout = rng.integers(1, 60, n)
        lin[5], lout[5] = 2400, 200  # 2,600 tokens > the 2,500-token budget: rejected
        s = spec(batch_cap=4, kv_tokens=2500, chunk_tokens=256)
    elif case == "busy":
        n = 240
        arrival = np.sort(rng.random(n) * 0.2)
        lin = rng.integers(20, 200, n)
        lout = rng.integers(50, 300, n)
        s = spec(batch_cap=256)
    elif case == "moe-tp2":
        n = 150
        arrival = np.sort(rng.random(n) * 10.0)
        lin = rng.integers(1, 3000, n)
        lout = rng.integers(1, 200, n)
        s = spec(batch_cap=64, chunk_tokens=1024, d=MOE_TP2)
    else:
        n = 200
        arrival = np.zeros(n)
        lin = rng.integers(40, 60, n)
        lout = np.where(rng.random(n) < 0.5, 380, 400)
        s = spec(batch_cap=256)
    got = run(s, arrival, lin, lout)
    ref = reference(s, arrival.tolist(), lin.tolist(), lout.tolist())
    np.testing.assert_allclose(got.ttft_s, ref["first"] - arrival, rtol=1e-9)
    np.testing.assert_allclose(got.e2e_s, ref["last"] - arrival, rtol=1e-9)
    np.testing.assert_allclose(got.admit_s, ref["admit"], rtol=1e-9)
    assert got.peak_queue == ref["peak"]
    if case == "tight":
        assert got.rejected == 1 and got.peak_queue > 3
        assert np.isnan(got.tpot_s[lout == 1]).all()
    if case == "ridge":
        assert any(splits)


def test_littles_law_and_throughput_on_a_long_run():
    """Poisson arrivals at 5 QPS for 4,000 s (about 20,000 requests; 1 / sqrt(20,000) = 0.7 %
    noise on the count), lognormal lengths (median 800 in, 200 out), batch cap 64. Every request
    completes (stable load: throughput = arrivals, N / duration within 3 % of 5 QPS). Over the
    window [0, end] the time-average in the system (running + waiting, integrated by the simulator
    stretch by stretch) times end equals the sum of E2E (Little's law, exact up to rounding), and
    it is within 3 % of rate x mean E2E. Likewise mean running = rate x mean (E2E - queue wait)."""
    rng = np.random.default_rng(11)
    rate, duration = 5.0, 4000.0
    arrival = poisson_arrivals(rate, duration, rng)
    n = len(arrival)
    lin = np.clip(rng.lognormal(np.log(800), 0.8, n), 1, 8000).astype(int)
    lout = np.clip(rng.lognormal(np.log(200), 0.8, n), 1, 2000).astype(int)
    r = run(spec(batch_cap=64), arrival, lin, lout)
    assert r.completed == n and r.rejected == 0
    assert n / duration == pytest.approx(rate, rel=0.03)
    in_system = r.mean_running + r.mean_waiting
    assert in_system * r.end_s == pytest.approx(r.e2e_s.sum(), rel=1e-9)
    assert in_system == pytest.approx(rate * r.e2e_s.mean(), rel=0.03)
    service = r.e2e_s - (r.admit_s - arrival)
    assert r.mean_running == pytest.approx(rate * service.mean(), rel=0.03)
    assert r.mean_waiting * r.end_s == pytest.approx((r.admit_s - arrival).sum(), rel=1e-9)
    assert 0 < r.busy_s < r.end_s


def test_deterministic_and_order_free():
    """Same seed, same arrays; and the requests given in another order get the same times."""
    def once():
        rng = np.random.default_rng(3)
        arrival = renewal_arrivals(4.0, 2.0, 300.0, rng)
        lin = rng.integers(1, 3000, len(arrival))
        lout = rng.integers(1, 500, len(arrival))
        return arrival, lin, lout, run(spec(batch_cap=16, chunk_tokens=1024), arrival, lin, lout)

    a1, lin, lout, r1 = once()
    _, _, _, r2 = once()
    for name in ("ttft_s", "tpot_s", "e2e_s", "admit_s"):
        np.testing.assert_array_equal(getattr(r1, name), getattr(r2, name))
    assert (r1.peak_queue, r1.end_s) == (r2.peak_queue, r2.end_s)
    perm = np.random.default_rng(5).permutation(len(a1))
    r3 = run(spec(batch_cap=16, chunk_tokens=1024), a1[perm], lin[perm], lout[perm])
    np.testing.assert_array_equal(r3.e2e_s, r1.e2e_s[perm])


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        run(spec(), [0.0, 1.0], [10], [10])
    with pytest.raises(ValueError):
        run(spec(), [0.0], [0], [10])
    with pytest.raises(ValueError):
        run(spec(), [-1.0], [10], [10])
    with pytest.raises(ValueError):
        spec(batch_cap=0)
    empty = run(spec(), [], [], [])
    assert empty.completed == 0 and empty.end_s == 0.0 and empty.ttft_s.shape == (0,)


def test_poisson_count_and_renewal_cv():
    """Poisson at 50 QPS for 2,000 s: 100,000 expected, standard deviation sqrt(100,000) = 316, so
    within 1.5 % (4.7 sigma). Renewal streams of 200,000 gaps: cv = 1 gives a sample CV within 2 %
    of 1; cv = 3 (gamma shape 1/9, heavy right tail: excess kurtosis 6 x 9 = 54, so the sample CV's
    relative standard error is about sqrt((54 + 2) / (4 x 200,000)) = 0.84 %) within 5 % of 3;
    both with mean gap within 2 % of 1 / rate. cv = 0 is evenly spaced."""
    rng = np.random.default_rng(0)
    a = poisson_arrivals(50.0, 2000.0, rng)
    assert len(a) == pytest.approx(100_000, rel=0.015)
    assert np.all(np.diff(a) >= 0) and a[0] >= 0 and a[-1] < 2000.0
    for cv in (1.0, 3.0):
        gaps = np.diff(renewal_arrivals(100.0, cv, 2000.0, rng))
        assert gaps.mean() == pytest.approx(0.01, rel=0.02)
        assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.02 if cv == 1 else 0.05)
    np.testing.assert_allclose(renewal_arrivals(2.0, 0.0, 2.0, rng), [0.5, 1.0, 1.5])
    assert len(poisson_arrivals(1.0, 0.0, rng)) == 0


def test_thin_routes_every_arrival_once():
    """Thinning 100,000 arrivals over 4 replicas: each gets a sorted stream, together they are the
    original, and each holds a quarter (25,000; binomial sd 137, so within 3 %). `route` with the
    same seed picks the same indices."""
    a = poisson_arrivals(50.0, 2000.0, np.random.default_rng(1))
    parts = thin(a, 4, np.random.default_rng(2))
    assert len(parts) == 4
    assert all(np.all(np.diff(p) >= 0) for p in parts)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), a)
    for p in parts:
        assert len(p) == pytest.approx(len(a) / 4, rel=0.03)
    idx = route(len(a), 4, np.random.default_rng(2))
    for p, i in zip(parts, idx):
        np.testing.assert_array_equal(p, a[i])


def test_percentiles_and_attainment():
    """[1, 2, 3, 4, NaN]: the NaN is dropped; linear interpolation on ranks 0..3 puts p50 at rank
    1.5 -> 2.5, p90 at rank 2.7 -> 3.7, p99 at rank 2.97 -> 3.97. Attainment of [0.1, 0.2, 0.3, NaN]
    at 0.2: two of the three values -> 2/3; no values -> 1.0 (none misses); all NaN percentiles
    -> NaN."""
    assert percentiles(np.array([4.0, 1.0, np.nan, 3.0, 2.0])) == pytest.approx({"p50": 2.5, "p90": 3.7, "p99": 3.97})
    assert percentiles(np.array([5.0]), ps=(50, 99.9)) == {"p50": 5.0, "p99.9": 5.0}
    assert all(math.isnan(v) for v in percentiles(np.array([np.nan])).values())
    assert attainment(np.array([0.1, 0.2, 0.3, np.nan]), 0.2) == pytest.approx(2 / 3)
    assert attainment(np.array([np.nan]), 0.2) == 1.0
    assert attainment(np.array([]), 0.2) == 1.0
