"""Exhaustive cross-check of the fleet MILP on many random small instances.

    python bench/exhaustive_check.py [--instances N] [--seed S] [--solvers highs,scip] [--show K]

The generator and the brute force are those of tests/test_exhaustive.py (its docstring has the
rules of a physically valid plan): N seeded random instances covering hourly periods, hybrid
rent + buy, owned hosts, PCIe cards, inventory, power, racks, budgets, min replicas and TP 1-8.
Each is solved with every solver and compared with the brute force (the objective, tie-break
taken off, within $0.001; infeasible exactly when no valid plan exists). Prints the instance
count, feasible and infeasible counts, mismatches per solver and by kind (solver cheaper than
any valid plan, dearer, or a wrong status), a reproducer (Python source using the test's
factories) for the first K mismatches, and the seconds taken.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test module imports its factories from tests/milp_factories.py


def _load_test_module():
    spec = importlib.util.spec_from_file_location("test_exhaustive", ROOT / "tests" / "test_exhaustive.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=3000, help="random instances to check (default 3000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--solvers", default="highs,scip", help="comma-separated solvers (default highs,scip)")
    ap.add_argument("--show", type=int, default=3, help="reproducers printed for the first K mismatches (default 3)")
    args = ap.parse_args(argv)
    tx = _load_test_module()
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]

    start = time.perf_counter()
    instances = tx.instances(args.instances, args.seed)
    t_gen = time.perf_counter() - start
    feasible = infeasible = 0
    mismatches: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    mismatched = 0
    shown = []
    t_brute = t_solve = 0.0
    for k, inp in enumerate(instances):
        t0 = time.perf_counter()
        expected = tx.brute_force(inp)
        t_brute += time.perf_counter() - t0
        if expected is None:
            infeasible += 1
        else:
            feasible += 1
        bad = []
        for solver in solvers:
            t0 = time.perf_counter()
            sol = tx.solve(inp, solver=solver)
            t_solve += time.perf_counter() - t0
            if expected is None:
                if sol.status == "infeasible":
                    continue
                kind, got = "solver finds a plan, none is valid", tx.cost_of(inp, sol)
            elif sol.status != "optimal":
                kind, got = f"solver says {sol.status}, a valid plan exists", None
            else:
                got = tx.cost_of(inp, sol)
                if abs(got - expected.cost) <= 1e-3:
                    continue
                kind = "solver cheaper than every valid plan" if got < expected.cost else "solver dearer than a valid plan"
            mismatches[solver] += 1
            kinds[kind] += 1
            bad.append((solver, kind, got, sol))
        if bad:
            mismatched += 1
            if len(shown) < args.show:
                shown.append((k, inp, expected, bad))
    seconds = time.perf_counter() - start

    print(f"instances: {len(instances)} (seed {args.seed})")
    print(f"feasible: {feasible}   infeasible: {infeasible}")
    print(f"pooling-prone (PCIe cards + rented/owned hosts of the GPU + TP >= 2): "
          f"{sum(tx.pooling_prone(inp) for inp in instances)}")
    print(f"periods > 1: {sum(inp.periods > 1 for inp in instances)}   with caps: "
          f"{sum(tx.uncapped(inp) != inp for inp in instances)}")
    print(f"instances with a mismatch: {mismatched}")
    for solver in solvers:
        print(f"  {solver}: {mismatches[solver]} mismatches")
    for kind, n in kinds.most_common():
        print(f"  {kind}: {n}")
    for k, inp, expected, bad in shown:
        print(f"\n--- mismatch: instance {k}")
        print(tx.reproducer(inp))
        print(f"brute force: {expected.text() if expected else 'infeasible (no valid plan)'}")
        for solver, kind, got, sol in bad:
            print(f"{solver}: {kind}: status {sol.status}, cost {got if got is None else f'{got:,.4f}'}; "
                  f"hosts {sol.hosts} cards {sol.cards} racks {sol.racks} replicas {sol.replicas}"
                  + (f" replicas_by_hour {sol.replicas_by_hour} hosts_by_hour {sol.hosts_by_hour}"
                     if inp.periods > 1 else ""))
    print(f"\nseconds: {seconds:.1f} (generate {t_gen:.1f}, brute force {t_brute:.1f}, solve {t_solve:.1f})")
    return 1 if mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
