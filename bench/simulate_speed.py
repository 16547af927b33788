"""How fast the replica simulator serves a fleet's traffic.

    python bench/simulate_speed.py

A fleet of 100 replicas of Llama-3.1-8B (FP16 weights and KV) on one H100 each, batch cap 256,
the KV budget of `kv_budget_tokens`, 8,192-token chunks, gets Poisson traffic for 600 s, routed to
a uniformly random replica per request; prompt and answer lengths are lognormal (medians 800 and
200 tokens, sigma 0.8, clipped to 1..8,000 and 1..2,000). Each row is one fleet load; the timed
part is the 100 `simulate_replica` calls, the step tables (built once per deployment and cached)
included. Prints requests simulated, wall seconds, requests per second, and the p50/p99 TTFT and
TPOT as a sanity check. One core; figures are for this machine, compare rows within one run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.catalog.store import load_catalog
from planner.perf.estimate import Deployment
from planner.serving import simulate
from planner.serving.simulate import (ReplicaSpec, kv_budget_tokens, percentiles, poisson_arrivals, route,
                                      simulate_replica)

REPLICAS = 100
DURATION_S = 600.0
QPS_PER_REPLICA = (2.5, 10.0)


def main() -> None:
    cat = load_catalog()
    fp16 = cat.precision("fp16")
    d = Deployment(cat.model("llama-3.1-8b"), cat.gpu("h100"), fp16, fp16)
    spec = ReplicaSpec(d, cat.efficiency_for(d.gpu), batch_cap=256, kv_budget_tokens=kv_budget_tokens(d),
                       chunk_tokens=8192)
    print(f"{REPLICAS} replicas of {d.model.name} on {d.gpu.name}, {DURATION_S:.0f} s of Poisson traffic")
    print(f"{'QPS/replica':>11} {'requests':>9} {'wall s':>7} {'req/s':>8} {'TTFT p50 ms':>11} {'TTFT p99 ms':>11} "
          f"{'TPOT p50 ms':>11} {'TPOT p99 ms':>11} {'peak queue':>10}")
    for qps in QPS_PER_REPLICA:
        rng = np.random.default_rng(2026)
        arrival = poisson_arrivals(qps * REPLICAS, DURATION_S, rng)
        n = len(arrival)
        lin = np.clip(rng.lognormal(np.log(800), 0.8, n), 1, 8000).astype(np.int64)
        lout = np.clip(rng.lognormal(np.log(200), 0.8, n), 1, 2000).astype(np.int64)
        parts = route(n, REPLICAS, rng)
        simulate._TABLES.clear()  # time the table build too
        start = time.perf_counter()
        results = [simulate_replica(spec, arrival[i], lin[i], lout[i]) for i in parts]
        wall_s = time.perf_counter() - start
        ttft = percentiles(np.concatenate([r.ttft_s for r in results]), (50, 99))
        tpot = percentiles(np.concatenate([r.tpot_s for r in results]), (50, 99))
        peak = max(r.peak_queue for r in results)
        print(f"{qps:11.1f} {n:9d} {wall_s:7.2f} {n / wall_s:8.0f} {ttft['p50'] * 1e3:11.1f} {ttft['p99'] * 1e3:11.1f} "
              f"{tpot['p50'] * 1e3:11.2f} {tpot['p99'] * 1e3:11.2f} {peak:10d}")


if __name__ == "__main__":
    main()
