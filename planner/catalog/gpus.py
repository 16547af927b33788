"""GPUs: the `gpus.csv` row type and its parser."""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.tables import CsvRow, Table, build_index, read_csv, unique_ids
from planner.errors import CatalogError, Problem, UnsupportedError

UNSUPPORTED = "unsupported"
"""Marker in a throughput column: the hardware has no tensor path for that format."""


COMPUTE_PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8", "int4", "nvfp4", "mxfp4")
"""Compute formats a GPU may run natively; each has a `<name>_tflops` or `<name>_tops` column.
`nvfp4` and `mxfp4` are the block-scaled FP4 (E2M1) tensor paths: NVIDIA's (16-value blocks, E4M3
scales) and the OCP Microscaling one (32-value blocks, E8M0 scales)."""


@dataclass(frozen=True)
class Gpu:
    """One GPU SKU. Throughputs are dense (never "with sparsity"), per GPU."""

    id: str
    name: str
    aliases: tuple[str, ...]
    vendor: str
    architecture: str
    family: str
    form_factor: str
    mem_gb: float
    mem_type: str
    mem_bw_gb_per_s: float
    peak_tflops: dict[str, float | None]
    """Dense peak per compute format; `None` where unknown. Formats the GPU cannot run are absent
    from this dict and listed in `unsupported`."""
    unsupported: frozenset[str]
    tdp_w: float | None
    scaleup_kind: str
    scaleup_name: str
    scaleup_bw_gb_per_s_bidir: float | None
    scaleup_domain_gpus: int
    pcie_gen: str
    pcie_bw_gb_per_s_bidir: float | None
    gpus_per_server: int
    geforce_eula: bool
    market: str
    confidence: str
    source: str
    as_of: str
    notes: str = ""
    mem_reported_gib: float | None = None
    """Total memory the driver reports (GiB), what the engine sizes its KV cache from; set by the
    catalogue from catalog/gpu_memory_reported.csv or its stated default rule
    (`planner.catalog.gpu_memory`). None on a GPU built outside the catalogue."""
    mem_reported_note: str = ""
    """Where `mem_reported_gib` comes from: the sourced figure, or the defaulted rule."""

    def supports(self, compute: str) -> bool:
        """True when the GPU has a known dense throughput for compute format `compute`."""
        return compute not in self.unsupported and self.peak_tflops.get(compute) is not None

    def tflops(self, compute: str) -> float:
        """Dense peak TFLOPS (or TOPS) for `compute`; raises UnsupportedError if it cannot run it."""
        if compute in self.unsupported:
            raise UnsupportedError(
                f"{self.name} has no tensor path for {compute} (catalogue: unsupported)"
            )
        value = self.peak_tflops.get(compute)
        if value is None:
            raise UnsupportedError(
                f"{self.name}: the catalogue has no {compute} throughput figure (vendor lists none)"
            )
        return value


GPU_FAMILIES = ("volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "cdna4", "gaudi3")


SCALEUP_KINDS = ("nvlink", "nvlink-bridge", "infinity-fabric", "ethernet", "pcie")


GPU_COLUMNS = (
    "id", "name", "aliases", "vendor", "architecture", "family", "form_factor", "mem_gb", "mem_type",
    "mem_bw_gb_per_s", "fp32_tflops", "fp16_tflops", "bf16_tflops", "fp8_tflops", "int8_tops",
    "int4_tops", "tdp_w", "scaleup_kind", "scaleup_name", "scaleup_bw_gb_per_s_bidir",
    "scaleup_domain_gpus", "pcie_gen", "pcie_bw_gb_per_s_bidir", "gpus_per_server", "geforce_eula",
    "market", "confidence", "source", "as_of", "notes", "nvfp4_tflops", "mxfp4_tflops",
)


_THROUGHPUT_COLUMN = {
    "fp32": "fp32_tflops", "fp16": "fp16_tflops", "bf16": "bf16_tflops",
    "fp8": "fp8_tflops", "int8": "int8_tops", "int4": "int4_tops",
    "nvfp4": "nvfp4_tflops", "mxfp4": "mxfp4_tflops",
}


def parse_gpus(text: str, path: str) -> Table[Gpu]:
    problems: list[Problem] = []
    rows: dict[str, Gpu] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    ids = []
    for line, data in read_csv(text, path, GPU_COLUMNS):
        r = CsvRow(path, line, data, problems)
        peak: dict[str, float | None] = {}
        unsupported = set()
        for compute, col in _THROUGHPUT_COLUMN.items():
            raw = (data.get(col) or "").strip()
            if raw.lower() == UNSUPPORTED:
                unsupported.add(compute)
            else:
                peak[compute] = r.num(col, required=False)
        gpu = Gpu(
            id=r.str("id"), name=r.str("name"), aliases=r.aliases(), vendor=r.str("vendor"),
            architecture=r.str("architecture"), family=r.choice("family", GPU_FAMILIES),
            form_factor=r.str("form_factor"), mem_gb=r.num("mem_gb") or 0.0,
            mem_type=r.str("mem_type", required=False), mem_bw_gb_per_s=r.num("mem_bw_gb_per_s") or 0.0,
            peak_tflops=peak, unsupported=frozenset(unsupported), tdp_w=r.num("tdp_w", required=False),
            scaleup_kind=r.choice("scaleup_kind", SCALEUP_KINDS), scaleup_name=r.str("scaleup_name", required=False),
            scaleup_bw_gb_per_s_bidir=r.num("scaleup_bw_gb_per_s_bidir", required=False),
            scaleup_domain_gpus=r.int("scaleup_domain_gpus"), pcie_gen=r.str("pcie_gen", required=False),
            pcie_bw_gb_per_s_bidir=r.num("pcie_bw_gb_per_s_bidir", required=False),
            gpus_per_server=r.int("gpus_per_server"), geforce_eula=r.bool("geforce_eula"),
            market=r.choice("market", ("global", "china")), confidence=r.str("confidence", required=False),
            source=r.str("source"), as_of=r.date("as_of"), notes=r.str("notes", required=False),
        )
        if gpu.peak_tflops.get("fp16") is None and "fp16" not in gpu.unsupported:
            r._err("fp16_tflops", "is empty", "a dense FP16 tensor figure")
        ids.append((line, gpu.id))
        rows[gpu.id] = gpu
        aliases[gpu.id] = gpu.aliases
    problems += unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("gpu", rows, build_index("gpu", path, rows, aliases))
