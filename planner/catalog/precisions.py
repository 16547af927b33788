"""Precisions (`precisions.csv`) and per-family efficiency factors (`efficiency.csv`)."""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.gpus import COMPUTE_PRECISIONS, GPU_FAMILIES
from planner.catalog.tables import CsvRow, Table, build_index, read_csv, unique_ids
from planner.errors import CatalogError, Problem


@dataclass(frozen=True)
class Precision:
    """A weight format: bits per weight, group-scale overhead, and the compute it runs in."""

    id: str
    aliases: tuple[str, ...]
    weight_bits: float
    group_size: int | None
    group_overhead_bits: float
    compute: str
    kv_capable: bool
    unquantized: tuple[str, ...]
    """Parts left at 16 bits: `embeddings` and/or `lm_head`."""
    kind: str
    serving_default: bool
    """Tried when a workload lists no precisions. False for FP32 (no serving stack uses it for
    LLMs) and the llama.cpp GGUF formats (a single-stream engine; list them to opt in)."""
    source: str
    as_of: str
    notes: str = ""

    @property
    def bits_per_weight(self) -> float:
        """Effective bits per quantised weight, group scales included."""
        extra = self.group_overhead_bits / self.group_size if self.group_size else 0.0
        return self.weight_bits + extra

    @property
    def bytes_per_weight(self) -> float:
        return self.bits_per_weight / 8.0


@dataclass(frozen=True)
class Efficiency:
    """Fraction of datasheet peaks an engine reaches, per GPU family (fitted; see tools/fit_efficiency.py)."""

    family: str
    bw_eff: float
    decode_mfu: float
    prefill_mfu: float
    comm_eff: float
    step_overhead_ms: float
    source: str
    as_of: str
    notes: str = ""


PRECISION_COLUMNS = (
    "id", "aliases", "kind", "weight_bits", "group_size", "group_overhead_bits", "compute",
    "kv_capable", "unquantized", "serving_default", "source", "as_of", "notes",
)


PRECISION_KINDS = ("float", "float8", "w8a8", "weight-only")


def parse_precisions(text: str, path: str) -> Table[Precision]:
    problems: list[Problem] = []
    rows: dict[str, Precision] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    ids = []
    for line, data in read_csv(text, path, PRECISION_COLUMNS):
        r = CsvRow(path, line, data, problems)
        unq = tuple(u.strip() for u in (data.get("unquantized") or "").split(";") if u.strip())
        for u in unq:
            if u not in ("embeddings", "lm_head"):
                r._err("unquantized", f"unknown part {u!r}", "embeddings and/or lm_head")
        p = Precision(
            id=r.str("id"), aliases=r.aliases(), kind=r.choice("kind", PRECISION_KINDS),
            weight_bits=r.num("weight_bits") or 16.0,
            group_size=r.int("group_size", required=False) or None,
            group_overhead_bits=r.num("group_overhead_bits", required=False, positive=False) or 0.0,
            compute=r.choice("compute", COMPUTE_PRECISIONS), kv_capable=r.bool("kv_capable"),
            serving_default=r.bool("serving_default"), unquantized=unq, source=r.str("source"), as_of=r.date("as_of"), notes=r.str("notes", required=False),
        )
        ids.append((line, p.id))
        rows[p.id] = p
        aliases[p.id] = p.aliases
    problems += unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("precision", rows, build_index("precision", path, rows, aliases))


EFFICIENCY_COLUMNS = (
    "family", "bw_eff", "decode_mfu", "prefill_mfu", "comm_eff", "step_overhead_ms", "source", "as_of", "notes",
)


def parse_efficiency(text: str, path: str) -> dict[str, Efficiency]:
    problems: list[Problem] = []
    out: dict[str, Efficiency] = {}
    for line, data in read_csv(text, path, EFFICIENCY_COLUMNS):
        r = CsvRow(path, line, data, problems)
        fam = r.choice("family", ("default", *GPU_FAMILIES))
        vals = {}
        for col in ("bw_eff", "decode_mfu", "prefill_mfu", "comm_eff"):
            v = r.num(col)
            if v is not None and v > 1:
                r._err(col, f"must be a fraction in (0, 1] (got {v})")
            vals[col] = v or 0.0
        out[fam] = Efficiency(
            family=fam, step_overhead_ms=r.num("step_overhead_ms", positive=False) or 0.0,
            source=r.str("source"), as_of=r.date("as_of"), notes=r.str("notes", required=False), **vals,
        )
    if "default" not in out:
        problems.append(Problem("no 'default' row", file=path, key="family"))
    if problems:
        raise CatalogError(problems)
    return out
