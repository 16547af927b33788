"""Shape bias of the throughput prediction: predicted ÷ measured (median) on the offline
max-throughput rows of catalog/measured/calibration.csv, by input/output length pair.

    python tools/shape_bias.py [--data catalog/measured/calibration.csv] [--markdown]

A ratio above 1 means the model is optimistic for that request shape, below 1 pessimistic. The
accuracy bar (README "Accuracy") is 0.85-1.15 at every published pair. Rows are predicted with the
shipped factors (`planner validate`'s predictions); the pairs are those the rows publish.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.catalog.store import load_catalog  # noqa: E402
from planner.perf import calibration as V  # noqa: E402

BAR = (0.85, 1.15)
"""Predicted ÷ measured within this range at every pair meets the bar."""


def shape_ratios(cases: list[V.Case], rows: list[dict]) -> dict[tuple[int, int], list[float]]:
    """(input, output) → predicted ÷ measured of each max-throughput row with that shape."""
    by_line = {c.line: c for c in cases}
    out: dict[tuple[int, int], list[float]] = defaultdict(list)
    for r in rows:
        c = by_line[r["line"]]
        if c.mode == "max" and r["group"] == "max throughput" and r["predicted"] is not None:
            out[c.input_tokens, c.output_tokens].append(r["predicted"] / r["measured"])
    return dict(sorted(out.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "catalog/measured/calibration.csv"))
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    cat = load_catalog()
    cases, skipped = V.read_cases(cat, Path(args.data).read_text(encoding="utf-8"), args.data)
    val = V.validate_cases(cases, list(skipped), cat.efficiency_for, cat.engine_factors_for)
    ratios = shape_ratios(cases, val.rows)
    if args.markdown:
        print("| input / output | rows | predicted ÷ measured (median) | min | max |")
        print("|---|---:|---:|---:|---:|")
    else:
        print(f"{'input/output':>14} {'rows':>5} {'median':>7} {'min':>6} {'max':>6}")
    within = 0
    for (inp, out), rs in ratios.items():
        med = statistics.median(rs)
        within += BAR[0] <= med <= BAR[1]
        if args.markdown:
            print(f"| {inp:,} / {out:,} | {len(rs)} | {med:.2f} | {min(rs):.2f} | {max(rs):.2f} |")
        else:
            print(f"{f'{inp}/{out}':>14} {len(rs):5d} {med:7.2f} {min(rs):6.2f} {max(rs):6.2f}")
    print(f"\n{within} of {len(ratios)} pairs within {BAR[0]}-{BAR[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
