"""What each `planning.robustness` setting costs on the seed problems, and the headroom it buys.

    python bench/robustness_cost.py [--settings none,model_error,1.2,1.5] [--seed 0]

For each seed problem (problems/seed*.yaml) and each setting: the cheapest plan's cost per month
(capex spread over the horizon; the objective's first plan: rent, or buy where the file buys), its
increase over `none`, and the breaking demand multiplier of that plan (`solve --sensitivity`: the
demand, as a multiple of the stated one, at which the fleet, held fixed and simulated at the
model's step times for 120 s at each point, first misses an SLO; `>4` = not within 4x; `-` = no
online workload). Prints a Markdown table (the README's).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import planner  # noqa: E402
from planner.errors import PlannerError  # noqa: E402


def with_robustness(loaded, value):
    planning = loaded.spec.planning.model_copy(update={"robustness": value})
    return dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"planning": planning}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="none,model_error,1.2,1.5")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = [s if s in ("none", "model_error") else float(s) for s in args.settings.split(",")]
    files = sorted((ROOT / "problems").glob("seed*.yaml"))
    print("| problem | " + " | ".join(f"{s} $/month (breaks at)" for s in settings) + " |")
    print("|---|" + "---:|" * len(settings))
    t0 = time.perf_counter()
    for f in files:
        loaded = planner.load(f)
        cells, base = [], None
        for s in settings:
            try:
                plan = planner.plan(with_robustness(loaded, s), seed=args.seed, sensitivity=True).plans[0]
            except PlannerError as exc:
                cells.append(f"no plan ({type(exc).__name__})")
                continue
            usd = plan.total_usd / plan.horizon_months
            base = usd if s == "none" else base
            more = f" (+{usd / base - 1:.0%})" if base and s != "none" else ""
            b = plan.sensitivity.breaking
            online = any(sc.fleet_fixed.workloads for sc in plan.sensitivity.scenarios)
            brk = "-" if not online else (f">{b.cap:g}" if b.multiplier is None else f"{b.multiplier:.2f}")
            cells.append(f"{usd:,.0f}{more} ({brk})")
        print(f"| `{f.stem}` | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
