"""fleet-20's MILP with batch runs: every hour slot its own rows (the old form) against alike slots
pooled (`optimize/batch_runs.py`), side by side, then the end-to-end time of `planner solve`.

    python bench/batch_pooling.py [--repeats N] [--file problems/fleet-20.yaml] [--old-gap 1e-4]

1. MILP: the same MilpInput solved with HiGHS (60 s limit) three ways: slots unpooled at the old
   gap (1e-4, how models with runs were solved before pooling), slots unpooled at gap 1e-9, and
   pooled at 1e-9 (what `planner solve` does). Median seconds of the solver call over --repeats,
   status, objective, variables and constraints.
2. End to end: `planner solve FILE` as a subprocess (import, candidates, MILP, verify, prediction,
   report), median wall seconds, and `planner --help` startup.

Figures are for this machine; no timing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog.overrides import prices_for_spec
from planner.catalog.prices import load_prices
from planner.catalog.resolve import resolve
from planner.catalog.store import load_catalog
from planner.money.site import site_book
from planner.optimize import batch_runs, measured
from planner.optimize.chain import milp_input
from planner.optimize.milp import solve
from planner.spec.loader import load_spec


def milp_input_of(path: Path):
    loaded = load_spec(path)
    cat = load_catalog()
    today = date.today()
    book = prices_for_spec(load_prices(), loaded, cat, None, today)
    res = resolve(loaded, cat)
    book = site_book(book, res.spec, today.isoformat())
    inp, _ = milp_input(res, measured.generate(res), book, res.spec.objective)
    return inp


def timed(inp, repeats: int, gap: float, unpooled: bool):
    secs, sol = [], None
    slots = mock.patch.object(batch_runs, "pool_mode", lambda *a: "slots")
    with mock.patch.object(batch_runs, "GAP", gap), (slots if unpooled else mock.patch.object(batch_runs, "GAP", gap)):
        for _ in range(repeats):
            sol = solve(inp, "highs", 60.0)
            secs.append(sol.seconds)
    return statistics.median(secs), sol


def wall(cmd: list[str], repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--file", default="problems/fleet-20.yaml")
    ap.add_argument("--old-gap", type=float, default=1e-4)
    args = ap.parse_args()
    print(f"cpu_count {os.cpu_count()}, median of {args.repeats} runs, HiGHS, file {args.file}")
    inp = milp_input_of(ROOT / args.file)
    print(f"{'MILP form':<28} {'gap tol':>8} {'solve s':>8} {'status':>9} {'objective':>13} {'vars':>6} {'cons':>6}")
    for label, gap, unpooled in (("slots unpooled (old)", args.old_gap, True), ("slots unpooled", 1e-9, True),
                                 ("alike slots pooled (new)", 1e-9, False)):
        s, sol = timed(inp, args.repeats, gap, unpooled)
        print(f"{label:<28} {gap:8.0e} {s:8.2f} {sol.status:>9} {sol.objective_usd:13.4f} "
              f"{sol.n_variables:6d} {sol.n_constraints:6d}", flush=True)
    cli = [sys.executable, "-m", "planner"]
    print(f"planner --help: {wall(cli + ['--help'], args.repeats):.2f} s")
    print(f"planner solve {args.file}: {wall(cli + ['solve', args.file], args.repeats):.2f} s end to end")


if __name__ == "__main__":
    main()
