"""`planner calibrate` for programs and people: the JSON record, and the terminal tables of the
factors before and after and of the model's error on the user's rows before and after.
"""
from __future__ import annotations

from rich.console import Console

from planner.catalog.precisions import EFFICIENCY_FACTORS, Efficiency
from planner.perf.fit import MIN_ROWS_PER_FAMILY
from planner.perf.recalibrate import Calibration
from planner.report.terminal import render_table

ERROR_TABLE = (("what", "metric"), ("n", "n"), ("median_before", "median before"), ("p90_before", "p90 before"),
               ("median_after", "median after"), ("p90_after", "p90 after"))
FACTOR_TABLE = (("family", "GPU family"), ("rows", "rows"), ("factor", "factor"), ("before", "before"),
                ("after", "after"))
FACTOR_LABELS = {"bw_eff": "bandwidth", "decode_mfu": "decode MFU", "prefill_mfu": "prefill MFU",
                 "comm_eff": "link", "step_overhead_ms": "overhead ms/step"}


def _factors(e: Efficiency) -> dict[str, float]:
    return {k: getattr(e, k) for k in EFFICIENCY_FACTORS}


def calibration_record(cal: Calibration) -> dict:
    """The `planner calibrate --format json` contract: files, per-family factors before and after
    (with their row counts), the absolute percentage error per metric and overall before and after
    (n, median_ape, p90_ape; fractions), every row's prediction before and after, skipped rows with
    reasons, the overlay rows, and a warning per family refitted on fewer rows than the shipped
    fit asks of a family."""
    before, after = cal.before.report(), cal.after.report()
    rows = [{"row": b["row"], "metric": b["metric"], "measured": b["measured"], "predicted_before": b["predicted"],
             "ape_before": b["ape"], "predicted_after": a["predicted"], "ape_after": a["ape"],
             "assumptions": b["assumptions"]} for b, a in zip(before["rows"], after["rows"])]
    return {
        "files": cal.files,
        "families": {f: {"rows": n, "before": _factors(b), "after": _factors(a)}
                     for f, (b, a, n) in cal.families.items()},
        "error": {"before": {"metrics": before["metrics"], "overall": before["overall"]},
                  "after": {"metrics": after["metrics"], "overall": after["overall"]}},
        "rows": rows,
        "skipped": [{"row": s.label, "reason": s.reason} for s in cal.skipped],
        "overlay": [{"family": e.family, **_factors(e), "source": e.source, "as_of": e.as_of, "notes": e.notes}
                    for e in cal.overlay],
        "warnings": [f"{f}: refitted on {n} rows (the shipped fit gives a family its own factors from "
                     f"{MIN_ROWS_PER_FAMILY}): the factors explain these rows; check them on other workloads"
                     for f, (_b, _a, n) in cal.families.items() if n < MIN_ROWS_PER_FAMILY],
    }


def _pct(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction:.1%}"


def error_rows(record: dict) -> list[dict]:
    """One row per metric, then overall: n, median and p90 absolute % error before and after."""
    before, after = record["error"]["before"], record["error"]["after"]
    out = []
    for name, b, a in [*((m, s, after["metrics"][m]) for m, s in before["metrics"].items()),
                       ("overall", before["overall"], after["overall"])]:
        out.append({"what": name, "n": b["n"], "median_before": _pct(b["median_ape"]), "p90_before": _pct(b["p90_ape"]),
                    "median_after": _pct(a["median_ape"]), "p90_after": _pct(a["p90_ape"])})
    return out


def factor_rows(record: dict) -> list[dict]:
    """One row per (family, factor): the value before and after."""
    out = []
    for family, f in record["families"].items():
        for k in EFFICIENCY_FACTORS:
            out.append({"family": family, "rows": f["rows"], "factor": FACTOR_LABELS[k],
                        "before": f"{f['before'][k]:.4f}", "after": f"{f['after'][k]:.4f}"})
    return out


def print_calibration(con: Console, record: dict, show_rows: bool, overlay_path: str | None) -> None:
    """The tables of `planner calibrate` (table format)."""
    con.print(render_table(f"Efficiency factors refitted on {len(record['files'])} file(s)", FACTOR_TABLE,
                           factor_rows(record), "per GPU family (the performance model has no engine dimension)",
                           con.width))
    con.print(render_table("Absolute percentage error on your rows", ERROR_TABLE, error_rows(record),
                           "before: the factors in use (shipped, or --calibration); after: the refitted ones", con.width))
    if show_rows:
        con.print(render_table("Rows", (("row", "row"), ("measured", "measured"), ("predicted_before", "before"),
                                        ("predicted_after", "after")), record["rows"], width=con.width))
    if record["skipped"]:
        con.print(render_table(f"Skipped ({len(record['skipped'])})", (("row", "row"), ("reason", "why")),
                               record["skipped"], width=con.width))
    for w in record["warnings"]:
        con.print(f"warning: {w}")
    if overlay_path:
        con.print(f"wrote {overlay_path}: use it with --calibration {overlay_path} on estimate, validate, "
                  "candidates, solve, simulate and compare")
    else:
        con.print("no overlay written: give --out FILE to write one")
