"""Engine factors layered over GPU-family factors: the efficiency a deployment runs at.

Hardware factors are per GPU family (`catalog/efficiency.csv`); an engine multiplies two of them
(`catalog/engine_factors.csv`): step overhead x step_overhead_factor (launch, scheduling and
sampling cost differ by engine: llama.cpp's 2023 builds spend several ms per token), decode MFU x
decode_mfu_factor (large-batch decode kernels and the server around them) and prefill MFU x
prefill_mfu_factor (kernels: AutoAWQ's eager GEMMs reach a fraction of TensorRT-LLM's). The
engine also says whether prompts ride the decode steps (`Engine.batches_prefill`, read by the step
composition in `roofline.prefill_added_s`). Both tables are fitted by tools/fit_efficiency.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from planner.catalog.engines import Engine, EngineFactors
from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Efficiency
from planner.catalog.store import Catalog


class _Deployed(Protocol):
    """What `deployment_efficiency` reads of a `perf.estimate.Deployment`."""

    gpu: Gpu
    engine: Engine | None

MAX_MFU = 1.0
"""An engine's multiplier never takes an MFU past the datasheet peak."""


def with_engine(eff: Efficiency, f: EngineFactors) -> Efficiency:
    """The family factors `eff` with engine multipliers `f`: step_overhead_ms x step_overhead_factor,
    decode_mfu x decode_mfu_factor and prefill_mfu x prefill_mfu_factor (each MFU at most 1); the
    other factors as they are.

    Example: Ada prefill_mfu 0.40 with AutoAWQ's 0.5 -> 0.20; overhead 1.3 ms x 4 -> 5.2 ms.
    """
    if f.step_overhead_factor == 1.0 and f.decode_mfu_factor == 1.0 and f.prefill_mfu_factor == 1.0:
        return eff
    return dataclasses.replace(
        eff, step_overhead_ms=eff.step_overhead_ms * f.step_overhead_factor,
        decode_mfu=min(MAX_MFU, eff.decode_mfu * f.decode_mfu_factor),
        prefill_mfu=min(MAX_MFU, eff.prefill_mfu * f.prefill_mfu_factor))


def factors_record(family: str, family_fitted: bool, f: EngineFactors) -> dict:
    """Which factors an estimate used and on what basis: the GPU family's (`fitted` on its own rows,
    or `default`) and the engine's (`fitted`, `reference` or `default`), with the multipliers."""
    return {"gpu_family": family, "basis": "fitted" if family_fitted else "default",
            "engine": f.engine, "engine_basis": f.basis, "step_overhead_factor": f.step_overhead_factor,
            "decode_mfu_factor": f.decode_mfu_factor, "prefill_mfu_factor": f.prefill_mfu_factor}


def deployment_efficiency(cat: Catalog, d: _Deployed, eff_for: Callable[[Gpu], Efficiency] | None = None) -> Efficiency:
    """The factors deployment `d` runs at: its GPU family's (`eff_for(gpu)`, else the catalogue's)
    with its engine's multipliers (`cat.engine_factors_for`)."""
    family = (eff_for or cat.efficiency_for)(d.gpu)
    return with_engine(family, cat.engine_factors_for(d.engine))
