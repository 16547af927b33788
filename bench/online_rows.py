"""Simulator and analytic queueing model against the published online-serving rows.

Sources (rows of catalog/measured/calibration.csv, selected by their columns):
- TensorRT-LLM v0.14.0 + Triton "Online Serving Measurements" (perf-overview.md @258c7540):
  QPS=2, mean TTFT and mean ITL, Llama-3.1-8B TP1 and 70B TP4 on H100/H200, BF16, fixed lengths.
- vLLM CI build 9513: Llama-3-70B TP4 on H200, ShareGPT, QPS=1, mean TTFT and mean ITL.
- NVIDIA NIM 1.8.0: Llama-3.3-70B fp8 TP2 on H100 80GB, 5000 in / 500 out, concurrency 1
  (ttft_ms, tpot_ms rows) and concurrency 250 (TTFT, ITL from the notes; output tok/s row).

Assumptions:
- Engine limits: batch cap 256 (vLLM max_num_seqs), chunk tokens from Deployment.chunk_tokens,
  KV budget kv_budget_tokens(d); efficiency: the GPU family's with the row's engine multipliers. KV dtype: bf16 where the row
  says "bf16 default assumed", otherwise the planner's default for the weights (fp8 -> fp8 KV).
  The TRT-LLM and NIM engines are not vLLM; the simulator's vLLM-like rules are used for all.
- ShareGPT lengths are variable; every request gets the mean of vLLM's filtered ShareGPT sample
  with a Llama-3 tokenizer, taken as ~215 prompt / ~200 output tokens (an assumption, not read
  from the build page; the CI page gives no lengths).
- Open-loop rows (QPS=x): 600 s of seeded Poisson arrivals; analytic = queueing.means at that rate.
- Closed-loop rows (concurrency N, zero think time): each of N users sends its next request when
  its previous answer ends. Solved exactly by fixed-point iteration: request k+N arrives at the
  last token of request k; re-simulate until the arrival times stop changing (the simulator is
  deterministic and causal). Means over rounds 2..R-1 (first round starts cold, last drains).
  Analytic closed loop: the rate lambda with lambda x E2E(lambda) = N (Little's law, bisection
  below saturation), with batch cap min(256, KV budget // (L_in + L_out)) so memory binds as in
  the planner's candidates; concurrency 1 uses a vanishing rate (1e-6 req/s).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import numpy as np

from planner import perf
from planner.catalog.engines import engine_for_text
from planner.catalog.store import load_catalog
from planner.perf.estimate import resolve_deployment
from planner.serving import queueing
from planner.serving.simulate import ReplicaSpec, kv_budget_tokens, poisson_arrivals, simulate_replica

CSV = Path(__file__).resolve().parents[1] / "catalog" / "measured" / "calibration.csv"
SHAREGPT_IN, SHAREGPT_OUT = 215, 200
BATCH_CAP, DURATION_S, SEED = 256, 600.0, 0


def load_cases() -> list[dict]:
    """One case per (source, model, GPU, TP, load, lengths) with its published metrics."""
    cases: dict[tuple, dict] = {}
    with open(CSV, newline="") as f:
        for r in csv.DictReader(f):
            eng, load, metric = r["engine"], r["batch_size_or_concurrency"], r["metric"]
            trt = eng.startswith("TensorRT-LLM v0.14.0") and load == "QPS=2"
            vllm = eng.startswith("vLLM (CI build 9513") and load == "QPS=1"
            nim = eng.startswith("NVIDIA NIM 1.8.0") and load in ("1", "250") and r["input_len"] == "5000"
            if not (trt or vllm or nim):
                continue
            lin, lout = ((SHAREGPT_IN, SHAREGPT_OUT) if r["input_len"].startswith("ShareGPT")
                         else (int(r["input_len"]), int(r["output_len"])))
            key = (eng, r["model"], r["gpu"], r["tp"], load, lin, lout)
            c = cases.setdefault(key, {
                "model": r["model"], "gpu": re.sub(r"\s*\(.*\)", "", r["gpu"]), "tp": int(r["tp"]),
                "prec": r["precision_weights"].split()[0].replace("unspecified", "bf16"),
                "kv": "bf16" if "bf16 default assumed" in r["precision_kv"] else None,
                "load": load, "lin": lin, "lout": lout, "src": eng.split(" (")[0].split(" +")[0], "engine": eng,
                "pub": {}})
            if metric in ("ttft_ms", "tpot_ms"):
                c["pub"][metric] = float(r["value"])
            elif nim and load == "250" and metric == "output_throughput_tokens_per_s_total":
                c["pub"]["out_tok_s"] = float(r["value"])
                c["pub"]["ttft_ms"] = float(re.search(r"mean TTFT ([\d.]+) ms", r["notes"]).group(1))
                c["pub"]["tpot_ms"] = float(re.search(r"ITL ([\d.]+) ms", r["notes"]).group(1))
    return [c for c in cases.values() if c["pub"]]


def closed_loop(spec: ReplicaSpec, users: int, rounds: int, lin: int, lout: int) -> tuple[dict, int]:
    """Closed loop of `users` with zero think time, by fixed-point iteration on the arrival times."""
    m = users * rounds
    li, lo = np.full(m, lin), np.full(m, lout)
    arr = np.where(np.arange(m) < users, 0.0, 1e7 + np.arange(m))  # unknown successors: far future
    for passes in range(1, 100_000):
        res = simulate_replica(spec, arr, li, lo)
        last = res.arrival_s + res.e2e_s
        new = arr.copy()
        new[users:] = last[:-users]
        if np.array_equal(new, arr):
            break
        arr = new
    keep = slice(users, m - users) if rounds > 2 else slice(0, m)
    e2e = res.e2e_s[keep]
    return {"ttft_ms": 1e3 * np.nanmean(res.ttft_s[keep]), "tpot_ms": 1e3 * np.nanmean(res.tpot_s[keep]),
            "out_tok_s": users * lout / np.mean(e2e)}, passes


def analytic_closed(t: queueing.BucketTimes, users: int) -> tuple[dict, float]:
    """Rate with lambda x E2E(lambda) = users (bisection), and the mean latencies there."""
    if users <= 1:
        lam = 1e-6
    else:
        lo, hi = 0.0, queueing.saturation_qps(t)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if mid * float(queueing.means(t, [mid]).e2e_s[0]) < users:
                lo = mid
            else:
                hi = mid
        lam = lo
    m = queueing.means(t, [lam])
    return {"ttft_ms": 1e3 * float(m.ttft_s[0]), "tpot_ms": 1e3 * float(m.tpot_s[0]),
            "out_tok_s": lam * t.output_tokens}, lam


def err(model: float, pub: float) -> float:
    return 100.0 * (model - pub) / pub


def main() -> None:
    cat = load_catalog()
    rows, notes = [], []
    for c in load_cases():
        model_name = c["model"].lower()
        d = resolve_deployment(cat, model_name, c["gpu"], c["prec"], c["kv"], tp=c["tp"], max_num_seqs=BATCH_CAP)
        d = dataclasses.replace(d, engine=engine_for_text(cat.engines, c["engine"]))
        eff = perf.deployment_efficiency(cat, d)
        chunk, kv = d.chunk_tokens, kv_budget_tokens(d)
        spec = ReplicaSpec(d, eff, BATCH_CAP, kv, chunk)
        lin, lout = c["lin"], c["lout"]
        if c["load"].startswith("QPS="):
            qps = float(c["load"][4:])
            arr = poisson_arrivals(qps, DURATION_S, np.random.default_rng(SEED))
            res = simulate_replica(spec, arr, np.full(len(arr), lin), np.full(len(arr), lout))
            sim = {"ttft_ms": 1e3 * np.nanmean(res.ttft_s), "tpot_ms": 1e3 * np.nanmean(res.tpot_s)}
            m = queueing.means(queueing.bucket_times(d, eff, lin, lout, BATCH_CAP, chunk), [qps])
            ana = {"ttft_ms": 1e3 * float(m.ttft_s[0]), "tpot_ms": 1e3 * float(m.tpot_s[0])}
            load = f"{c['load']} ({len(arr)} req, mean running {res.mean_running:.1f})"
        else:
            users = int(c["load"])
            sim, passes = closed_loop(spec, users, 20 if users == 1 else 6, lin, lout)
            cap = max(1, min(BATCH_CAP, kv // (lin + lout)))
            ana, lam = analytic_closed(queueing.bucket_times(d, eff, lin, lout, cap, chunk), users)
            load = f"conc={users}"
            notes.append(f"conc={users}: closed loop converged in {passes} passes; analytic cap {cap}, "
                         f"closed-loop rate {lam:.4g} req/s")
        notes.append(f"{d.model.id} {d.gpu.id} TP{d.tp} {d.precision.id}/KV {d.kv_precision.id}: "
                     f"chunk {chunk}, KV budget {kv} tokens, eff family {d.gpu.family}, engine {d.engine_id}")
        label = f"{c['src']}: {c['model']}, {c['gpu']}, TP{c['tp']}, {lin}/{lout}, {load}"
        for metric, pub in c["pub"].items():
            rows.append((label, metric, pub, sim[metric], ana[metric]))

    print(f"Assumptions: ShareGPT mean lengths {SHAREGPT_IN}/{SHAREGPT_OUT} tokens (fixed); batch cap "
          f"{BATCH_CAP}; {DURATION_S:.0f} s Poisson, seed {SEED}; closed loops solved exactly.\n")
    print("| row | metric | published | simulated | sim err % | analytic | ana err % |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, metric, pub, s, a in rows:
        print(f"| {label} | {metric} | {pub:.4g} | {s:.4g} | {err(s, pub):+.1f} | {a:.4g} | {err(a, pub):+.1f} |")
    for name, idx in (("simulated", 3), ("analytic", 4)):
        all_e = [abs(err(r[idx], r[2])) for r in rows]
        by = {m: [abs(err(r[idx], r[2])) for r in rows if r[1] == m] for m in ("ttft_ms", "tpot_ms")}
        print(f"\nmedian |error| {name}: all {np.median(all_e):.1f}% (n={len(all_e)}), "
              + ", ".join(f"{m} {np.median(v):.1f}% (n={len(v)})" for m, v in by.items()))
    print("\nNotes:")
    for n in dict.fromkeys(notes):
        print(f"- {n}")


if __name__ == "__main__":
    main()
