"""`catalog/model_error.csv`: the performance model's speed factor per GPU family, and the derated
catalogue `planning.robustness: model_error` plans with.

A speed factor f (in (0, 1]) says the hardware ran at least f x the predicted speed on nine
measured rows in ten (`planner.perf.model_error` says how it is computed; `tools/model_error.py`
computes it). Derating a family by f makes every step time of the model / f: bandwidth
efficiency, decode and prefill MFU and link efficiency x f, the fixed per-step overhead / f
(`scaled_efficiency`). Only the fixed all-reduce latency (10-30 us per all-reduce,
`perf.ALLREDUCE_LATENCY_S`) is left as it is.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from planner.catalog.gpus import GPU_FAMILIES
from planner.catalog.precisions import Efficiency
from planner.catalog.store import Catalog, data_text
from planner.catalog.tables import CsvRow, read_csv
from planner.errors import CatalogError, Problem

MODEL_ERROR_COLUMNS = ("family", "basis", "rows", "speed_factor", "source", "as_of", "notes")
BASES = ("own fit", "leave-one-family-out")
"""`own fit`: the family's rows predicted with its own fitted factors; `leave-one-family-out`: the
pooled error on families predicted by a default fitted without them (for families with no fit)."""


@dataclass(frozen=True)
class ModelError:
    family: str
    """A GPU family, or `default` (every family without its own row)."""
    basis: str
    rows: int
    speed_factor: float
    source: str
    as_of: str
    notes: str = ""


def parse_model_error(text: str, path: str) -> dict[str, ModelError]:
    """Family → its row; every defect located. Needs a `default` row."""
    problems: list[Problem] = []
    out: dict[str, ModelError] = {}
    for line, data in read_csv(text, path, MODEL_ERROR_COLUMNS):
        r = CsvRow(path, line, data, problems)
        fam = r.choice("family", ("default", *GPU_FAMILIES))
        if fam in out:
            r._err("family", f"{fam!r} given twice", "one row per family")
        f = r.num("speed_factor")
        if f is not None and not 0 < f <= 1:
            r._err("speed_factor", f"must be in (0, 1] (got {f})")
        n = r.num("rows")
        out[fam] = ModelError(fam, r.choice("basis", BASES), int(n or 0), f or 1.0, r.str("source"),
                              r.date("as_of"), r.str("notes", required=False))
    if "default" not in out:
        problems.append(Problem("no 'default' row", file=path, key="family"))
    if problems:
        raise CatalogError(problems)
    return out


@functools.lru_cache(maxsize=1)
def load_model_error() -> dict[str, ModelError]:
    """The shipped table (cached)."""
    return parse_model_error(*data_text("model_error.csv"))


def speed_factor_for(family: str, table: dict[str, ModelError] | None = None) -> ModelError:
    """The row that applies to a GPU family: its own, else `default`."""
    table = table if table is not None else load_model_error()
    return table.get(family, table["default"])


def scaled_efficiency(eff: Efficiency, speed: float) -> Efficiency:
    """`eff` with every step time / speed: the four efficiency fractions x speed, the per-step
    overhead / speed (the fixed all-reduce latency aside).

    Example: bandwidth 0.69, overhead 1.015 ms at speed 0.8 -> 0.552 and 1.26875 ms."""
    if not 0 < speed <= 1:
        raise ValueError(f"speed must be in (0, 1] (got {speed})")
    return dataclasses.replace(eff, bw_eff=eff.bw_eff * speed, decode_mfu=eff.decode_mfu * speed,
                               prefill_mfu=eff.prefill_mfu * speed, comm_eff=eff.comm_eff * speed,
                               step_overhead_ms=eff.step_overhead_ms / speed)


def scaled_catalog(cat: Catalog, speed_for: dict[str, float]) -> Catalog:
    """`cat` with each GPU family's efficiency scaled by `speed_for[family]` (1 when absent): every
    family of the GPU table gets its own row, so a family on the `default` factors is scaled by
    its own speed."""
    families = sorted({g.family for g in cat.gpus.rows.values()})
    eff = dict(cat.efficiency)
    for fam in families:
        base = cat.efficiency.get(fam, cat.efficiency["default"])
        eff[fam] = scaled_efficiency(base, speed_for.get(fam, 1.0))
    return dataclasses.replace(cat, efficiency=eff)


def derated_catalog(cat: Catalog, table: dict[str, ModelError] | None = None) -> Catalog:
    """`cat` derated by the model's error: each family's speed x its `speed_factor_for` row."""
    families = {g.family for g in cat.gpus.rows.values()}
    return scaled_catalog(cat, {fam: speed_factor_for(fam, table).speed_factor for fam in families})
