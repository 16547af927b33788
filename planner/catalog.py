"""The shipped catalogue: GPUs, models, precisions and efficiency factors, with name resolution.

Every table is a CSV under `catalog/` (shipped in the wheel as `planner._catalog`). Each row carries
a `source` and an `as_of` date. Rows are validated on load; a malformed row is reported as
`catalog/<file>.csv:<line>: <column>: what is wrong`.

Names resolve case-insensitively, with spaces and underscores read as hyphens, against ids and
aliases; an unknown name gets a did-you-mean.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Generic, TypeVar

from planner.errors import CatalogError, InputError, Problem, UnsupportedError

UNSUPPORTED = "unsupported"
"""Marker in a throughput column: the hardware has no tensor path for that format."""

COMPUTE_PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8", "int4")
"""Compute formats a GPU may run natively; each has a `<name>_tflops` or `<name>_tops` column."""


def normalise_name(name: str) -> str:
    """Canonical form for matching names: lower case, runs of spaces/underscores as one hyphen.
    Slashes are kept, so Hugging Face repo ids (`meta-llama/Llama-3.1-8B`) match as written."""
    s = name.strip().lower()
    s = re.sub(r"[\s_]+", "-", s)
    s = re.sub(r"-+", "-", s)
    return s.strip("-")


# --------------------------------------------------------------------------------------------
# Row types
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Model:
    """A transformer's architecture, as in its Hugging Face config.json."""

    id: str
    name: str
    aliases: tuple[str, ...]
    family: str
    params_b: float
    active_params_b: float
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tied_embeddings: bool
    max_context: int
    attention: str
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    n_experts: int = 0
    n_experts_active: int = 0
    n_shared_experts: int = 0
    moe_intermediate_size: int = 0
    n_dense_layers: int = 0
    confidence: str = ""
    source: str = ""
    as_of: str = ""
    notes: str = ""

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def embedding_params(self) -> float:
        """Parameters in the input embedding and (if untied) the output head."""
        return self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2)

    @property
    def expert_params_each(self) -> float:
        """Parameters of one routed expert in one layer (gate, up, down projections)."""
        return 3.0 * self.hidden_size * self.moe_intermediate_size if self.is_moe else 0.0

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0


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


# --------------------------------------------------------------------------------------------
# CSV parsing with located errors
# --------------------------------------------------------------------------------------------

T = TypeVar("T")


class _Row:
    """Typed access to one CSV row; collects problems instead of raising on the first."""

    def __init__(self, path: str, line: int, data: dict[str, str], problems: list[Problem]):
        self.path, self.line, self.data, self.problems = path, line, data, problems

    def _err(self, col: str, msg: str, expected: str | None = None) -> None:
        self.problems.append(Problem(msg, file=self.path, line=self.line, key=col, expected=expected))

    def str(self, col: str, required: bool = True) -> str:
        value = (self.data.get(col) or "").strip()
        if required and not value:
            self._err(col, "is empty", "a value")
        return value

    def num(self, col: str, required: bool = True, positive: bool = True) -> float | None:
        raw = (self.data.get(col) or "").strip()
        if not raw:
            if required:
                self._err(col, "is empty", "a number")
            return None
        try:
            value = float(raw)
        except ValueError:
            self._err(col, f"not a number (got {raw!r})", "a number")
            return None
        if not math.isfinite(value):
            self._err(col, f"not a finite number (got {raw!r})", "a number")
            return None
        if positive and value <= 0:
            self._err(col, f"must be > 0 (got {raw})")
            return None
        return value

    def int(self, col: str, required: bool = True, default: int = 0) -> int:
        raw = (self.data.get(col) or "").strip()
        if not raw:
            if required:
                self._err(col, "is empty", "an integer")
            return default
        try:
            return int(float(raw)) if float(raw).is_integer() else self._bad_int(col, raw)
        except ValueError:
            return self._bad_int(col, raw)

    def _bad_int(self, col: str, raw: str) -> int:
        self._err(col, f"not an integer (got {raw!r})", "an integer")
        return 0

    def bool(self, col: str) -> bool:
        raw = (self.data.get(col) or "").strip().lower()
        if raw in ("true", "yes", "1"):
            return True
        if raw in ("false", "no", "0", ""):
            return False
        self._err(col, f"not a boolean (got {raw!r})", "true or false")
        return False

    def choice(self, col: str, allowed: Iterable[str]) -> str:
        value = self.str(col)
        allowed = tuple(allowed)
        if value and value not in allowed:
            self._err(col, f"unknown value {value!r}", "one of " + ", ".join(allowed))
        return value

    def date(self, col: str) -> str:
        value = self.str(col)
        if value and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
            self._err(col, f"not a date (got {value!r})", "YYYY-MM-DD")
        return value

    def aliases(self, col: str = "aliases") -> tuple[str, ...]:
        raw = self.data.get(col) or ""
        return tuple(a.strip() for a in raw.split(";") if a.strip())


def _read_csv(text: str, path: str, required_cols: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required_cols if c not in (reader.fieldnames or [])]
    if missing:
        raise CatalogError(
            [Problem(f"missing column(s): {', '.join(missing)}", file=path, line=1)]
        )
    rows, problems = [], []
    for data in reader:
        if None in data:
            problems.append(Problem(f"{len(data[None])} cell(s) more than the header has (an unquoted comma?)",
                                    file=path, line=reader.line_num))
        rows.append((reader.line_num, data))
    if problems:
        raise CatalogError(problems)
    return rows


@dataclass
class Table(Generic[T]):
    """Rows by id, plus a name index (ids and aliases, normalised) for resolution."""

    kind: str
    rows: dict[str, T]
    index: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> T:
        """The row named `name` (id or alias, any case); CatalogError with did-you-mean otherwise."""
        key = normalise_name(name)
        if key in self.index:
            return self.rows[self.index[key]]
        raise CatalogError(self.unknown_message(name))

    def get(self, name: str) -> T | None:
        key = normalise_name(name)
        return self.rows[self.index[key]] if key in self.index else None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(normalise_name(name), list(self.index), n=5, cutoff=0.55)
        ids: list[str] = []
        for c in close:
            rid = self.index[c]
            if rid not in ids:
                ids.append(rid)
        hint = f" Did you mean: {', '.join(ids[:3])}?" if ids else ""
        return (
            f"unknown {self.kind} {name!r}.{hint} "
            f"Hint: `planner catalog {self.kind}s` lists them all."
        )


def _build_index(kind: str, path: str, rows: dict[str, object], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    problems: list[Problem] = []
    for rid in rows:
        index[normalise_name(rid)] = rid
    for rid, names in aliases.items():
        for a in names:
            key = normalise_name(a)
            owner = index.get(key)
            if owner is not None and owner != rid:
                problems.append(
                    Problem(f"alias {a!r} of {rid} also names {owner}", file=path, key="aliases")
                )
            index[key] = rid
    if problems:
        raise CatalogError(problems)
    return index


def _unique_ids(path: str, parsed: list[tuple[int, str]]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for line, rid in parsed:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._\-]*", rid):
            problems.append(Problem(f"id {rid!r} is not lower-case kebab", file=path, line=line, key="id"))
        if rid in seen:
            problems.append(Problem(f"duplicate id {rid!r} (first at line {seen[rid]})", file=path, line=line, key="id"))
        seen.setdefault(rid, line)
    return problems


# --------------------------------------------------------------------------------------------
# GPUs
# --------------------------------------------------------------------------------------------

GPU_FAMILIES = ("volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "cdna4", "gaudi3")
SCALEUP_KINDS = ("nvlink", "nvlink-bridge", "infinity-fabric", "ethernet", "pcie")
GPU_COLUMNS = (
    "id", "name", "aliases", "vendor", "architecture", "family", "form_factor", "mem_gb", "mem_type",
    "mem_bw_gb_per_s", "fp32_tflops", "fp16_tflops", "bf16_tflops", "fp8_tflops", "int8_tops",
    "int4_tops", "tdp_w", "scaleup_kind", "scaleup_name", "scaleup_bw_gb_per_s_bidir",
    "scaleup_domain_gpus", "pcie_gen", "pcie_bw_gb_per_s_bidir", "gpus_per_server", "geforce_eula",
    "market", "confidence", "source", "as_of", "notes",
)
_THROUGHPUT_COLUMN = {
    "fp32": "fp32_tflops", "fp16": "fp16_tflops", "bf16": "bf16_tflops",
    "fp8": "fp8_tflops", "int8": "int8_tops", "int4": "int4_tops",
}


def parse_gpus(text: str, path: str) -> Table[Gpu]:
    problems: list[Problem] = []
    rows: dict[str, Gpu] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    ids = []
    for line, data in _read_csv(text, path, GPU_COLUMNS):
        r = _Row(path, line, data, problems)
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
    problems += _unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("gpu", rows, _build_index("gpu", path, rows, aliases))


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

ATTENTION_KINDS = ("mha", "gqa", "mqa", "mla")
MODEL_COLUMNS = (
    "id", "name", "aliases", "family", "params_b", "active_params_b", "n_layers", "hidden_size",
    "n_heads", "n_kv_heads", "head_dim", "intermediate_size", "vocab_size", "tied_embeddings",
    "max_context", "attention", "kv_lora_rank", "qk_rope_head_dim", "v_head_dim", "n_experts",
    "n_experts_active", "n_shared_experts", "moe_intermediate_size", "n_dense_layers", "confidence",
    "source", "as_of", "notes",
)


def parse_models(text: str, path: str) -> Table[Model]:
    problems: list[Problem] = []
    rows: dict[str, Model] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    ids = []
    for line, data in _read_csv(text, path, MODEL_COLUMNS):
        r = _Row(path, line, data, problems)
        attention = r.choice("attention", ATTENTION_KINDS)
        mla = attention == "mla"
        model = Model(
            id=r.str("id"), name=r.str("name"), aliases=r.aliases(), family=r.str("family"),
            params_b=r.num("params_b") or 0.0, active_params_b=r.num("active_params_b") or 0.0,
            n_layers=r.int("n_layers"), hidden_size=r.int("hidden_size"), n_heads=r.int("n_heads"),
            n_kv_heads=r.int("n_kv_heads"), head_dim=r.int("head_dim"),
            intermediate_size=r.int("intermediate_size"), vocab_size=r.int("vocab_size"),
            tied_embeddings=r.bool("tied_embeddings"), max_context=r.int("max_context"),
            attention=attention,
            kv_lora_rank=r.int("kv_lora_rank", required=mla) or None,
            qk_rope_head_dim=r.int("qk_rope_head_dim", required=mla) or None,
            v_head_dim=r.int("v_head_dim", required=False) or None,
            n_experts=r.int("n_experts", required=False), n_experts_active=r.int("n_experts_active", required=False),
            n_shared_experts=r.int("n_shared_experts", required=False),
            moe_intermediate_size=r.int("moe_intermediate_size", required=False),
            n_dense_layers=r.int("n_dense_layers", required=False),
            confidence=r.str("confidence", required=False), source=r.str("source"), as_of=r.date("as_of"),
            notes=r.str("notes", required=False),
        )
        problems += validate_model(model, path, line)
        ids.append((line, model.id))
        rows[model.id] = model
        aliases[model.id] = model.aliases
    problems += _unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("model", rows, _build_index("model", path, rows, aliases))


def validate_model(m: Model, path: str | None, line: int | None) -> list[Problem]:
    """Cross-field checks of an architecture; returns the problems found."""
    out = []

    def bad(key: str, msg: str) -> None:
        out.append(Problem(msg, file=path, line=line, key=key))

    for key in ("n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim", "vocab_size", "max_context"):
        if getattr(m, key) <= 0:
            bad(key, f"must be > 0 (got {getattr(m, key)})")
    if m.n_kv_heads > m.n_heads > 0:
        bad("n_kv_heads", f"more KV heads ({m.n_kv_heads}) than attention heads ({m.n_heads})")
    if m.n_kv_heads > 0 and m.n_heads % m.n_kv_heads and m.attention != "mla":
        bad("n_kv_heads", f"{m.n_heads} heads are not a multiple of {m.n_kv_heads} KV heads")
    if m.active_params_b > m.params_b * 1.0001:
        bad("active_params_b", f"active ({m.active_params_b}) exceeds total ({m.params_b})")
    if m.n_experts > 1 and not (0 < m.n_experts_active <= m.n_experts):
        bad("n_experts_active", f"must be in 1..{m.n_experts} for a MoE model (got {m.n_experts_active})")
    if m.n_experts > 1 and m.moe_intermediate_size <= 0:
        bad("moe_intermediate_size", "must be > 0 for a MoE model")
    return out


# --------------------------------------------------------------------------------------------
# Precisions and efficiency factors
# --------------------------------------------------------------------------------------------

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
    for line, data in _read_csv(text, path, PRECISION_COLUMNS):
        r = _Row(path, line, data, problems)
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
    problems += _unique_ids(path, ids)
    if problems:
        raise CatalogError(problems)
    return Table("precision", rows, _build_index("precision", path, rows, aliases))


EFFICIENCY_COLUMNS = (
    "family", "bw_eff", "decode_mfu", "prefill_mfu", "comm_eff", "step_overhead_ms", "source", "as_of", "notes",
)


def parse_efficiency(text: str, path: str) -> dict[str, Efficiency]:
    problems: list[Problem] = []
    out: dict[str, Efficiency] = {}
    for line, data in _read_csv(text, path, EFFICIENCY_COLUMNS):
        r = _Row(path, line, data, problems)
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


# --------------------------------------------------------------------------------------------
# Hugging Face config.json
# --------------------------------------------------------------------------------------------


def read_user_text(path: Path) -> str:
    """A user's file as UTF-8 text; unreadable or non-UTF-8 files are input errors, not crashes."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(Problem(f"cannot read file: {exc.strerror}", file=str(path))) from None
    except UnicodeDecodeError as exc:
        raise InputError(Problem(f"not UTF-8 text (byte {exc.start})", file=str(path))) from None


def model_from_hf_config(path: Path) -> Model:
    """Build a Model from a Hugging Face `config.json` (Llama/Qwen/Mistral/Mixtral/Gemma/DeepSeek styles).

    Parameter counts are computed from the dimensions (see `planner.perf.param_count`).
    """
    from planner import perf  # local import: perf depends on catalog types only

    name = str(path)
    text = read_user_text(path)
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"not valid JSON: {exc.msg}", file=name, line=exc.lineno, col=exc.colno)) from None
    if not isinstance(cfg, dict):
        raise InputError(Problem("top level must be a JSON object", file=name, line=1, col=1))
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers keep the LM config inside
        cfg = {**cfg["text_config"]}
    problems: list[Problem] = []

    def line_of(key: str) -> int | None:
        m = re.search(r'"' + re.escape(key) + r'"\s*:', text)
        return text.count("\n", 0, m.start()) + 1 if m else None

    def get_int(key: str, *alts: str, default: int | None = None, required: bool = True) -> int:
        for k in (key, *alts):
            if k in cfg and cfg[k] is not None:
                v = cfg[k]
                if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                        or v < 0 or float(v) != int(v)):
                    problems.append(Problem(f"must be a non-negative integer (got {v!r})", file=name, line=line_of(k), key=k))
                    return 0
                return int(v)
        if default is not None or not required:
            return default or 0
        problems.append(Problem("missing", file=name, key=key, expected="an integer field " + " or ".join((key, *alts))))
        return 0

    hidden = get_int("hidden_size", "n_embd", "d_model")
    n_layers = get_int("num_hidden_layers", "n_layer", "num_layers")
    n_heads = get_int("num_attention_heads", "n_head")
    n_kv = get_int("num_key_value_heads", "multi_query_group_num", default=n_heads or 1)
    inter = get_int("intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden if hidden else 1)
    vocab = get_int("vocab_size", "padded_vocab_size")
    max_ctx = get_int("max_position_embeddings", "seq_length", "n_positions", default=4096)
    head_dim = get_int("head_dim", default=(hidden // n_heads) if n_heads else 1)
    kv_lora = get_int("kv_lora_rank", required=False)
    rope_dim = get_int("qk_rope_head_dim", required=False)
    nope_dim = get_int("qk_nope_head_dim", required=False)
    v_dim = get_int("v_head_dim", required=False)
    n_experts = get_int("num_local_experts", "n_routed_experts", "num_experts", required=False)
    top_k = get_int("num_experts_per_tok", "num_experts_per_token", "moe_topk", required=False)
    n_shared = get_int("n_shared_experts", "num_shared_experts", required=False)
    moe_inter = get_int("moe_intermediate_size", required=False) or (inter if n_experts > 1 else 0)
    n_dense = get_int("first_k_dense_replace", required=False)
    tied = bool(cfg.get("tie_word_embeddings", False))
    if problems:
        raise InputError(problems)
    attention = "mla" if kv_lora else ("mha" if n_kv == n_heads else ("mqa" if n_kv == 1 else "gqa"))
    if attention == "mla":
        head_dim = (nope_dim + rope_dim) or head_dim
    stem = path.parent.name if path.name == "config.json" else path.stem
    model_id = normalise_name(str(cfg.get("_name_or_path") or stem)).replace("/", "-") or "custom"
    base = Model(
        id=model_id, name=stem, aliases=(), family=str(cfg.get("model_type", "custom")), params_b=1.0,
        active_params_b=1.0, n_layers=n_layers, hidden_size=hidden, n_heads=n_heads, n_kv_heads=n_kv,
        head_dim=head_dim, intermediate_size=inter, vocab_size=vocab, tied_embeddings=tied,
        max_context=max_ctx, attention=attention, kv_lora_rank=kv_lora or None,
        qk_rope_head_dim=rope_dim or None, v_head_dim=v_dim or None, n_experts=n_experts if n_experts > 1 else 0,
        n_experts_active=top_k if n_experts > 1 else 0, n_shared_experts=n_shared,
        moe_intermediate_size=moe_inter if n_experts > 1 else 0, n_dense_layers=n_dense,
        confidence="user", source=name, as_of="", notes="read from a Hugging Face config.json",
    )
    total, active = perf.param_count(base)
    model = dataclasses.replace(base, params_b=total / 1e9, active_params_b=active / 1e9)
    problems = validate_model(model, name, None)
    if problems:
        raise InputError(problems)
    return model


# --------------------------------------------------------------------------------------------
# The catalogue as a whole
# --------------------------------------------------------------------------------------------


@dataclass
class Catalog:
    gpus: Table[Gpu]
    models: Table[Model]
    precisions: Table[Precision]
    efficiency: dict[str, Efficiency]

    def gpu(self, name: str) -> Gpu:
        return self.gpus.resolve(name)

    def model(self, name: str) -> Model:
        """A catalogue model by name, or a model read from a path to a Hugging Face config.json."""
        if name.endswith(".json") or "/" in name and Path(name).exists():
            path = Path(name)
            if path.is_dir():
                path = path / "config.json"
            if path.suffix == ".json":
                if not path.exists():
                    raise InputError(Problem("no such file", file=str(path)))
                return model_from_hf_config(path)
        return self.models.resolve(name)

    def precision(self, name: str) -> Precision:
        return self.precisions.resolve(name)

    def efficiency_for(self, gpu: Gpu) -> Efficiency:
        return self.efficiency.get(gpu.family, self.efficiency["default"])


def _data_text(filename: str) -> tuple[str, str]:
    """Text of a shipped catalogue file: from the source tree's catalog/ when run from a checkout
    (or an editable install), else from the wheel's `planner._catalog` package."""
    local = Path(__file__).resolve().parent.parent / "catalog" / filename
    if local.is_file():
        return local.read_text(encoding="utf-8"), f"catalog/{filename}"
    res = resources.files("planner._catalog").joinpath(filename)
    return res.read_text(encoding="utf-8"), f"catalog/{filename}"


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The shipped catalogue (cached)."""
    return Catalog(
        gpus=parse_gpus(*_data_text("gpus.csv")),
        models=parse_models(*_data_text("models.csv")),
        precisions=parse_precisions(*_data_text("precisions.csv")),
        efficiency=parse_efficiency(*_data_text("efficiency.csv")),
    )
