"""How fast SLO-true planning is at fleet scale: solving fleet-20 with length mixes, and simulating it.

    python bench/slo_speed.py [--repeats 3] [--time-limit-s 60] [--solvers highs,scip]

1. problems/fleet-20.yaml as shipped (22 workloads, one length bucket each, rent): end-to-end solve
   (load, candidates, MILP, verify, predictions: `solve_loaded`), median of --repeats, with the
   candidate generation and MILP parts; the MILP's status and gap.
2. The same fleet with 8 length buckets per workload: each workload's (input, output) becomes
   inputs x {0.25, 0.5, 1, 2} (shares 0.2, 0.3, 0.3, 0.2) times outputs x {0.5, 1.5} (half each),
   prompts cut to fit the model's context. Candidate generation (median of --repeats) and, per
   solver, the MILP with --time-limit-s: status, cost, bound, gap and seconds.
3. Simulating 10 minutes (600 s) of fleet-20's peak traffic through the shipped plan
   (`serving_check.simulate_plan`, seed 0): wall seconds and requests simulated.

Targets (the SLO issue): fleet-20 with 8 buckets per workload proven optimal in <= 5 s median on 2
cores; 10 minutes of fleet-20 simulated in <= 20 s. Figures are for this machine and no timing is
asserted; on a shared machine compare rows of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog.overrides import prices_for_spec
from planner.catalog.prices import load_prices
from planner.catalog.resolve import resolve
from planner.catalog.store import load_catalog
from planner.optimize import candidates as cand_mod
from planner.optimize import milp
from planner.optimize.chain import milp_input, solve_loaded
from planner.optimize.serving_check import simulate_plan
from planner.spec.loader import load_spec_text

FLEET = ROOT / "problems" / "fleet-20.yaml"
INPUT_SCALE = ((0.25, 0.2), (0.5, 0.3), (1.0, 0.3), (2.0, 0.2))
OUTPUT_SCALE = (0.5, 1.5)
SIMULATED_S = 600.0


def eight_buckets(text: str, cat) -> str:
    """fleet-20 with each workload's one length replaced by 8 buckets around it (see the docstring)."""
    doc = yaml.safe_load(text)
    for w in doc["workloads"]:
        part = w.get("traffic") or w.get("batch")
        lin, lout = part.pop("input_tokens"), part.pop("output_tokens")
        context = cat.model(w["model"]).max_context
        part["lengths"] = [
            {"input_tokens": min(max(1, round(lin * a)), context - max(1, round(lout * b))),
             "output_tokens": max(1, round(lout * b)), "share": share / len(OUTPUT_SCALE)}
            for a, share in INPUT_SCALE for b in OUTPUT_SCALE]
    return yaml.safe_dump(doc, sort_keys=False)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--time-limit-s", type=float, default=60.0)
    ap.add_argument("--solvers", default="highs,scip")
    args = ap.parse_args()
    cat = load_catalog()
    text = FLEET.read_text(encoding="utf-8")

    print(f"1. {FLEET.name} as shipped, end to end (median of {args.repeats})")
    runs = []
    for _ in range(args.repeats):
        loaded = load_spec_text(text, str(FLEET))
        res = resolve(loaded, cat)
        _, gen_s = timed(lambda: cand_mod.generate(res))
        out, total_s = timed(lambda: solve_loaded(load_spec_text(text, str(FLEET)), catalog=cat))
        runs.append((total_s, gen_s, out.plans[0].solution.seconds))
    plan = out.plans[0]
    sol = plan.solution
    print(f"   solve {statistics.median(r[0] for r in runs):.2f} s (candidates {statistics.median(r[1] for r in runs):.2f} s, "
          f"MILP {statistics.median(r[2] for r in runs):.2f} s); {sol.status}, gap {sol.gap or 0:.4%}, "
          f"${plan.monthly_usd:,.0f}/month, {sol.n_variables:,} variables")

    print(f"2. {FLEET.name} with 8 length buckets per workload")
    loaded8 = load_spec_text(eight_buckets(text, cat), str(FLEET.with_name("fleet-20-8-buckets.yaml")))
    res8 = resolve(loaded8, cat)
    gens = [timed(lambda: cand_mod.generate(res8)) for _ in range(args.repeats)]
    cs8 = gens[-1][0]
    print(f"   candidates {statistics.median(g[1] for g in gens):.2f} s (median of {args.repeats}): "
          f"{len(cs8.candidates):,} candidates, {len(cs8.kept()):,} kept")
    book = prices_for_spec(load_prices(), loaded8, cat, None, date.today())
    inp, _ = milp_input(res8, cs8, book, "rent")
    for solver in args.solvers.split(","):
        s8, wall_s = timed(lambda: milp.solve(inp, solver, args.time_limit_s))
        bound = f"${s8.bound_usd:,.0f}" if s8.bound_usd is not None else "none"
        print(f"   MILP {solver}: {s8.status} in {wall_s:.1f} s (limit {args.time_limit_s:g} s), "
              f"${s8.objective_usd:,.0f}/month, bound {bound}, gap {s8.gap or 0:.2%}; "
              f"{len(inp.candidates):,} candidates, {s8.n_variables:,} variables, {s8.n_constraints:,} constraints")

    print(f"3. simulating {SIMULATED_S:.0f} s of {FLEET.name}'s peak traffic through its plan")
    check, sim_s = timed(lambda: simulate_plan(out.resolved, plan, out.candidates.mixes, SIMULATED_S, 0))
    requests = sum(r.requests for r in check.workloads.values())
    print(f"   {sim_s:.1f} s for {requests:,} requests over {len(check.workloads)} online workloads; "
          f"{len(check.misses)} SLO misses beyond the tolerance")


if __name__ == "__main__":
    main()
