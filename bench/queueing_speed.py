"""How fast the queueing model answers: one SLO capacity, one quantile evaluation.

    python bench/queueing_speed.py

Llama-3.1-8B (FP16 weights and KV) on one H100, 8,192-token chunks, p90 SLO (TTFT 1 s, TPOT 50 ms),
at batch caps 1, 16, 64 and 256 and prompt/answer lengths 2,000/256 and 8,000/512. Each row times
`bucket_times` (the roofline step table), building `BucketTimes` alone (its piecewise cut of the
occupancy axis), `quantiles` at 64 rates, and `capacity_qps` (whole, BucketTimes prebuilt): the
best mean of several repeats, in microseconds. The candidate generator calls `bucket_times` and
`capacity_qps` once per (deployment, batch cap, length bucket). One core; figures are for this
machine, compare rows within one run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.catalog.store import load_catalog
from planner.perf.estimate import Deployment
from planner.serving import queueing

P = 0.9
TTFT_MAX_S, TPOT_MAX_S = 1.0, 0.05
CHUNK_TOKENS = 8192


def best_us(fn, repeats: int = 5, number: int = 200) -> float:
    """Best of `repeats` means over `number` calls, microseconds per call."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def main() -> None:
    cat = load_catalog()
    fp16 = cat.precision("fp16")
    d = Deployment(cat.model("llama-3.1-8b"), cat.gpu("h100"), fp16, fp16)
    eff = cat.efficiency_for(d.gpu)
    print(f"{'cap':>4} {'in/out':>9} {'bucket_times':>13} {'BucketTimes':>12} {'quantiles(64)':>14} "
          f"{'capacity_qps':>13} {'capacity':>9} {'saturation':>11}")
    for l_in, l_out in ((2000, 256), (8000, 512)):
        for cap in (1, 16, 64, 256):
            t = queueing.bucket_times(d, eff, l_in, l_out, cap, CHUNK_TOKENS)
            rates = np.geomspace(1e-3, queueing.saturation_qps(t), 64)
            us_times = best_us(lambda: queueing.bucket_times(d, eff, l_in, l_out, cap, CHUNK_TOKENS))
            us_build = best_us(lambda: queueing.BucketTimes(l_in, l_out, cap, CHUNK_TOKENS, t.prefill_s, t.step_s))
            us_q = best_us(lambda: queueing.quantiles(t, rates, P))
            us_cap = best_us(lambda: queueing.capacity_qps(t, P, TTFT_MAX_S, TPOT_MAX_S))
            cap_qps = queueing.capacity_qps(t, P, TTFT_MAX_S, TPOT_MAX_S)
            print(f"{cap:>4} {l_in:>4}/{l_out:<4} {us_times:>10.0f} us {us_build:>9.0f} us {us_q:>11.0f} us "
                  f"{us_cap:>10.0f} us {cap_qps:>9.3f} {queueing.saturation_qps(t):>11.3f}")


if __name__ == "__main__":
    main()
