"""How candidate generation and the fleet MILP scale with the number of workloads.

    python bench/solve_scaling.py [--repeats N] [--sizes 1,2,5,10,20,30,40,50]
                                  [--solvers highs,scip] [--pricing rent|buy|hybrid]
                                  [--profile same|shifted] [--no-target]

1. Scaling table. For each size n, a synthetic workload file with n workloads is built in memory
   over the full catalogue (no GPU filter, TP 1/2/4/8, every precision): the workloads cycle
   through a fixed mix of catalogue models (1B to 72B, MoE included), online services (peak_qps
   or concurrent_users) and batch jobs, each with its traffic scaled by a seeded random factor.
   Every workload in the mix is solvable on its own. Candidates are generated once per n and
   reused by every solver and repeat; the MILP is solved with a 60 s time limit. Columns:
   batch caps (admissible batch caps: the candidates + the lower caps skipped as dominated), kept (after dominance), in the
   MILP (kept and rentable/buyable), variables, constraints, generation seconds, MILP build and
   solve seconds (median over --repeats; solve = the solver call alone), status and gap.
   `--profile same` gives every online workload the working-day hourly profile of
   problems/hybrid-daily-profile.yaml (24 periods; hours of equal demand repeat, so the solver
   merges them), `--profile shifted` shifts it by a seeded 0-7 hours per workload (teams in
   several time zones), so no two hours are alike: the hard case.
   With a profile, each row also solves the plain 24-period model (`coupled s`) beside what the
   chain solves (`optimize/by_hour.py`: rent hour by hour, `models` one-hour models; otherwise one
   model with alike hours merged, `periods` of them), and prints their ratio and whether both
   reach the same objective. `--pricing hybrid` solves the hybrid
   model (buy a base, rent by the hour) that `objective: hybrid` solves third.
2. Target (skipped with --no-target). problems/fleet-20.yaml with HiGHS: MILP solve seconds (median, max) against the target
   "proven optimal in under 2 s median", and the end-to-end time (load + candidates + MILP +
   verify, via `solve_loaded`) with a breakdown of its parts.

Figures are for this machine and no timing is asserted. On a shared machine compare rows of one
run as ratios; absolute seconds move with the load.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog.prices import load_prices
from planner.catalog.resolve import resolve
from planner.catalog.store import load_catalog
from planner.optimize import by_hour
from planner.optimize import candidates as cand_mod
from planner.optimize.chain import build_plan, milp_input, solve_loaded
from planner.optimize.milp import SOLVERS
from planner.optimize.milp import solve as solve_milp
from planner.optimize.verify import verify_plan
from planner.spec.loader import load_spec, load_spec_text

TIME_LIMIT_S = 60.0
TARGET_FILE = ROOT / "problems" / "fleet-20.yaml"
TARGET_MEDIAN_S = 2.0

# (name, model, kind, base load, input tokens, output tokens, TTFT ms, TPOT ms)
#   kind "qps":   base load = peak_qps
#   kind "users": base load = (concurrent_users, think_time_s)
#   kind "batch": base load = (requests, deadline_hours); no SLO
# Prompt + answer stay within each model's context (phi-3-mini, vicuna-7b, yi-34b: 4k;
# gemma-2, llama-3, qwen-7b: 8k); SLOs within TTFT 0.5-3 s and TPOT 30-100 ms.
MIX = [
    ("faq", "llama-3.2-1b", "qps", 40, 600, 120, 500, 30),
    ("autocomplete", "llama-3.2-3b", "qps", 60, 800, 40, 500, 30),
    ("field-assist", "phi-3-mini", "qps", 10, 1000, 200, 1000, 50),
    ("support", "llama-3.1-8b", "users", (800, 30), 1200, 250, 800, 50),
    ("translate", "qwen2.5-7b", "qps", 12, 800, 800, 1500, 60),
    ("email", "mistral-7b", "users", (300, 45), 1500, 300, 1000, 60),
    ("agent", "qwen3-8b", "qps", 8, 3000, 400, 1500, 40),
    ("moderation", "gemma-2-9b", "batch", (2_000_000, 12), 400, 20, None, None),
    ("summaries", "llama-3-8b", "batch", (500_000, 8), 2000, 150, None, None),
    ("rag", "mistral-nemo-12b", "qps", 6, 6000, 300, 2500, 60),
    ("chat-13b", "llama-2-13b", "qps", 15, 1000, 256, 2000, 100),
    ("chat-14b", "qwen2.5-14b", "users", (400, 30), 1500, 350, 1000, 50),
    ("writer", "gemma-2-27b", "qps", 4, 1500, 800, 2000, 70),
    ("office-moe", "qwen3-30b-a3b", "users", (500, 25), 2000, 400, 1000, 40),
    ("analyst", "qwen2.5-32b", "qps", 3, 4000, 500, 3000, 80),
    ("ide", "qwen2.5-coder-32b", "qps", 10, 3000, 120, 800, 30),
    ("reasoning", "qwen3-32b", "qps", 1.5, 1500, 2500, 3000, 60),
    ("math-eval", "deepseek-r1-distill-qwen-32b", "batch", (20_000, 24), 800, 3000, None, None),
    ("service-34b", "yi-34b", "qps", 5, 1024, 256, 3000, 100),
    ("contract-moe", "mixtral-8x7b", "qps", 5, 5000, 300, 2500, 50),
    ("premium", "llama-3.1-70b", "users", (300, 30), 2000, 400, 1500, 50),
    ("reports", "llama-3.3-70b", "batch", (50_000, 12), 6000, 400, None, None),
    ("chat-72b", "qwen2.5-72b", "qps", 4, 1500, 400, 2000, 60),
    ("deep-reason", "deepseek-r1-distill-llama-70b", "users", (50, 60), 1000, 3000, 3000, 70),
    ("legacy-70b", "llama-2-70b", "qps", 3, 1024, 256, 3000, 100),
    ("code-34b", "codellama-34b", "qps", 4, 2000, 200, 2000, 60),
]
SCALES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
PROFILE = (0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.25, 0.5, 0.8, 1.0, 1.0, 1.0,
           0.9, 1.0, 1.0, 1.0, 0.9, 0.7, 0.5, 0.35, 0.25, 0.2, 0.15, 0.1)
"""problems/hybrid-daily-profile.yaml's working-day shape (hour 0 = 00:00-01:00)."""


def synthetic_yaml(n: int, pricing: str, profile: str | None = None) -> str:
    """A workload file with n workloads: the mix in a seeded shuffled order (cycled), loads scaled;
    with `profile`, online workloads follow PROFILE ("shifted": by a seeded 0-7 hours each)."""
    rng = random.Random(0)
    shifts = random.Random(1)
    order = list(MIX)
    rng.shuffle(order)
    lines = [f"name: synthetic-{n}", f"objective: {pricing}",
             "planning: {tp_degrees: [1, 2, 4, 8]}", "workloads:"]
    for i in range(n):
        name, model, kind, load, n_in, n_out, ttft, tpot = order[i % len(order)]
        k = rng.choice(SCALES)
        lines += [f"  - name: w{i:02d}-{name}", f"    model: {model}"]
        if kind == "batch":
            requests, hours = load
            lines.append(f"    batch: {{requests: {max(1, round(requests * k))}, input_tokens: {n_in}, "
                         f"output_tokens: {n_out}, deadline_hours: {hours}}}")
            continue
        extra = ""
        if profile:
            shift = shifts.randrange(8) if profile == "shifted" else 0
            extra = ", profile: [" + ", ".join(f"{PROFILE[(h - shift) % 24]:g}" for h in range(24)) + "]"
        if kind == "qps":
            lines.append(f"    traffic: {{peak_qps: {load * k:g}, input_tokens: {n_in}, output_tokens: {n_out}{extra}}}")
        else:
            users, think = load
            lines.append(f"    traffic: {{concurrent_users: {max(1, round(users * k))}, think_time_s: {think}, "
                         f"input_tokens: {n_in}, output_tokens: {n_out}{extra}}}")
        lines.append(f"    slo: {{ttft_ms: {ttft}, tpot_ms: {tpot}}}")
    return "\n".join(lines) + "\n"


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _gap(g: float | None) -> str:
    return "-" if g is None else f"{g:.1e}"


def scaling(sizes: list[int], solvers: list[str], pricing: str, repeats: int, profile: str | None = None) -> list[str]:
    cat = load_catalog()
    book = load_prices()
    problems: list[str] = []
    split = profile is not None
    head = (f"{'n':>3} {'solver':>6} {'batch caps':>10} {'kept':>6} {'in MILP':>7} {'vars':>6} {'cons':>5} "
            f"{'gen s':>6} {'build s':>7} {'solve s':>8} {'max s':>7} {'status':>8} {'gap':>8} {'objective':>11}"
            + (f" {'models':>6} {'periods':>7} {'coupled s':>9} {'ratio':>6} {'same':>5}" if split else ""))
    print(head)
    print("-" * len(head))
    for n in sizes:
        objective = "hybrid" if pricing == "hybrid" else pricing
        loaded = load_spec_text(synthetic_yaml(n, objective, profile), f"<synthetic-{n}>", ROOT)
        res = resolve(loaded, cat)
        t0 = time.perf_counter()
        cs = cand_mod.generate(res)
        gen_s = time.perf_counter() - t0
        inp, _ = milp_input(res, cs, book, pricing)
        have = {c.workload for c in inp.candidates}
        missing = [w.name for w in res.workloads if w.name not in have]
        if missing:
            problems.append(f"n={n}: no {pricing} candidate for {', '.join(missing)}")
        admissible = cs.batch_caps()
        for solver in solvers:
            solve_s, build_s, sol = [], [], None
            coupled_s, whole = [], None
            for _ in range(repeats):
                t0 = time.perf_counter()
                sol = by_hour.solve(inp, solver, time_limit_s=TIME_LIMIT_S)
                wall = time.perf_counter() - t0
                solve_s.append(sol.seconds)
                build_s.append(wall - sol.seconds)
                if split:
                    whole = solve_milp(inp, solver, time_limit_s=TIME_LIMIT_S)
                    coupled_s.append(whole.seconds)
            if sol.status != "optimal":
                problems.append(f"n={n} {solver}: status {sol.status}, gap {_gap(sol.gap)}")
            obj = "-" if sol.objective_usd is None else f"{sol.objective_usd:,.0f}"
            tail = ""
            if split:
                both = whole.status == "optimal" and sol.status == "optimal"
                same = both and abs(whole.objective_usd - sol.objective_usd) <= 1e-6 * max(1.0, abs(sol.objective_usd))
                small = by_hour.merged(inp)
                periods = 1 if by_hour.exact(inp) else small.periods if small is not None else inp.periods
                tail = (f" {sol.models:6d} {periods:7d} {_median(coupled_s):9.3f} {_median(coupled_s) / _median(solve_s):5.1f}x "
                        f"{('yes' if same else 'NO') if both else '-':>5}")
                if both and not same:
                    problems.append(f"n={n} {solver}: coupled model ${whole.objective_usd:,.2f} "
                                    f"vs hour by hour / merged ${sol.objective_usd:,.2f}")
            print(f"{n:3d} {solver:>6} {admissible:10d} {len(cs.kept()):6d} {len(inp.candidates):7d} "
                  f"{sol.n_variables:6d} {sol.n_constraints:5d} {gen_s:6.2f} {_median(build_s):7.3f} "
                  f"{_median(solve_s):8.3f} {max(solve_s):7.3f} {sol.status:>8} {_gap(sol.gap):>8} {obj:>11}{tail}",
                  flush=True)
    return problems


def target(repeats: int) -> list[str]:
    """fleet-20 with HiGHS: the MILP against the target, then end-to-end with its parts."""
    cat = load_catalog()
    book = load_prices()
    parts: dict[str, list[float]] = {k: [] for k in ("load", "resolve", "candidates", "milp input",
                                                     "milp build", "milp solve", "plan + verify")}
    sols = []
    for _ in range(repeats):
        t = time.perf_counter()
        loaded = load_spec(TARGET_FILE)
        t, parts["load"] = _lap(t, parts["load"])
        res = resolve(loaded, cat)
        t, parts["resolve"] = _lap(t, parts["resolve"])
        cs = cand_mod.generate(res)
        t, parts["candidates"] = _lap(t, parts["candidates"])
        pricing = res.spec.objective
        inp, _ = milp_input(res, cs, book, pricing)
        t, parts["milp input"] = _lap(t, parts["milp input"])
        sol = solve_milp(inp, "highs", time_limit_s=TIME_LIMIT_S)
        wall = time.perf_counter() - t
        parts["milp solve"].append(sol.seconds)
        parts["milp build"].append(wall - sol.seconds)
        t = time.perf_counter()
        plan = build_plan(res, inp, sol, book)
        verify_plan(res, inp, plan, book, cs.mixes)
        t, parts["plan + verify"] = _lap(t, parts["plan + verify"])
        sols.append(sol)
    e2e, e2e_sols = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = solve_loaded(load_spec(TARGET_FILE), "highs", TIME_LIMIT_S, cat, book)
        e2e.append(time.perf_counter() - t0)
        e2e_sols.append(out.plans[0].solution)

    solve_s = [s.seconds for s in sols]
    proven = all(s.status == "optimal" for s in sols + e2e_sols)
    worst_gap = max((s.gap for s in sols + e2e_sols if s.gap is not None), default=None)
    med = _median(solve_s)
    ok = proven and med < TARGET_MEDIAN_S
    s0 = sols[0]
    print(f"file: {TARGET_FILE.relative_to(ROOT)} ({len(res.workloads)} workloads, {pricing}), solver highs, "
          f"{len(solve_s)} solves; {cs.deployments()} admissible deployments ({cs.batch_caps()} batch caps), {len(cs.kept())} kept, "
          f"{len(inp.candidates)} in the MILP, {s0.n_variables} variables, {s0.n_constraints} constraints")
    print(f"MILP solve: median {med:.3f} s, max {max(solve_s):.3f} s; status "
          f"{'optimal (proven)' if proven else ', '.join(sorted({s.status for s in sols}))}, "
          f"worst gap {_gap(worst_gap)} (all {2 * repeats} solves), objective ${s0.objective_usd:,.2f}/month")
    print(f"target 'proven optimal in under {TARGET_MEDIAN_S:g} s median': {'PASS' if ok else 'FAIL'}")
    print(f"end-to-end (solve_loaded: load + candidates + MILP + verify): median {_median(e2e):.3f} s, "
          f"max {max(e2e):.3f} s")
    total = sum(_median(v) for v in parts.values())
    print("  parts (median of the same steps run one by one):")
    for k, v in parts.items():
        print(f"    {k:<14} {_median(v):7.3f} s  {100 * _median(v) / total:5.1f}%")
    top = max(parts, key=lambda k: _median(parts[k]))
    print(f"  dominant part: {top} ({100 * _median(parts[top]) / total:.0f}% of {total:.3f} s)")
    return [] if proven else ["fleet-20: a HiGHS solve was not proven optimal"]


def _lap(t: float, acc: list[float]) -> tuple[float, list[float]]:
    now = time.perf_counter()
    acc.append(now - t)
    return now, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=None,
                    help="solves per row (default 3) and fleet-20 runs for the target (default 5)")
    ap.add_argument("--sizes", default="1,2,5,10,20,30,40,50")
    ap.add_argument("--solvers", default="highs,scip")
    ap.add_argument("--pricing", choices=("rent", "buy", "hybrid"), default="rent")
    ap.add_argument("--profile", choices=("same", "shifted"), default=None,
                    help="online workloads follow a daily profile (shifted: by 0-7 hours each)")
    ap.add_argument("--no-target", action="store_true", help="skip the fleet-20 target")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    bad = [s for s in solvers if s not in SOLVERS]
    if bad or not sizes or min(sizes) < 1 or (args.repeats is not None and args.repeats < 1):
        ap.error(f"solvers must be among {', '.join(SOLVERS)}; sizes and repeats must be >= 1")

    import ortools

    print(f"cpu_count {os.cpu_count()}, ortools {ortools.__version__}, python {sys.version.split()[0]}")
    print("Ratios between rows of one run mean more than absolute seconds on a shared machine.")
    print(f"MILP time limit {TIME_LIMIT_S:g} s per solve; solve s = the solver call alone (median), "
          f"build s = building the MathOpt model (median).\n")
    start = time.perf_counter()
    shape = f", hourly profiles (24 periods, {args.profile})" if args.profile else ""
    print(f"== scaling: synthetic workloads, full catalogue, TP 1/2/4/8, all precisions, {args.pricing}{shape} ==")
    problems = scaling(sizes, solvers, args.pricing, args.repeats or 3, args.profile)
    if not args.no_target:
        print("\n== target: fleet-20 ==")
        problems += target(args.repeats or 5)
    print(f"\nproblems: {'none' if not problems else ''}")
    for p in problems:
        print(f"  {p}")
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
