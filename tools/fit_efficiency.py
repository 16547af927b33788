"""Fit the performance model's efficiency factors on published measurements, and print the fit.

    python tools/fit_efficiency.py [--data catalog/measured/calibration.csv] [--write]

Factors: bw_eff (fraction of datasheet memory bandwidth reached by decode), decode_mfu and
prefill_mfu (fraction of dense tensor peak), comm_eff (fraction of link bandwidth reached by
all-reduce) and step_overhead_ms (fixed cost per forward pass: launch, scheduling, sampling).

Method: one `default` set fitted on every usable row, then one set per GPU family that has at
least MIN_ROWS_PER_FAMILY rows, each started from the default. Never per row, per SKU or per
engine. The loss weighs the three metric groups (batch-1 decode, max throughput, TTFT/prefill)
equally, and within a group is the mean absolute log error (robust to the few rows whose engine
differs a lot). The search is a coordinate descent over bounded log grids, deterministic.
With --write the result replaces catalog/efficiency.csv.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.catalog.precisions import EFFICIENCY_COLUMNS, Efficiency  # noqa: E402
from planner.catalog.store import load_catalog  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.perf import calibration as V  # noqa: E402

MIN_ROWS_PER_FAMILY = 20
BOUNDS = {
    "bw_eff": (0.3, 0.95),
    "decode_mfu": (0.1, 0.9),
    "prefill_mfu": (0.1, 0.9),
    "comm_eff": (0.1, 0.95),
    "step_overhead_ms": (0.0, 3.0),
}
FACTORS = tuple(BOUNDS)
FIT_DATE = "2026-11-21"


def loss(cases: list[V.Case], eff: Efficiency) -> float:
    by_group: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        try:
            pred = V.predict(c, eff)
        except (ValueError, PlannerError):
            continue
        if pred <= 0 or not math.isfinite(pred):
            by_group[V.METRIC_GROUPS[c.metric]].append(5.0)
            continue
        by_group[V.METRIC_GROUPS[c.metric]].append(abs(math.log(pred / c.measured)))
    return sum(sum(v) / len(v) for v in by_group.values()) / max(len(by_group), 1)


def grid(name: str, centre: float, span: float, n: int = 9) -> list[float]:
    lo, hi = BOUNDS[name]
    if name == "step_overhead_ms":
        pts = [centre + span * (i - n // 2) / (n // 2) for i in range(n)]
    else:
        pts = [centre * math.exp(span * (i - n // 2) / (n // 2)) for i in range(n)]
    return sorted({round(min(hi, max(lo, p)), 4) for p in pts})


def fit(cases: list[V.Case], start: Efficiency, label: str) -> tuple[Efficiency, float]:
    best = start
    best_loss = loss(cases, best)
    for span in (0.6, 0.3, 0.15, 0.07, 0.03):
        improved = True
        while improved:
            improved = False
            for name in FACTORS:
                centre = getattr(best, name)
                s = span if name != "step_overhead_ms" else max(span * 2, 0.05)
                for value in grid(name, centre, s):
                    trial = dataclasses.replace(best, **{name: value})
                    value_loss = loss(cases, trial)
                    if value_loss < best_loss - 1e-9:
                        best, best_loss, improved = trial, value_loss, True
    return best, best_loss


START = Efficiency("default", 0.75, 0.5, 0.5, 0.7, 0.3, "", FIT_DATE)
"""Where every fit starts (the search is deterministic from here)."""


def fit_all(cases: list[V.Case]) -> dict[str, tuple[Efficiency, float, int]]:
    """{family: (factors, loss, rows)}: `default` on every row, then each family with enough rows."""
    default, default_loss = fit(cases, START, "default")
    fitted = {"default": (default, default_loss, len(cases))}
    by_family: dict[str, list[V.Case]] = defaultdict(list)
    for c in cases:
        by_family[c.deployment.gpu.family].append(c)
    for family in sorted(by_family):
        fam_cases = by_family[family]
        if len(fam_cases) < MIN_ROWS_PER_FAMILY:
            print(f"{family}: {len(fam_cases)} rows (< {MIN_ROWS_PER_FAMILY}): uses default")
            continue
        eff, fam_loss = fit(fam_cases, dataclasses.replace(default, family=family), family)
        fitted[family] = (eff, fam_loss, len(fam_cases))
    return fitted


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "catalog/measured/calibration.csv"))
    ap.add_argument("--write", action="store_true", help="write catalog/efficiency.csv")
    args = ap.parse_args()

    cat = load_catalog()
    cases, skipped = V.read_cases(cat, Path(args.data).read_text(encoding="utf-8"), args.data)
    print(f"usable rows: {len(cases)}; skipped: {len(skipped)}")
    fitted = fit_all(cases)
    print(f"\n{'family':10} {'rows':>5} {'bw_eff':>7} {'dec_mfu':>8} {'pre_mfu':>8} {'comm':>6} {'ovh_ms':>7} {'loss':>7}")
    for family, (e, l, n) in fitted.items():
        print(f"{family:10} {n:5d} {e.bw_eff:7.3f} {e.decode_mfu:8.3f} {e.prefill_mfu:8.3f} {e.comm_eff:6.3f} {e.step_overhead_ms:7.3f} {l:7.3f}")

    effs = {f: e for f, (e, _l, _n) in fitted.items()}
    val = V.validate_cases(cases, list(skipped), lambda g: effs.get(g.family, effs["default"]))
    rep = val.report()
    print(f"\n{'group':18} {'n':>4} {'median APE':>11} {'p90 APE':>8} | naive {'median':>7} {'p90':>7}")
    for g, s in rep["groups"].items():
        nv = rep["naive_roofline"]["groups"][g]
        print(f"{g:18} {s['n']:4d} {s['median_ape']:11.1%} {s['p90_ape']:8.1%} | {nv['median_ape']:13.1%} {nv['p90_ape']:7.1%}")
    s, nv = rep["overall"], rep["naive_roofline"]["overall"]
    print(f"{'overall':18} {s['n']:4d} {s['median_ape']:11.1%} {s['p90_ape']:8.1%} | {nv['median_ape']:13.1%} {nv['p90_ape']:7.1%}")

    # Generalisation: how well a default fitted WITHOUT a family predicts that family's rows, which
    # is the situation of every GPU family with no measurements (Blackwell, CDNA3, Gaudi 3, ...).
    print("\nleave-one-family-out (default refitted without the family, then applied to it):")
    print(f"{'held out':10} {'rows':>5} {'median APE':>11} {'p90 APE':>8} | with own factors {'median':>7}")
    for family in sorted(f for f in fitted if f != "default"):
        rest = [c for c in cases if c.deployment.gpu.family != family]
        held = [c for c in cases if c.deployment.gpu.family == family]
        other, _ = fit(rest, START, f"without {family}")
        rep_out = V.validate_cases(held, [], lambda g, o=other: o).report()["overall"]
        rep_own = V.validate_cases(held, [], lambda g, f=family: effs[f]).report()["overall"]
        print(f"{family:10} {len(held):5d} {rep_out['median_ape']:11.1%} {rep_out['p90_ape']:8.1%} | {rep_own['median_ape']:23.1%}")

    if args.write:
        out = REPO / "catalog/efficiency.csv"
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(EFFICIENCY_COLUMNS)
            for family, (e, l, n) in fitted.items():
                w.writerow([
                    family, f"{e.bw_eff:.4f}", f"{e.decode_mfu:.4f}", f"{e.prefill_mfu:.4f}", f"{e.comm_eff:.4f}",
                    f"{e.step_overhead_ms:.4f}",
                    "fitted by tools/fit_efficiency.py on catalog/measured/calibration.csv", FIT_DATE,
                    f"{n} rows; loss {l:.4f} (mean abs log error, groups weighted equally)",
                ])
        print(f"\nwrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
