"""Compute the performance model's speed factor per GPU family and print it (`--write`: write
catalog/model_error.csv, which `planning.robustness: model_error` derates capacities by).

    python tools/model_error.py [--data catalog/measured/calibration.csv] [--write]

Method in `planner/perf/model_error.py`: per family with its own fitted factors, the 10th
percentile of the measured / predicted speed of its rows (capped at 1); for every other family
(`default`), the same over the leave-one-family-out predictions of the fitted families pooled
(each predicted by a default refitted without it, as `tools/fit_efficiency.py` prints). The
median ratio is printed beside it to show the fit is unbiased. Takes about 15 s (three refits).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.catalog.model_error import MODEL_ERROR_COLUMNS  # noqa: E402
from planner.catalog.store import load_catalog  # noqa: E402
from planner.perf import calibration as V  # noqa: E402
from planner.perf.fit import FIT_DATE, START, fit  # noqa: E402
from planner.perf.model_error import SPEED_PERCENTILE, speed_factor, speed_ratios  # noqa: E402

SOURCE = "computed by tools/model_error.py on catalog/measured/calibration.csv"


def rows(data: str) -> list[dict]:
    cat = load_catalog()
    cases, _skipped = V.read_cases(cat, Path(data).read_text(encoding="utf-8"), data)
    fitted = sorted(f for f in cat.efficiency if f != "default")
    engines = dict(cat.engine_factors)
    out = []
    own = speed_ratios(cases, cat.efficiency_for, cat.engine_factors_for)
    for fam in fitted:
        r = [x for f, x in own if f == fam]
        out.append({"family": fam, "basis": "own fit", "rows": len(r), "speed_factor": f"{speed_factor(r):.4f}",
                    "median": V.percentile(r, 50)})
    pooled = []
    for fam in fitted:
        rest = [c for c in cases if c.deployment.gpu.family != fam]
        held = [c for c in cases if c.deployment.gpu.family == fam]
        other, _ = fit(rest, START, engines)
        pooled += [x for _f, x in speed_ratios(held, lambda g, o=other: o, cat.engine_factors_for)]
    out.append({"family": "default", "basis": "leave-one-family-out", "rows": len(pooled),
                "speed_factor": f"{speed_factor(pooled):.4f}", "median": V.percentile(pooled, 50)})
    for r in out:
        r.update(source=SOURCE, as_of=FIT_DATE,
                 notes=f"p{100 - SPEED_PERCENTILE:g} one-sided: {SPEED_PERCENTILE:g} % of rows ran slower than "
                       f"{float(r['speed_factor']):.1%} of the predicted speed; median ratio {r['median']:.3f}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "catalog/measured/calibration.csv"))
    ap.add_argument("--write", action="store_true", help="write catalog/model_error.csv")
    args = ap.parse_args()
    table = rows(args.data)
    print(f"{'family':10} {'basis':22} {'rows':>5} {'speed factor':>13} {'median ratio':>13}")
    for r in table:
        print(f"{r['family']:10} {r['basis']:22} {r['rows']:5d} {float(r['speed_factor']):13.4f} {r['median']:13.3f}")
    if args.write:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=MODEL_ERROR_COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        (REPO / "catalog/model_error.csv").write_text(buf.getvalue(), encoding="utf-8")
        print("wrote catalog/model_error.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
