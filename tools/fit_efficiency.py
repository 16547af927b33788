"""Fit the performance model's efficiency factors on published measurements, and print the fit.

    python tools/fit_efficiency.py [--data catalog/measured/calibration.csv] [--write]

Factors: bw_eff (fraction of datasheet memory bandwidth reached by decode), decode_mfu and
prefill_mfu (fraction of dense tensor peak), comm_eff (fraction of link bandwidth reached by
all-reduce) and step_overhead_ms (fixed cost per forward pass: launch, scheduling, sampling), per
GPU family; and per engine, multipliers of the step overhead, decode MFU and prefill MFU.

Method (`planner.perf.fit`, the same code `planner calibrate` refits with): (1) one `default` set
fitted on every usable row, then one set per GPU family that has at least MIN_ROWS_PER_FAMILY
rows, each started from the default; (2) per engine with at least MIN_ROWS_PER_ENGINE rows, its
multipliers with the family factors held (TensorRT-LLM is the reference: 1 by definition); (3)
the family sets refitted with the engine multipliers applied. The loss weighs the three metric
groups (batch-1 decode, max throughput, TTFT/prefill) equally, and within a group is the mean
absolute log error. The search is a coordinate descent over bounded log grids, deterministic.
With --write the result replaces catalog/efficiency.csv and catalog/engine_factors.csv. Takes
about a minute.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.catalog.engines import engine_factors_csv  # noqa: E402
from planner.catalog.precisions import efficiency_csv  # noqa: E402
from planner.catalog.store import load_catalog  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.perf import calibration as V  # noqa: E402
from planner.perf.fit import (  # noqa: E402
    FIT_DATE,
    MIN_ROWS_PER_ENGINE,
    MIN_ROWS_PER_FAMILY,
    START,
    FitResult,
    by_engine,
    by_family,
    case_efficiency,
    fit,
    fit_all,
    fit_families,
)

SOURCE = "fitted by tools/fit_efficiency.py on catalog/measured/calibration.csv"


def _summary_line(label: str, cases, eff_of) -> str:
    rows = []
    for c in cases:
        try:
            pred = V.predict(c, eff_of(c))
        except (ValueError, OverflowError, PlannerError):
            continue
        rows.append(V.ape(pred, c.measured))
    s = V.summarise(rows)
    return f"{label:14} {s['n']:5d} {s['median_ape']:11.1%} {s['p90_ape']:8.1%}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "catalog/measured/calibration.csv"))
    ap.add_argument("--write", action="store_true", help="write catalog/efficiency.csv and catalog/engine_factors.csv")
    args = ap.parse_args()

    cat = load_catalog()
    cases, skipped = V.read_cases(cat, Path(args.data).read_text(encoding="utf-8"), args.data)
    print(f"usable rows: {len(cases)}; skipped: {len(skipped)}")
    result = fit_all(cases)
    fitted = result.families
    for family, fam_cases in by_family(cases).items():
        if family not in fitted:
            print(f"{family}: {len(fam_cases)} rows (< {MIN_ROWS_PER_FAMILY}): uses default")
    print(f"\n{'family':10} {'rows':>5} {'bw_eff':>7} {'dec_mfu':>8} {'pre_mfu':>8} {'comm':>6} {'ovh_ms':>7} {'loss':>7}")
    for family, (e, l, n) in fitted.items():
        print(f"{family:10} {n:5d} {e.bw_eff:7.3f} {e.decode_mfu:8.3f} {e.prefill_mfu:8.3f} {e.comm_eff:6.3f} {e.step_overhead_ms:7.3f} {l:7.3f}")
    print(f"\n{'engine':14} {'rows':>5} {'basis':>9} {'ovh x':>7} {'dec x':>7} {'pre x':>7} {'loss':>7}")
    for eid, (f, l, n) in result.engines.items():
        print(f"{eid:14} {n:5d} {f.basis:>9} {f.step_overhead_factor:7.3f} {f.decode_mfu_factor:7.3f} "
              f"{f.prefill_mfu_factor:7.3f} {l:7.3f}")

    effs = {f: e for f, (e, _l, _n) in fitted.items()}
    table = result.engine_table()
    val = V.validate_cases(cases, list(skipped), lambda g: effs.get(g.family, effs["default"]),
                           lambda e: table[e.id] if e is not None and e.id in table else cat.engine_factors_for(e))
    rep = val.report()
    print(f"\n{'group':18} {'n':>4} {'median APE':>11} {'p90 APE':>8} | naive {'median':>7} {'p90':>7}")
    for key in ("groups", "engines"):
        for g, s in rep[key].items():
            nv = rep["naive_roofline"][key][g]
            name = g if key == "groups" else f"engine {g}"
            print(f"{name:18} {s['n']:4d} {s['median_ape']:11.1%} {s['p90_ape']:8.1%} | {nv['median_ape']:13.1%} {nv['p90_ape']:7.1%}")
    s, nv = rep["overall"], rep["naive_roofline"]["overall"]
    print(f"{'overall':18} {s['n']:4d} {s['median_ape']:11.1%} {s['p90_ape']:8.1%} | {nv['median_ape']:13.1%} {nv['p90_ape']:7.1%}")

    # Generalisation: how well a default fitted WITHOUT a family predicts that family's rows, which
    # is the situation of every GPU family with no measurements (Blackwell, CDNA3, Gaudi 3, ...).
    print("\nleave-one-family-out (default refitted without the family, engine multipliers held, then applied to it):")
    print(f"{'held out':14} {'rows':>5} {'median APE':>11} {'p90 APE':>8}")
    for family in sorted(f for f in fitted if f != "default"):
        rest = [c for c in cases if c.deployment.gpu.family != family]
        held = [c for c in cases if c.deployment.gpu.family == family]
        other, _ = fit(rest, START, table)
        print(_summary_line(family, held, lambda c, o=other: case_efficiency(o, c, table)))
    # The same for an engine: factors fitted without its rows (family sets, and no multipliers of its
    # own: the situation of an engine with no measurements, such as vLLM or SGLang here).
    print("\nleave-one-engine-out (family factors refitted without the engine, its multipliers 1, then applied to it):")
    print(f"{'held out':14} {'rows':>5} {'median APE':>11} {'p90 APE':>8}")
    for eid, mine in by_engine(cases).items():
        if len(mine) < MIN_ROWS_PER_ENGINE:
            continue
        rest = [c for c in cases if c.deployment.engine_id != eid]
        others = {e: f for e, f in table.items() if e != eid}
        fams = {f: e for f, (e, _l, _n) in fit_families(rest, others, effs).items()}
        print(_summary_line(eid, mine, lambda c, fams=fams: fams.get(c.deployment.gpu.family, fams["default"])))

    if args.write:
        for name, text in tables(result).items():
            (REPO / "catalog" / name).write_text(text, encoding="utf-8")
            print(f"wrote catalog/{name}")
    return 0


def tables(result: FitResult) -> dict[str, str]:
    """The text of catalog/efficiency.csv and catalog/engine_factors.csv for a fit."""
    rows = [dataclasses.replace(e, family=family, source=SOURCE, as_of=FIT_DATE,
                                notes=f"{n} rows; loss {l:.4f} (mean abs log error, groups weighted equally)")
            for family, (e, l, n) in result.families.items()]
    notes = {"fitted": "multipliers fitted on the engine's rows, family factors held",
             "reference": "the reference engine: multipliers 1 by definition",
             "default": f"fewer than {MIN_ROWS_PER_ENGINE} rows: multipliers 1"}
    engines = [dataclasses.replace(f, source=SOURCE, as_of=FIT_DATE, notes=f"{notes[f.basis]}; loss {l:.4f}")
               for _e, (f, l, _n) in result.engines.items()]
    return {"efficiency.csv": efficiency_csv(rows), "engine_factors.csv": engine_factors_csv(engines)}


if __name__ == "__main__":
    raise SystemExit(main())
