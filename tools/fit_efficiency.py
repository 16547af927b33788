"""Fit the performance model's efficiency factors on published measurements, and print the fit.

    python tools/fit_efficiency.py [--data catalog/measured/calibration.csv] [--write]

Factors: bw_eff (fraction of datasheet memory bandwidth reached by decode), decode_mfu and
prefill_mfu (fraction of dense tensor peak), comm_eff (fraction of link bandwidth reached by
all-reduce) and step_overhead_ms (fixed cost per forward pass: launch, scheduling, sampling).

Method (`planner.perf.fit`, the same code `planner calibrate` refits with): one `default` set
fitted on every usable row, then one set per GPU family that has at least MIN_ROWS_PER_FAMILY
rows, each started from the default. Never per row, per SKU or per engine. The loss weighs the
three metric groups (batch-1 decode, max throughput, TTFT/prefill) equally, and within a group is
the mean absolute log error (robust to the few rows whose engine differs a lot). The search is a
coordinate descent over bounded log grids, deterministic. With --write the result replaces
catalog/efficiency.csv.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.catalog.precisions import efficiency_csv  # noqa: E402
from planner.catalog.store import load_catalog  # noqa: E402
from planner.perf import calibration as V  # noqa: E402
from planner.perf.fit import FIT_DATE, MIN_ROWS_PER_FAMILY, START, by_family, fit, fit_all  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "catalog/measured/calibration.csv"))
    ap.add_argument("--write", action="store_true", help="write catalog/efficiency.csv")
    args = ap.parse_args()

    cat = load_catalog()
    cases, skipped = V.read_cases(cat, Path(args.data).read_text(encoding="utf-8"), args.data)
    print(f"usable rows: {len(cases)}; skipped: {len(skipped)}")
    fitted = fit_all(cases)
    for family, fam_cases in by_family(cases).items():
        if family not in fitted:
            print(f"{family}: {len(fam_cases)} rows (< {MIN_ROWS_PER_FAMILY}): uses default")
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
        other, _ = fit(rest, START)
        rep_out = V.validate_cases(held, [], lambda g, o=other: o).report()["overall"]
        rep_own = V.validate_cases(held, [], lambda g, f=family: effs[f]).report()["overall"]
        print(f"{family:10} {len(held):5d} {rep_out['median_ape']:11.1%} {rep_out['p90_ape']:8.1%} | {rep_own['median_ape']:23.1%}")

    if args.write:
        out = REPO / "catalog/efficiency.csv"
        rows = [dataclasses.replace(e, family=family, source="fitted by tools/fit_efficiency.py on catalog/measured/calibration.csv",
                                    as_of=FIT_DATE, notes=f"{n} rows; loss {l:.4f} (mean abs log error, groups weighted equally)")
                for family, (e, l, n) in fitted.items()]
        out.write_text(efficiency_csv(rows), encoding="utf-8")
        print(f"\nwrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
