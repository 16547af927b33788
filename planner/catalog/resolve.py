"""Resolve a loaded workload file against the catalogue: names → GPUs, models, precisions.

Every unknown name becomes a located problem (`file:line:col: key.path: unknown GPU ...; did you
mean ...`), all reported at once. GPU filters (allow, deny, datacenter_only, market) are applied
here; the GPUs they drop are kept with the reason, for the infeasibility diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.catalog.engines import Engine
from planner.catalog.gpus import Gpu
from planner.catalog.models import Model
from planner.catalog.precisions import Precision
from planner.catalog.store import Catalog
from planner.errors import InputError, Problem
from planner.spec.loader import LoadedSpec
from planner.spec.schema import ProblemSpec, Workload

ANY = "any"


@dataclass(frozen=True)
class ResolvedWorkload:
    """One workload with its names resolved. `precisions` is None when the file lists none
    (every precision the model and GPU allow)."""

    index: int
    spec: Workload
    model: Model
    precisions: tuple[Precision, ...] | None
    kv_precision: Precision | None
    max_utilization: float
    engine: Engine | None = None
    """The engine its replicas run (`workloads[].engine`, else `planning.engine`); None: vLLM."""
    demand_scale: float = 1.0
    """Multiplier of the workload's demand the plan is sized for (`planning.robustness` as a number)."""

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Resolved:
    """The workload file resolved against the catalogue."""

    loaded: LoadedSpec
    catalog: Catalog
    workloads: tuple[ResolvedWorkload, ...]
    gpus: tuple[Gpu, ...]
    """GPUs that pass the filters, in catalogue order."""
    filtered_out: dict[str, str]
    """GPU id → why the filters dropped it."""
    owned: dict[str, int]
    """GPU id → count on hand."""
    available: dict[str, int]
    """GPU id → at most this many in the plan (owned included)."""

    @property
    def spec(self) -> ProblemSpec:
        return self.loaded.spec


def resolve(loaded: LoadedSpec, cat: Catalog) -> Resolved:
    """Resolve every name in `loaded` against `cat`; raise one InputError listing all unknown names."""
    spec = loaded.spec
    problems: list[Problem] = []

    def lookup(fn, name: str, key: tuple):
        try:
            return fn(name)
        except InputError as exc:
            for p in exc.problems:
                problems.append(loaded.problem(key, p.message, p.expected))
            return None

    workloads = []
    for i, w in enumerate(spec.workloads):
        model = lookup(lambda n: model_named(cat, loaded.base_dir, n), w.model, ("workloads", i, "model"))
        precisions = None
        if w.precisions is not None:
            precisions = tuple(
                lookup(cat.precision, p, ("workloads", i, "precisions", j)) for j, p in enumerate(w.precisions)
            )
        kv = None
        if w.kv_precision is not None:
            kv = lookup(cat.precision, w.kv_precision, ("workloads", i, "kv_precision"))
            if kv is not None and not kv.kv_capable:
                problems.append(loaded.problem(
                    ("workloads", i, "kv_precision"), f"{kv.id} is not a KV-cache format",
                    "fp16, bf16, fp8 or int8"))
        engine_key = ("workloads", i, "engine") if w.engine is not None else ("planning", "engine")
        engine = lookup(cat.engine, w.engine or spec.planning.engine, engine_key)
        if model is not None and (precisions is None or all(precisions)):
            workloads.append(ResolvedWorkload(
                index=i, spec=w, model=model, precisions=precisions, kv_precision=kv, engine=engine,
                max_utilization=spec.max_utilization_for(w),
                demand_scale=r if not isinstance(r := spec.planning.robustness, str) else 1.0,
            ))

    f = spec.gpus
    allow_any = any(a.strip().lower() == ANY for a in f.allow)
    allowed_ids = set()
    for j, name in enumerate(f.allow):
        if name.strip().lower() != ANY:
            g = lookup(cat.gpu, name, ("gpus", "allow", j))
            if g is not None:
                allowed_ids.add(g.id)
    denied_ids = set()
    for j, name in enumerate(f.deny):
        g = lookup(cat.gpu, name, ("gpus", "deny", j))
        if g is not None:
            denied_ids.add(g.id)
    available = {}
    for name, count in f.available.items():
        g = lookup(cat.gpu, name, ("gpus", "available", name))
        if g is not None:
            available[g.id] = count
    owned: dict[str, int] = {}
    for j, o in enumerate(spec.owned):
        g = lookup(cat.gpu, o.gpu, ("owned", j, "gpu"))
        if g is not None:
            if g.id in owned:
                problems.append(loaded.problem(("owned", j, "gpu"), f"{g.id} is listed twice", "one entry per GPU type"))
            owned[g.id] = owned.get(g.id, 0) + o.count
    for gid, n in owned.items():
        if gid in available and available[gid] < n:
            problems.append(loaded.problem(
                ("gpus", "available", gid), f"allows {available[gid]} {gid} but {n} are owned",
                f"at least {n}"))
    if problems:
        raise InputError(problems)

    kept, dropped = [], {}
    for g in cat.gpus.rows.values():
        why = _filter_reason(g, allow_any, allowed_ids, denied_ids, f.datacenter_only, f.market)
        if why and g.id in owned:
            why = None  # GPUs on hand are always usable
        if why:
            dropped[g.id] = why
        else:
            kept.append(g)
    return Resolved(loaded=loaded, catalog=cat, workloads=tuple(workloads), gpus=tuple(kept),
                    filtered_out=dropped, owned=owned, available=available)


def _filter_reason(g: Gpu, allow_any: bool, allowed: set[str], denied: set[str],
                   datacenter_only: bool, market: str) -> str | None:
    if g.id in denied:
        return "denied by gpus.deny"
    if not allow_any and g.id not in allowed:
        return "not in gpus.allow"
    if datacenter_only and g.geforce_eula:
        return "GeForce licence forbids datacentre use (gpus.datacenter_only)"
    if market != ANY and g.market != market and g.id not in allowed:
        return f"sold in the {g.market} market, not {market} (gpus.market)"
    return None


def model_named(cat: Catalog, base_dir: Path, name: str) -> Model:
    """A catalogue model, or a Hugging Face config.json path relative to the workload file."""
    if name.endswith(".json") or "/" in name:
        candidate = Path(name) if Path(name).is_absolute() else base_dir / name
        if candidate.exists() or name.endswith(".json"):
            return cat.model(str(candidate))
    return cat.model(name)


def name_check(cat: Catalog):
    """The loader's name check (`planner.spec.loader.NameCheck`) for catalogue `cat`, so a file's
    unknown names are reported in the same pass as its schema errors: the messages `resolve` gives
    for an unknown name, or for a config.json with defects each of its located problems (resolve
    checks the names again; they then pass)."""
    unknown = 0

    def check(kind: str, name: str, base_dir: Path) -> list[tuple[str, str | None]]:
        nonlocal unknown
        table = {"model": None, "gpu": cat.gpus, "engine": cat.engines}.get(kind, cat.precisions)
        if table is not None and table.get(name) is None:
            unknown += 1  # past MAX_SUGGESTED names a file holds no typo but junk: no did-you-mean
            return [(table.unknown_message(name, suggest=unknown <= MAX_SUGGESTED), None)]
        try:
            if kind == "model":
                model_named(cat, base_dir, name)
            elif kind == "kv_precision" and not (precision := cat.precision(name)).kv_capable:
                return [(f"{precision.id} is not a KV-cache format", "fp16, bf16, fp8 or int8")]
        except InputError as exc:
            return [(str(p), None) if p.file else (p.message, p.expected) for p in exc.problems]
        return []

    return check


MAX_SUGGESTED = 100
"""Unknown names in one file that get a did-you-mean (about a millisecond each against the whole
catalogue); the rest are reported without one, so a file of thousands of names stays fast."""


def catalog_names(cat: Catalog) -> dict[str, list[str]]:
    """The catalogue ids a workload file may name, by kind (`gpu`, `model`, `precision`,
    `kv_precision`, `engine`), sorted: the `examples` of the names in the workload JSON Schema."""
    return {
        "gpu": sorted(cat.gpus.rows),
        "model": sorted(cat.models.rows),
        "precision": sorted(cat.precisions.rows),
        "kv_precision": sorted(p.id for p in cat.precisions.rows.values() if p.kv_capable),
        "engine": sorted(cat.engines.rows),
    }
