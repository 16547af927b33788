"""The shipped catalogue: every table read once, with name resolution and did-you-mean."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from planner.catalog.gpu_memory import MemoryTerms, parse_reported, parse_terms, with_reported_memory
from planner.catalog.engines import (
    DEFAULT_ENGINE,
    Engine,
    EngineFactors,
    parse_engine_factors,
    parse_engines,
)
from planner.catalog.gpus import Gpu, parse_gpus
from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.models import Model, parse_models
from planner.catalog.precisions import (
    Efficiency,
    Precision,
    parse_efficiency,
    parse_precisions,
)
from planner.catalog.tables import Table
from planner.errors import InputError, Problem
from planner.spec.textfile import read_user_text


@dataclass
class Catalog:
    gpus: Table[Gpu]
    models: Table[Model]
    precisions: Table[Precision]
    efficiency: dict[str, Efficiency]
    engines: Table[Engine]
    engine_factors: dict[str, EngineFactors]
    memory_terms: MemoryTerms | None = None
    """The engine's fitted memory terms (catalog/memory_terms.csv); None: `load_memory_terms()`."""

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

    def engine(self, name: str | None) -> Engine:
        """An engine by id or alias (any case), the default (vLLM) for None."""
        return self.engines.resolve(name or DEFAULT_ENGINE)

    def engine_factors_for(self, engine: Engine | None) -> EngineFactors:
        """The engine's fitted multipliers; 1 and 1 (`default`) for an engine the table lacks."""
        eid = engine.id if engine is not None else DEFAULT_ENGINE
        return self.engine_factors.get(eid) or EngineFactors(eid, 0, "default")

    def factors_fitted(self, gpu: Gpu) -> bool:
        """Whether the GPU's family has efficiency factors of its own (fitted on its measurements, or
        from a calibration overlay); False when `efficiency_for` falls back to `default`."""
        return gpu.family in self.efficiency

    def with_calibration(self, path: str | Path | None) -> Catalog:
        """This catalogue with the efficiency factors of a calibration overlay (`planner calibrate
        --out FILE`: the columns of catalog/efficiency.csv, one row per GPU family, no `default`
        needed) over its own, family by family; itself when `path` is None.

        Raises:
            InputError: no such file, or a defect in it (each located at its line and column).
        """
        if path is None:
            return self
        path = Path(path)
        if not path.is_file():
            raise InputError(Problem("no such file", file=str(path), key="--calibration",
                                     expected="a calibration overlay written by `planner calibrate --out FILE`"))
        overlay = parse_efficiency(read_user_text(path), str(path), require_default=False, error=InputError)
        if not overlay:
            raise InputError(Problem("no rows", file=str(path), line=1, expected="one row per GPU family"))
        return dataclasses.replace(self, efficiency={**self.efficiency, **overlay})


def data_text(filename: str) -> tuple[str, str]:
    """Text of a shipped catalogue file: from the source tree's catalog/ when run from a checkout
    (or an editable install), else from the wheel's `planner._catalog` package."""
    local = Path(__file__).resolve().parents[2] / "catalog" / filename
    if local.is_file():
        return local.read_text(encoding="utf-8"), f"catalog/{filename}"
    res = resources.files("planner._catalog").joinpath(filename)
    return res.read_text(encoding="utf-8"), f"catalog/{filename}"


@functools.lru_cache(maxsize=1)
def load_memory_terms() -> MemoryTerms:
    """The shipped memory terms, catalog/memory_terms.csv (cached)."""
    return parse_terms(*data_text("memory_terms.csv"))


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The shipped catalogue (cached). Every GPU carries its driver-reported memory
    (catalog/gpu_memory_reported.csv, or the stated default rule)."""
    gpus = parse_gpus(*data_text("gpus.csv"))
    terms = load_memory_terms()
    reported = parse_reported(*data_text("gpu_memory_reported.csv"), gpus)
    return Catalog(
        gpus=with_reported_memory(gpus, reported, terms),
        models=parse_models(*data_text("models.csv")),
        precisions=parse_precisions(*data_text("precisions.csv")),
        efficiency=parse_efficiency(*data_text("efficiency.csv")),
        engines=(engines := parse_engines(*data_text("engines.csv"))),
        engine_factors=parse_engine_factors(*data_text("engine_factors.csv"), engines),
        memory_terms=terms,
    )
