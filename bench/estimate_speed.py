"""How fast the performance model evaluates deployments over the whole catalogue.

    python bench/estimate_speed.py

Every model x GPU x precision x TP in {1, 2, 4, 8} that the hardware can run is evaluated once at
the best batch (the work the optimiser's candidate generation does per workload). Prints the
number of deployments, how many fit, and evaluations per second. Figures are for this machine;
compare runs only as ratios taken in one run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.catalog.store import load_catalog
from planner.errors import PlannerError
from planner.perf.estimate import Deployment, evaluate


def main() -> None:
    cat = load_catalog()
    precisions = [cat.precision(p) for p in ("fp16", "bf16", "fp8", "int8", "int4")]
    fp16 = cat.precision("fp16")
    deployments = []
    for m in cat.models.rows.values():
        for g in cat.gpus.rows.values():
            for p in precisions:
                for tp in (1, 2, 4, 8):
                    deployments.append(Deployment(m, g, p, fp16, tp=tp))
    start = time.perf_counter()
    evaluated = fits = rejected = 0
    for d in deployments:
        try:
            e = evaluate(d, cat.efficiency_for(d.gpu), 1024, 256, max_tpot_s=0.05)
        except PlannerError:
            rejected += 1
            continue
        evaluated += 1
        fits += e.fits
    seconds = time.perf_counter() - start
    print(f"{'deployments':>12} {'unsupported':>12} {'evaluated':>10} {'fit':>6} {'seconds':>8} {'eval/s':>8}")
    print(f"{len(deployments):12d} {rejected:12d} {evaluated:10d} {fits:6d} {seconds:8.2f} {evaluated / seconds:8.0f}")


if __name__ == "__main__":
    main()
