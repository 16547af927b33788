"""What a plan says about the quality of its precisions and the confidence of its GPU factors:
the JSON records, the table cells and the warning when a deployment rests on default efficiency
factors. The figures themselves are the plan's (`Plan.quality`, `Plan.factors`); nothing is
computed here.
"""
from __future__ import annotations

from planner.catalog.quality import Quality
from planner.optimize.plan import Plan

DEFAULT_MARK = "†"
QUALITY_CAPTION = ("prec: the weight precision and its published accuracy recovery against the 16-bit model "
                   "(catalog/quality.csv; * = the precision's most conservative figure, no row for the model's "
                   f"family); {DEFAULT_MARK}: the GPU family's efficiency factors are the default ones (not fitted on "
                   "measurements of the family)")

UNFITTED_NOTE = ("no measurements fitted its efficiency factors, so the default ones stand in: its latencies and "
                 "capacities are less certain (a family left out of the fit is off by 15-23 % median, README "
                 "Accuracy); check them with `planner calibrate` on a benchmark of your own")


def quality_record(q: Quality | None) -> dict | None:
    """A deployment's `quality` JSON field: recovery %, on which benchmark and model, whether it is the
    precision's fallback, and the row's source."""
    if q is None:
        return None
    return {"recovery_pct": q.recovery_pct, "benchmark": q.benchmark, "measured_on": q.measured_on,
            "basis": "fallback" if q.fallback else "family", "family": None if q.fallback else q.family,
            "confidence": q.confidence, "source": q.source, "as_of": q.as_of}


def factors_record(plan: Plan, candidate: str) -> dict | None:
    """A deployment's `efficiency_factors` JSON field: its GPU family and whether its factors were
    fitted, its engine and whether the engine's multipliers were (`fitted`, `reference`, `default`)."""
    if candidate not in plan.factors:
        return None
    family, fitted, engine, engine_basis = plan.factors[candidate]
    return {"gpu_family": family, "basis": "fitted" if fitted else "default", "engine": engine,
            "engine_basis": engine_basis}


def quality_cell(record: dict | None) -> str:
    if record is None:
        return "-"
    return f"{record['recovery_pct']:g}%" + ("*" if record["basis"] == "fallback" else "")


def factors_mark(record: dict | None) -> str:
    return DEFAULT_MARK if record is not None and record["basis"] == "default" else ""


def factor_warnings(plans: list[Plan]) -> list[str]:
    """One warning per GPU that some plan's deployment uses with default efficiency factors."""
    gpus: dict[tuple[str, str], list[str]] = {}
    for p in plans:
        for d in p.deployments:
            c = d.candidate
            family, fitted, _engine, _basis = p.factors.get(c.id, ("", True, "", ""))
            if not fitted and p.pricing not in gpus.setdefault((c.gpu, family), []):
                gpus[c.gpu, family].append(p.pricing)
    return [f"{gpu} ({family} family; {', '.join(pricings)} plan{'s' if len(pricings) > 1 else ''}): {UNFITTED_NOTE}"
            for (gpu, family), pricings in sorted(gpus.items())]
