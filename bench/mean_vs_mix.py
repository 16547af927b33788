"""Planning for the mean request length against planning for the length mix.

    python bench/mean_vs_mix.py [--duration-s 600] [--seed 0]

problems/chat-rag-length-mix.yaml: 20 requests/s, 80 % chat turns (500 tokens in, 200 out) and
20 % RAG calls (8,000 in, 500 out), p90 SLO TTFT 1 s, TPOT 50 ms, rented. Its mean request is
2,000 in / 260 out (0.8 x 500 + 0.2 x 8,000; 0.8 x 200 + 0.2 x 500). Prints:

1. the plan for the mean (the same file with one 2,000/260 bucket): its cost, and its fleet
   simulated under the real mix (each replica sent its share of both kinds of request, as a
   length-blind load balancer would): p90 TTFT and TPOT and the share of requests meeting each;
2. the plan for the mix (length routing): its cost, deployments and routing, simulated;
3. the best single deployment type for the mix: every candidate that serves both buckets alone,
   solved as the only deployment allowed; the cheapest, and what routing saves against it.

Seconds of simulated peak traffic and the seed are options; figures are for the catalogue
shipped (prices dated in the output of `planner solve`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog.overrides import prices_for_spec
from planner.catalog.prices import load_prices
from planner.catalog.store import load_catalog
from planner.optimize import milp
from planner.optimize.chain import milp_input, solve_loaded
from planner.optimize.slo import deployment_of, slo_limits_s
from planner.serving.fleet import ReplicaGroup, WorkloadSlo, simulate_workload
from planner.serving.mix import workload_mixes
from planner.serving.simulate import ReplicaSpec, kv_budget_tokens
from planner.spec.loader import load_spec, load_spec_text

MIX_FILE = ROOT / "problems" / "chat-rag-length-mix.yaml"


def mean_text(path: Path) -> str:
    """The problem with each workload's length buckets replaced by their share-weighted mean."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for w in doc["workloads"]:
        t = w["traffic"]
        buckets = t.pop("lengths")
        t["input_tokens"] = round(sum(b["share"] * b["input_tokens"] for b in buckets))
        t["output_tokens"] = round(sum(b["share"] * b["output_tokens"] for b in buckets))
    return yaml.safe_dump(doc, sort_keys=False)


def simulated(out, plan, mix, blind: bool, duration_s: float, seed: int):
    """Simulate `plan`'s one workload under `mix`: as routed by the plan, or (`blind`) with every
    replica sent each bucket in its mix share."""
    res = out.resolved
    w = res.workloads[0]
    slo = w.spec.slo
    shares = [b.share for b in mix.buckets]
    groups = []
    for line in plan.deployments:
        c = line.candidate
        d = deployment_of(res, c)
        spec = ReplicaSpec(d, res.catalog.efficiency_for(d.gpu), c.batch, kv_budget_tokens(d), c.chunk_tokens)
        total = sum(line.routes.values()) * c.demand_qps
        rates = ({b: total * s for b, s in enumerate(shares)} if blind
                 else {b: r * c.demand_qps for b, r in sorted(line.routes.items())})
        groups.append(ReplicaGroup(c.id, w.name, line.replicas, spec, rates))
    limits = slo_limits_s(slo)
    return simulate_workload(groups, mix, WorkloadSlo(slo.percentile, limits["ttft"], limits["tpot"], limits["e2e"]),
                             duration_s, seed)


def describe(label: str, plan, result) -> None:
    print(f"{label}: ${plan.monthly_usd:,.0f}/month")
    for line in plan.deployments:
        routes = ", ".join(f"bucket {b}: {r:.1%} of demand" for b, r in sorted(line.routes.items()))
        print(f"  {line.replicas} x {line.candidate.id}  ({routes})")
    print(f"  simulated under the mix ({result.requests:,} requests): p90 TTFT {result.ttft_ms['p90']:,.0f} ms, "
          f"p90 TPOT {result.tpot_ms['p90']:.1f} ms; meeting TTFT {result.attainment['ttft']:.1%}, "
          f"TPOT {result.attainment['tpot']:.1%}"
          + (f"; {result.rejected:,} requests never fit a replica's KV cache" if result.rejected else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration-s", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cat = load_catalog()
    mixed = load_spec(MIX_FILE)
    mix = workload_mixes(mixed)[mixed.spec.workloads[0].name]
    mean = load_spec_text(mean_text(MIX_FILE), str(MIX_FILE.with_name("mean.yaml")))
    t = mean.spec.workloads[0].traffic
    print(f"{MIX_FILE.name}: {t.peak_qps:g} requests/s; mean request {t.input_tokens:,} in / {t.output_tokens:,} out; "
          "mix " + ", ".join(f"{b.share:.0%} {b.input_tokens:,}/{b.output_tokens:,}" for b in mix.buckets))

    mean_out = solve_loaded(mean, catalog=cat)
    mean_plan = mean_out.plans[0]
    describe("1. planned for the mean, served the mix (length-blind)", mean_plan,
             simulated(mean_out, mean_plan, mix, True, args.duration_s, args.seed))

    mix_out = solve_loaded(mixed, catalog=cat)
    mix_plan = mix_out.plans[0]
    describe("2. planned for the mix, length-routed", mix_plan,
             simulated(mix_out, mix_plan, mix, False, args.duration_s, args.seed))

    book = prices_for_spec(load_prices(), mixed, cat, None, date.today())
    inp, _ = milp_input(mix_out.resolved, mix_out.candidates, book, "rent")
    every = tuple(range(len(mix.buckets)))
    best = None
    for c in inp.candidates:
        if c.buckets != every:
            continue
        sol = milp.solve(dataclasses.replace(inp, candidates=[c]), "highs", 10.0)
        if sol.status != "infeasible" and (best is None or sol.objective_usd < best[0]):
            best = (sol.objective_usd, c.id, sol.replicas.get(c.id, 0))
    if best is None:
        print("3. no single deployment type serves every bucket")
        return
    cost, cid, n = best
    print(f"3. best single deployment type for the mix: {n} x {cid}, ${cost:,.0f}/month")
    print(f"   length routing saves ${cost - mix_plan.monthly_usd:,.0f}/month "
          f"({1 - mix_plan.monthly_usd / cost:.0%}) against it; planning for the mean costs "
          f"${mean_plan.monthly_usd:,.0f} ({mean_plan.monthly_usd / mix_plan.monthly_usd - 1:+.0%} against the mix plan)")


if __name__ == "__main__":
    main()
