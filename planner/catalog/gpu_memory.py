"""Memory as the engine counts it: the driver-reported capacity of each GPU
(`catalog/gpu_memory_reported.csv`) and the fitted memory terms of the engine
(`catalog/memory_terms.csv`, written by `tools/fit_memory.py`).

A GPU sold as "80 GB" shows the engine less than 80 GiB: the driver keeps part of the memory (and
GDDR with ECC on gives up part of it to the check bits). vLLM sizes its KV cache from
`gpu_memory_utilization x total memory` as `torch.cuda.mem_get_info()` reports it, so that total is
what capacity is computed from. GPUs with a sourced figure use it; every other GPU gets the stated
rule `datasheet GB read as GiB x reported fraction of its memory class` (HBM or GDDR), the
fractions being the medians of the sourced GPUs of that class (fitted by `tools/fit_memory.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from planner.catalog.gpus import Gpu
from planner.catalog.tables import CsvRow, Table, read_csv
from planner.errors import CatalogError, Problem

REPORTED_COLUMNS = ("gpu", "reported_gib", "source", "as_of", "confidence", "notes")
TERM_COLUMNS = ("term", "value", "unit", "source", "as_of", "notes")


@dataclass(frozen=True)
class ReportedMemory:
    """One row of gpu_memory_reported.csv: the total memory the driver reports for a GPU."""

    gpu: str
    reported_gib: float
    source: str
    as_of: str
    confidence: str
    notes: str = ""


@dataclass(frozen=True)
class MemoryTerms:
    """The engine's memory terms (vLLM V1's memory profile), one number each, with where they come from.

    See `planner.perf.memory` for the formulas that use them.
    """

    sampler_bytes_per_logit: float
    """Peak bytes of the profiling run's sampler per logit (sequences x vocabulary)."""
    forward_activation_factor: float
    """Multiplier on the live tensors of one forward pass, tokens x (2 hidden + 3 intermediate / TP) x dtype bytes."""
    nontorch_gib_tp1: float
    """Memory outside PyTorch's allocator (CUDA context, cuBLAS workspaces) per GPU at TP 1, on the stage that samples."""
    nontorch_gib_tp2plus: float
    """The same at TP >= 2, NCCL and custom all-reduce buffers included."""
    nontorch_gib_pp_stage: float
    """The same on a pipeline stage that does not sample (every stage but the last)."""
    reported_fraction_hbm: float
    """Defaulted capacity rule: reported GiB / datasheet GB for HBM GPUs with no sourced figure."""
    reported_fraction_gddr: float
    """The same for GDDR GPUs."""
    source: str = ""
    as_of: str = ""

    @staticmethod
    def fields() -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(MemoryTerms) if f.name not in ("source", "as_of"))


TERM_UNITS = {
    "sampler_bytes_per_logit": "bytes", "forward_activation_factor": "1", "nontorch_gib_tp1": "GiB",
    "nontorch_gib_tp2plus": "GiB", "nontorch_gib_pp_stage": "GiB", "reported_fraction_hbm": "1",
    "reported_fraction_gddr": "1",
}


def memory_class(gpu: Gpu) -> str:
    """`hbm` or `gddr`, from the catalogue's `mem_type` (HBM2, HBM3e ... vs GDDR6, GDDR7 ECC ...)."""
    return "hbm" if gpu.mem_type.strip().lower().startswith("hbm") else "gddr"


def parse_reported(text: str, path: str, gpus: Table[Gpu]) -> dict[str, ReportedMemory]:
    """Rows of gpu_memory_reported.csv by GPU id; every GPU must be in the catalogue, once, and its
    reported figure at most its datasheet GB read as GiB x 1.01 (a driver never reports more)."""
    problems: list[Problem] = []
    out: dict[str, ReportedMemory] = {}
    for line, data in read_csv(text, path, REPORTED_COLUMNS):
        r = CsvRow(path, line, data, problems)
        row = ReportedMemory(gpu=r.str("gpu"), reported_gib=r.num("reported_gib") or 0.0, source=r.str("source"),
                             as_of=r.date("as_of"), confidence=r.choice("confidence", ("high", "medium", "low")),
                             notes=r.str("notes", required=False))
        gpu = gpus.rows.get(row.gpu)
        if row.gpu and gpu is None:
            problems.append(Problem(f"unknown gpu {row.gpu!r}", file=path, line=line, key="gpu",
                                    expected="an id of catalog/gpus.csv"))
        elif row.gpu in out:
            problems.append(Problem(f"gpu {row.gpu!r} appears twice", file=path, line=line, key="gpu"))
        elif gpu is not None and row.reported_gib > gpu.mem_gb * 1.01:
            problems.append(Problem(f"reported_gib {row.reported_gib:g} is more than the datasheet {gpu.mem_gb:g} GB "
                                    "read as GiB", file=path, line=line, key="reported_gib"))
        else:
            out[row.gpu] = row
    if problems:
        raise CatalogError(problems)
    return out


def parse_terms(text: str, path: str) -> MemoryTerms:
    """memory_terms.csv: one row per term of `MemoryTerms`, each once, positive, with its source and date."""
    problems: list[Problem] = []
    values: dict[str, float] = {}
    sources: set[str] = set()
    dates: set[str] = set()
    names = MemoryTerms.fields()
    for line, data in read_csv(text, path, TERM_COLUMNS):
        r = CsvRow(path, line, data, problems)
        term = r.choice("term", names)
        value = r.num("value")
        r.choice("unit", (TERM_UNITS.get(term, ""),)) if term in names else None
        sources.add(r.str("source"))
        dates.add(r.date("as_of"))
        if term in values:
            problems.append(Problem(f"term {term!r} appears twice", file=path, line=line, key="term"))
        elif term in names and value is not None:
            values[term] = value
    missing = [n for n in names if n not in values]
    if missing and not problems:
        problems.append(Problem(f"missing terms: {', '.join(missing)}", file=path, line=1,
                                expected="one row per term (python tools/fit_memory.py --write)"))
    if problems:
        raise CatalogError(problems)
    return MemoryTerms(**values, source="; ".join(sorted(s for s in sources if s)),
                       as_of=max(d for d in dates if d) if any(dates) else "")


def terms_csv(terms: MemoryTerms, notes: dict[str, str]) -> str:
    """memory_terms.csv text for `terms` (what `tools/fit_memory.py --write` writes)."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(TERM_COLUMNS)
    for name in MemoryTerms.fields():
        w.writerow([name, f"{getattr(terms, name):.4f}", TERM_UNITS[name], terms.source, terms.as_of, notes.get(name, "")])
    return out.getvalue()


def with_reported_memory(gpus: Table[Gpu], reported: dict[str, ReportedMemory], terms: MemoryTerms) -> Table[Gpu]:
    """The GPU table with `mem_reported_gib` set on every GPU: its sourced figure, else the defaulted
    rule (datasheet GB read as GiB x the reported fraction of its memory class), said in
    `mem_reported_note`."""
    rows = {}
    for gid, g in gpus.rows.items():
        row = reported.get(gid)
        if row is not None:
            rows[gid] = dataclasses.replace(g, mem_reported_gib=row.reported_gib,
                                            mem_reported_note=f"reported {row.reported_gib:g} GiB ({row.source})")
        else:
            kind = memory_class(g)
            fraction = terms.reported_fraction_hbm if kind == "hbm" else terms.reported_fraction_gddr
            rows[gid] = dataclasses.replace(
                g, mem_reported_gib=round(g.mem_gb * fraction, 4),
                mem_reported_note=(f"defaulted: {g.mem_gb:g} GB read as GiB x {fraction:g} (median reported fraction "
                                   f"of the sourced {kind.upper()} GPUs in catalog/gpu_memory_reported.csv)"))
    return dataclasses.replace(gpus, rows=rows)
