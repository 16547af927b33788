"""Fit the engine's memory terms on vLLM start-up logs, print the fit and its errors.

    python tools/fit_memory.py [--data catalog/measured/memory.csv] [--write]

Terms (`planner.catalog.gpu_memory.MemoryTerms`, formulas in `planner.perf.memory`):
sampler_bytes_per_logit and forward_activation_factor (the profiling run's activation peak),
nontorch_gib_tp1 / nontorch_gib_tp2plus / nontorch_gib_pp_stage (memory outside PyTorch), and the
capacity rule's reported_fraction_hbm / reported_fraction_gddr (medians over
catalog/gpu_memory_reported.csv). Method: `planner.perf.memory_fit` (coordinate descent on the mean
absolute log error, deterministic). Prints the error per memory metric with the fitted terms, and a
leave-one-model-out check: the terms refitted without a model's rows, then used to predict them.
With --write the result replaces catalog/memory_terms.csv.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.catalog.gpu_memory import parse_reported, terms_csv  # noqa: E402
from planner.catalog.gpus import parse_gpus  # noqa: E402
from planner.catalog.store import data_text, load_catalog  # noqa: E402
from planner.perf import calibration as V  # noqa: E402
from planner.perf.memory_fit import ENGINE_TERMS, FIT_DATE, fit_terms, reported_fractions, with_terms  # noqa: E402

SOURCE = "fitted by tools/fit_memory.py on catalog/measured/memory.csv (vLLM v0.19.0 start-up logs, H100 80GB)"


def fit(data: str):
    """(terms, loss, cases, skipped): the memory terms fitted on the rows of `data`."""
    cat = load_catalog()
    gpus = parse_gpus(*data_text("gpus.csv"))
    fractions = reported_fractions(gpus, parse_reported(*data_text("gpu_memory_reported.csv"), gpus))
    base = dataclasses.replace(cat.memory_terms, reported_fraction_hbm=fractions["hbm"],
                               reported_fraction_gddr=fractions["gddr"], source=SOURCE, as_of=FIT_DATE)
    cases, skipped = V.read_cases(cat, Path(data).read_text(encoding="utf-8"), data)
    terms, loss = fit_terms(cases, base)
    return terms, loss, cases, skipped


def table(title: str, report: dict) -> None:
    print(f"\n{title}")
    print(f"{'metric':24} {'n':>3} {'median APE':>11} {'p90 APE':>8}")
    for m, s in report["metrics"].items():
        print(f"{m:24} {s['n']:3d} {s['median_ape']:11.2%} {s['p90_ape']:8.2%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "catalog/measured/memory.csv"))
    ap.add_argument("--write", action="store_true", help="write catalog/memory_terms.csv")
    args = ap.parse_args()

    terms, loss, cases, skipped = fit(args.data)
    print(f"usable rows: {len(cases)}; skipped: {len(skipped)}")
    for s in skipped:
        print(f"  line {s.line}: {s.reason}")
    print("\nterm                       value")
    for name in (*ENGINE_TERMS, "reported_fraction_hbm", "reported_fraction_gddr"):
        print(f"{name:26} {getattr(terms, name):.4f}")
    print(f"loss (mean abs log error over the memory metrics): {loss:.5f}")
    table("with the fitted terms:", V.validate_cases(with_terms(cases, terms), [], lambda g: None).report())

    print("\nleave-one-model-out (terms refitted without the model, then used to predict it):")
    held_rows = []
    for model in sorted({c.deployment.model.id for c in cases}):
        rest = [c for c in cases if c.deployment.model.id != model]
        held = [c for c in cases if c.deployment.model.id == model]
        other, _ = fit_terms(rest, terms)
        print(f"  without {model}: " + ", ".join(f"{n} {getattr(other, n):.4f}" for n in ENGINE_TERMS))
        held_rows += with_terms(held, other)
    table("leave-one-model-out, all held-out rows:", V.validate_cases(held_rows, [], lambda g: None).report())

    if args.write:
        out = REPO / "catalog/memory_terms.csv"
        notes = {n: f"{len(cases)} rows; loss {loss:.5f} (mean abs log error over the memory metrics)" for n in ENGINE_TERMS}
        notes["reported_fraction_hbm"] = "median reported GiB / datasheet GB of the HBM GPUs in catalog/gpu_memory_reported.csv"
        notes["reported_fraction_gddr"] = "median reported GiB / datasheet GB of the GDDR GPUs in catalog/gpu_memory_reported.csv"
        out.write_text(terms_csv(terms, notes), encoding="utf-8")
        print(f"\nwrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
