"""The facade a notebook or a program uses: one call per step of the chain, typed results.

    import planner

    spec = planner.load("problems/seed001-qwen7b-50-users.yaml")      # the checked workload file
    est = planner.estimate("llama-3-70b", "a100", "fp16", tp=2, input_tokens=2000, output_tokens=256)
    est.to_frame()                                                    # one row: memory, TTFT, TPOT, ...
    result = planner.plan("problems/seed001-qwen7b-50-users.yaml")    # load -> ... -> verify
    result.to_frame()                                                 # deployments of every plan
    result.bom_frame()                                                # bill of materials, with sources
    result.to_html()                                                  # report.html: tables and charts
    planner.compare("problems/seed001-qwen7b-50-users.yaml").comparison.break_even_month

Every function raises `planner.errors.PlannerError` subclasses on bad input (`InputError`), no
plan (`InfeasibleError`) or a solver limit (`SolverError`), with the same located messages the
command line prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from planner.catalog.resolve import name_check
from planner.catalog.store import load_catalog
from planner.money.compare import Comparison
from planner.optimize.chain import solve_loaded
from planner.optimize.plan import Outcome, Plan
from planner.perf.estimate import Estimate, evaluate, resolve_deployment
from planner.report.html import outcome_html
from planner.report.json_out import outcome_json
from planner.report.records import (
    BOM_COLUMNS,
    DEPLOYMENT_COLUMNS,
    bom_records,
    deployment_records,
    estimate_record,
)
from planner.serving.fleet import DEFAULT_DURATION_S
from planner.spec.loader import LoadedSpec, load_spec

if TYPE_CHECKING:
    import pandas as pd


def _frame(columns: tuple[str, ...], rows: list[dict]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{k: r.get(k) for k in columns} for r in rows], columns=list(columns))


@dataclass(frozen=True)
class EstimateResult:
    """One deployment evaluated (`planner estimate`)."""

    estimate: Estimate

    def to_record(self) -> dict:
        """The `planner estimate --format json` contract."""
        return estimate_record(self.estimate)

    def to_frame(self) -> pd.DataFrame:
        """One row: the deployment, its batch, memory per GPU (GiB), TTFT and TPOT (ms), throughput."""
        r = self.to_record()
        flat = {k: v for k, v in r.items() if not isinstance(v, dict)}
        flat.update({f"mem_{k}_gib_per_gpu": v for k, v in r["memory_per_gpu_gib"].items()})
        return _frame(tuple(flat), [flat])


@dataclass(frozen=True)
class PlanResult:
    """The plans solved from one workload file (`planner solve`), verified against the formulas."""

    outcome: Outcome
    today: date

    @property
    def plans(self) -> list[Plan]:
        return self.outcome.plans

    @property
    def comparison(self) -> Comparison | None:
        """Rent against buy, for `objective: compare` (always set by `compare()`); else None."""
        return self.outcome.comparison

    def to_frame(self) -> pd.DataFrame:
        """Every deployment of every plan, one row each (the columns of `deployments.csv`)."""
        return _frame(DEPLOYMENT_COLUMNS, [r for p in self.plans for r in deployment_records(p)])

    def bom_frame(self) -> pd.DataFrame:
        """Every bill-of-materials line of every plan (the columns of `bom.csv`)."""
        return _frame(BOM_COLUMNS, [r for p in self.plans for r in bom_records(p)])

    def to_json(self, timings: bool = False) -> str:
        """The `planner solve --format json` contract."""
        return outcome_json(self.outcome, timings, self.today)

    def to_html(self, timings: bool = False) -> str:
        """`report.html`: one self-contained page with the plans, bills of materials and charts."""
        return outcome_html(self.outcome, timings, self.today)


def load(path: str | Path) -> LoadedSpec:
    """Read and check a workload file: every problem at once, located, unknown catalogue names and
    config.json defects included."""
    return load_spec(path, names=name_check(load_catalog()))


def estimate(model: str, gpu: str, precision: str = "fp16", *, input_tokens: int, output_tokens: int,
             kv_precision: str | None = None, tp: int = 1, pp: int = 1, batch: int | None = None,
             max_tpot_ms: float | None = None, mem_utilization: float = 0.9,
             max_num_seqs: int = 256) -> EstimateResult:
    """Memory, TTFT, TPOT, throughput and bottleneck of one deployment (names as in the catalogue;
    `model` may also be a path to a Hugging Face config.json). `batch=None`: the largest that fits
    (and meets `max_tpot_ms` when given)."""
    cat = load_catalog()
    d = resolve_deployment(cat, model, gpu, precision, kv_precision, tp, pp, mem_utilization, max_num_seqs)
    e = evaluate(d, cat.efficiency_for(d.gpu), input_tokens, output_tokens, batch=batch,
                 max_tpot_s=max_tpot_ms / 1e3 if max_tpot_ms is not None else None)
    return EstimateResult(e)


def plan(source: str | Path | LoadedSpec, *, solver: str = "highs", time_limit_s: float = 60.0,
         catalog_file: str | Path | None = None, today: date | None = None,
         simulate_s: float | None = None, seed: int = 0,
         progress: Callable[[str], None] | None = None) -> PlanResult:
    """The whole chain on a workload file: load, resolve, candidates, MILP, solve, verify (and, with
    `simulate_s`, the serving simulation of every plan for that many seconds of peak traffic).
    `progress` is called with a line per step (candidates, each solve, each simulation)."""
    loaded = source if isinstance(source, LoadedSpec) else load(source)
    day = today or date.today()
    out = solve_loaded(loaded, solver=solver, time_limit_s=time_limit_s,
                       catalog_file=Path(catalog_file) if catalog_file is not None else None, today=day,
                       simulate_s=simulate_s, seed=seed, progress=progress)
    return PlanResult(out, day)


def simulate(source: str | Path | LoadedSpec, *, duration_s: float = DEFAULT_DURATION_S, seed: int = 0,
             solver: str = "highs", time_limit_s: float = 60.0, catalog_file: str | Path | None = None,
             today: date | None = None, progress: Callable[[str], None] | None = None) -> PlanResult:
    """Solve, then simulate every replica of every plan (`planner simulate`): each plan's
    `.simulation` holds the per-workload percentiles, attainment and any SLO miss."""
    return plan(source, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=today,
                simulate_s=duration_s, seed=seed, progress=progress)


def compare(source: str | Path | LoadedSpec, *, solver: str = "highs", time_limit_s: float = 60.0,
            catalog_file: str | Path | None = None, today: date | None = None,
            progress: Callable[[str], None] | None = None) -> PlanResult:
    """Rent against buy: the file solved as `objective: compare`, whatever its objective says."""
    loaded = source if isinstance(source, LoadedSpec) else load(source)
    loaded = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"objective": "compare"}))
    return plan(loaded, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=today,
                progress=progress)
