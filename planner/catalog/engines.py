"""Inference engines (`engines.csv`) and their fitted factors (`engine_factors.csv`).

An engine row names an engine (`id`, `aliases` for did-you-mean), the lower-case substrings that map
the free-text `engine` column of a measurements file to it (`matches`, ';'-separated, first row in
file order wins), and whether it batches prompt tokens into the decode steps (`batches_prefill`:
chunked prefill or in-flight batching; false for engines that run each prompt as its own forward
pass). Its speed factors are fitted, not stated: `engine_factors.csv` (written by
tools/fit_efficiency.py) holds multipliers of the GPU family's step overhead, decode MFU and prefill
MFU per engine, `basis` `fitted` (enough rows) or `default` (1 and 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from planner.catalog.tables import CsvRow, Table, build_index, read_csv, unique_ids
from planner.errors import CatalogError, Problem

DEFAULT_ENGINE = "vllm"
"""The engine a workload runs on when the file names none (`planning.engine`)."""

ENGINE_COLUMNS = ("id", "aliases", "name", "matches", "batches_prefill", "source", "as_of", "notes")
ENGINE_FACTOR_COLUMNS = ("engine", "rows", "basis", "step_overhead_factor", "decode_mfu_factor", "prefill_mfu_factor",
                         "source", "as_of", "notes")
ENGINE_BASES = ("fitted", "default", "reference")


@dataclass(frozen=True)
class Engine:
    """An inference engine: its names and whether prompts ride the decode steps."""

    id: str
    aliases: tuple[str, ...]
    name: str
    matches: tuple[str, ...]
    batches_prefill: bool
    source: str
    as_of: str
    notes: str = ""


@dataclass(frozen=True)
class EngineFactors:
    """Multipliers an engine applies over the GPU family's efficiency factors.

    step_overhead_ms x step_overhead_factor, decode_mfu x decode_mfu_factor and prefill_mfu x
    prefill_mfu_factor (the MFUs capped at 1).
    `basis`: `fitted` on `rows` calibration rows, `reference` (the engine the family factors are
    fitted for: 1 by definition) or `default` (too few rows: 1)."""

    engine: str
    rows: int
    basis: str
    step_overhead_factor: float = 1.0
    decode_mfu_factor: float = 1.0
    prefill_mfu_factor: float = 1.0
    source: str = ""
    as_of: str = ""
    notes: str = ""


def parse_engines(text: str, path: str) -> Table[Engine]:
    problems: list[Problem] = []
    rows: dict[str, Engine] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    ids = []
    for line, data in read_csv(text, path, ENGINE_COLUMNS):
        r = CsvRow(path, line, data, problems)
        matches = tuple(m.lower() for m in r.aliases("matches"))
        if not matches:
            r._err("matches", "empty", "';'-separated lower-case substrings of engine descriptions")
        e = Engine(id=r.str("id"), aliases=r.aliases(), name=r.str("name"), matches=matches,
                   batches_prefill=r.bool("batches_prefill"), source=r.str("source"), as_of=r.date("as_of"),
                   notes=r.str("notes", required=False))
        ids.append((line, e.id))
        rows[e.id] = e
        aliases[e.id] = e.aliases
    problems += unique_ids(path, ids)
    if DEFAULT_ENGINE not in rows:
        problems.append(Problem(f"no {DEFAULT_ENGINE!r} row (the default engine)", file=path, key="id"))
    if problems:
        raise CatalogError(problems)
    return Table("engine", rows, build_index("engine", path, rows, aliases))


def engine_for_text(engines: Table[Engine], text: str) -> Engine | None:
    """The engine a free-text description names (first row in file order with a `matches`
    substring in it, case-insensitive); None when none does."""
    low = (text or "").lower()
    for e in engines.rows.values():
        if any(m in low for m in e.matches):
            return e
    return None


def parse_engine_factors(text: str, path: str, engines: Table[Engine]) -> dict[str, EngineFactors]:
    problems: list[Problem] = []
    out: dict[str, EngineFactors] = {}
    for line, data in read_csv(text, path, ENGINE_FACTOR_COLUMNS):
        r = CsvRow(path, line, data, problems)
        eid = r.choice("engine", tuple(engines.rows))
        if eid in out:
            r._err("engine", f"{eid!r} given twice", "one row per engine")
        out[eid] = EngineFactors(
            engine=eid, rows=r.int("rows", required=False), basis=r.choice("basis", ENGINE_BASES),
            step_overhead_factor=r.num("step_overhead_factor") or 1.0,
            decode_mfu_factor=r.num("decode_mfu_factor") or 1.0,
            prefill_mfu_factor=r.num("prefill_mfu_factor") or 1.0,
            source=r.str("source"), as_of=r.date("as_of"), notes=r.str("notes", required=False))
    if problems:
        raise CatalogError(problems)
    return out


def engine_factors_csv(rows: list[EngineFactors]) -> str:
    """`rows` as an engine factor table (ENGINE_FACTOR_COLUMNS; factors to 4 decimals): the text of
    catalog/engine_factors.csv."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ENGINE_FACTOR_COLUMNS)
    for f in rows:
        w.writerow([f.engine, f.rows, f.basis, f"{f.step_overhead_factor:.4f}", f"{f.decode_mfu_factor:.4f}",
                    f"{f.prefill_mfu_factor:.4f}",
                    f.source, f.as_of, f.notes])
    return buf.getvalue()
