"""Precisions (`precisions.csv`) and per-family efficiency factors (`efficiency.csv`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from planner.catalog.gpus import COMPUTE_PRECISIONS, GPU_FAMILIES, Gpu
from planner.catalog.tables import CsvRow, Table, build_index, read_csv, unique_ids
from planner.errors import CatalogError, InputError, Problem


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
    fallback_compute: str | None = None
    """Compute format used on a GPU without a `compute` tensor path (weight-only mode: the
    weights are dequantised to this format for the matmul, as vLLM's Marlin FP4 kernels do
    on Turing to Hopper); None: such a GPU cannot run the precision."""

    def compute_on(self, gpu: Gpu) -> str:
        """The compute format this precision runs in on `gpu`: `compute` where the GPU has that
        tensor path, else `fallback_compute` when set (and `compute` otherwise, which the GPU
        then rejects). E.g. nvfp4 computes in nvfp4 on a B200 and in fp16 on an H100."""
        if self.fallback_compute and not gpu.supports(self.compute):
            return self.fallback_compute
        return self.compute

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
    "kv_capable", "unquantized", "serving_default", "source", "as_of", "notes", "fallback_compute",
)


PRECISION_KINDS = ("float", "float8", "w8a8", "weight-only", "microscaled-fp4")


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
            fallback_compute=r.choice("fallback_compute", COMPUTE_PRECISIONS) if (data.get("fallback_compute") or "").strip() else None,
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


EFFICIENCY_FACTORS = ("bw_eff", "decode_mfu", "prefill_mfu", "comm_eff", "step_overhead_ms")
"""The factor columns, in file order."""


def efficiency_csv(rows: list[Efficiency]) -> str:
    """`rows` as an efficiency table (EFFICIENCY_COLUMNS; factors to 4 decimals): the text of
    catalog/efficiency.csv and of a calibration overlay."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EFFICIENCY_COLUMNS)
    for e in rows:
        w.writerow([e.family, *(f"{getattr(e, k):.4f}" for k in EFFICIENCY_FACTORS), e.source, e.as_of, e.notes])
    return buf.getvalue()


def parse_efficiency(text: str, path: str, require_default: bool = True,
                     error: type[InputError] = CatalogError) -> dict[str, Efficiency]:
    """Family → factors from an efficiency table; every defect located and raised at once as
    `error`. `require_default`: the table must have a `default` row (the shipped one must; a
    calibration overlay need not). A family given twice is an error."""
    problems: list[Problem] = []
    lines: dict[str, int] = {}
    out: dict[str, Efficiency] = {}
    for line, data in read_csv(text, path, EFFICIENCY_COLUMNS, error=error):
        r = CsvRow(path, line, data, problems)
        fam = r.choice("family", ("default", *GPU_FAMILIES))
        if fam in lines:
            r._err("family", f"{fam!r} given twice (first at line {lines[fam]})", "one row per family")
        lines.setdefault(fam, line)
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
    if require_default and "default" not in out:
        problems.append(Problem("no 'default' row", file=path, key="family"))
    if problems:
        raise error(problems)
    return out
