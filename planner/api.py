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
    planner.export("plan.json", to="k8s").files                       # path -> text of each file
    cal = planner.calibrate(["runs/h100-qps4.json"], gpu="h100", precision="fp8", tp=1)
    cal.write("my-factors.csv")                                       # the overlay, then:
    planner.plan("problems/seed001-qwen7b-50-users.yaml", calibration="my-factors.csv")

`calibration` (estimate, validate, plan, simulate, compare): an overlay file of efficiency factors
(`planner calibrate --out FILE`) applied over the shipped ones, GPU family by family.

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

from planner.catalog.precisions import Efficiency
from planner.catalog.resolve import catalog_names, name_check
from planner.catalog.store import Catalog, load_catalog
from planner.errors import InputError, Problem
from planner.money.compare import Comparison
from planner.optimize.chain import solve_loaded
from planner.optimize.plan import Outcome, Plan
from planner.optimize.sensitivity import SENSITIVITY_DURATION_S
from planner.optimize.sensitivity import World as SensitivityWorld
from planner.optimize.sensitivity import run as run_sensitivity
from planner.optimize.sweep import PointResult, Sweep, parse_vary, run_sweep
from planner.perf.calibration import Validation, validate_file
from planner.perf.engines import deployment_efficiency, factors_record
from planner.perf.estimate import Estimate, evaluate, resolve_deployment
from planner.perf.recalibrate import Calibration
from planner.perf.recalibrate import calibrate as _calibrate
from planner.report.calibration import calibration_record
from planner.report.export_model import ExportPlan
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
from planner.spec.json_schema import workload_json_schema
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
    efficiency: Efficiency | None = None
    """The efficiency factors the estimate used (the shipped ones, or a calibration overlay's), the
    engine's multipliers applied."""
    factors: dict | None = None
    """Which factors those are and on what basis (`perf.engines.factors_record`): GPU family
    fitted or default, engine multipliers fitted, reference or default."""

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


@dataclass(frozen=True)
class CalibrationResult:
    """Efficiency factors refitted on a user's benchmark results (`planner calibrate`)."""

    calibration: Calibration

    def to_record(self) -> dict:
        """The `planner calibrate --format json` contract."""
        return calibration_record(self.calibration)

    def overlay_csv(self) -> str:
        """The overlay file's text: catalog/efficiency.csv's columns, one row per refitted family."""
        return self.calibration.overlay_csv()

    def write(self, path: str | Path) -> None:
        """Write the overlay file (read back by `calibration=` and `--calibration FILE`)."""
        Path(path).write_text(self.overlay_csv(), encoding="utf-8")


def calibrated_catalog(calibration: str | Path | None = None) -> Catalog:
    """The shipped catalogue, with a calibration overlay's efficiency factors over its own when given."""
    return load_catalog().with_calibration(calibration)


def load(path: str | Path) -> LoadedSpec:
    """Read and check a workload file: every problem at once, located, unknown catalogue names and
    config.json defects included."""
    return load_spec(path, names=name_check(load_catalog()))


def schema() -> dict:
    """The JSON Schema of the workload file (draft 2020-12), with the shipped catalogue's ids as
    `examples` of every name; `planner schema` prints it and `planner/schema.json` is a copy."""
    return workload_json_schema(catalog_names(load_catalog()))


def estimate(model: str, gpu: str, precision: str = "fp16", *, input_tokens: int, output_tokens: int,
             kv_precision: str | None = None, tp: int = 1, pp: int = 1, batch: int | None = None,
             max_tpot_ms: float | None = None, mem_utilization: float = 0.9,
             max_num_seqs: int = 256, engine: str | None = None,
             calibration: str | Path | None = None) -> EstimateResult:
    """Memory, TTFT, TPOT, throughput and bottleneck of one deployment (names as in the catalogue;
    `model` may also be a path to a Hugging Face config.json). `batch=None`: the largest that fits
    (and meets `max_tpot_ms` when given). `engine`: an id of catalog/engines.csv (None: vLLM)."""
    cat = calibrated_catalog(calibration)
    d = resolve_deployment(cat, model, gpu, precision, kv_precision, tp, pp, mem_utilization, max_num_seqs, engine)
    eff = deployment_efficiency(cat, d)
    e = evaluate(d, eff, input_tokens, output_tokens, batch=batch,
                 max_tpot_s=max_tpot_ms / 1e3 if max_tpot_ms is not None else None)
    factors = factors_record(d.gpu.family, cat.factors_fitted(d.gpu), cat.engine_factors_for(d.engine))
    return EstimateResult(e, eff, factors)


def validate(path: str | Path, *, calibration: str | Path | None = None) -> Validation:
    """Predict the rows of a measurements CSV (`catalog/measured/calibration.csv`'s columns) and
    collect the model's errors (`planner validate`); `.report()` is the JSON contract."""
    path = Path(path)
    if not path.exists():
        raise InputError(Problem("no such file", file=str(path)))
    return validate_file(calibrated_catalog(calibration), path)


def calibrate(results: list[str | Path], *, model: str | None = None, gpu: str | None = None,
              precision: str | None = None, kv_precision: str | None = None, tp: int | None = None,
              pp: int | None = None, engine: str | None = None, max_num_seqs: int | None = None,
              calibration: str | Path | None = None, today: date | None = None) -> CalibrationResult:
    """Refit the efficiency factors of every GPU family in `results` (vllm bench serve JSON,
    GuideLLM reports, measurements CSV) from the factors in use (`calibration`, else the shipped
    ones); the keyword arguments are the deployment of result files that do not state it
    (see `planner.perf.recalibrate`). `.write(path)` saves the overlay."""
    options = {"model": model, "gpu": gpu, "precision": precision, "kv_precision": kv_precision, "tp": tp, "pp": pp,
               "engine": engine, "max_num_seqs": max_num_seqs}
    return CalibrationResult(_calibrate(calibrated_catalog(calibration), [Path(p) for p in results], options,
                                        today or date.today()))


def plan(source: str | Path | LoadedSpec, *, solver: str = "highs", time_limit_s: float = 60.0,
         catalog_file: str | Path | None = None, today: date | None = None,
         simulate_s: float | None = None, seed: int = 0,
         progress: Callable[[str], None] | None = None, calibration: str | Path | None = None,
         sensitivity: bool = False, sensitivity_duration_s: float = SENSITIVITY_DURATION_S) -> PlanResult:
    """The whole chain on a workload file: load, resolve, candidates, MILP, solve, verify (and, with
    `simulate_s`, the serving simulation of every plan for that many seconds of peak traffic).
    `progress` is called with a line per step (candidates, each solve, each simulation).
    `sensitivity`: also each plan's `.sensitivity` (`planner.optimize.sensitivity`): its fleet
    simulated under more demand and slower steps, re-solved costs, the breaking demand multiplier."""
    loaded = source if isinstance(source, LoadedSpec) else load(source)
    day = today or date.today()
    cat = calibrated_catalog(calibration)
    file = Path(catalog_file) if catalog_file is not None else None
    out = solve_loaded(loaded, solver=solver, time_limit_s=time_limit_s, catalog=cat, catalog_file=file, today=day,
                       simulate_s=simulate_s, seed=seed, progress=progress)
    if sensitivity:
        world = SensitivityWorld(loaded, cat, solver, time_limit_s, catalog_file=file, today=day)
        run_sensitivity(out, world, sensitivity_duration_s, seed, progress)
    return PlanResult(out, day)


def simulate(source: str | Path | LoadedSpec, *, duration_s: float = DEFAULT_DURATION_S, seed: int = 0,
             solver: str = "highs", time_limit_s: float = 60.0, catalog_file: str | Path | None = None,
             today: date | None = None, progress: Callable[[str], None] | None = None,
             calibration: str | Path | None = None) -> PlanResult:
    """Solve, then simulate every replica of every plan (`planner simulate`): each plan's
    `.simulation` holds the per-workload percentiles, attainment and any SLO miss."""
    return plan(source, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=today,
                simulate_s=duration_s, seed=seed, progress=progress, calibration=calibration)


def compare(source: str | Path | LoadedSpec, *, solver: str = "highs", time_limit_s: float = 60.0,
            catalog_file: str | Path | None = None, today: date | None = None,
            progress: Callable[[str], None] | None = None, calibration: str | Path | None = None) -> PlanResult:
    """Rent against buy: the file solved as `objective: compare`, whatever its objective says."""
    loaded = source if isinstance(source, LoadedSpec) else load(source)
    loaded = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"objective": "compare"}))
    return plan(loaded, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=today,
                progress=progress, calibration=calibration)


@dataclass(frozen=True)
class SweepResult:
    """The optimal cost at each value of one input (`planner sweep`)."""

    sweep: Sweep
    points: list[PointResult]

    def to_frame(self) -> pd.DataFrame:
        """One row per value and plan: value, pricing, status, costs (US$), GPUs, knee, dominated."""
        from planner.report.sweep_out import SWEEP_COLUMNS, sweep_rows

        return _frame(SWEEP_COLUMNS, sweep_rows(self.sweep, self.points))


def sweep(source: str | Path | LoadedSpec, vary: str, *, workload: str | None = None, solver: str = "highs",
          time_limit_s: float = 60.0, today: date | None = None, catalog_file: Path | None = None,
          jobs: int | None = None, ray_address: str | None = None,
          progress: Callable[[str], None] | None = None, calibration: str | Path | None = None) -> SweepResult:
    """Solve `source` once per value of `vary` (`"slo.ttft_ms=200:2000:10"`, `"demand=0.5,1,2"`, see
    `planner.optimize.sweep`) on a local process pool of `jobs` workers (1: in this process) or on the
    Ray cluster at `ray_address`."""
    loaded = source if isinstance(source, LoadedSpec) else load(source)
    plan_sweep = parse_vary(vary, workload)
    points = run_sweep(loaded, plan_sweep, solver=solver, time_limit_s=time_limit_s, today=today,
                       catalog_file=catalog_file, jobs=jobs, ray_address=ray_address, progress=progress,
                       calibration=Path(calibration) if calibration is not None else None)
    return SweepResult(plan_sweep, points)


@dataclass(frozen=True)
class ExportResult:
    """A plan as deployment files (`planner export`)."""

    plan: ExportPlan
    files: dict[str, str]
    """Relative path -> text, in the order written (launch and bench scripts, manifests, router.yaml, README.md)."""

    def to_frame(self) -> pd.DataFrame:
        """One row per deployment: its export name, workload, candidate, GPU, replicas, GPUs per
        replica, the weights loaded and the engine memory fraction."""
        rows = [{"name": x.name, "workload": x.deployment.workload, "candidate": x.deployment.candidate,
                 "gpu": x.gpu.id, "replicas": x.deployment.replicas, "gpus_per_replica": x.deployment.tp,
                 "weights": x.weights.model_path, "mem_fraction": x.mem_utilization} for x in self.plan.lines]
        return _frame(("name", "workload", "candidate", "gpu", "replicas", "gpus_per_replica", "weights",
                       "mem_fraction"), rows)


def export(source: str | Path | LoadedSpec, *, to: str, pricing: str | None = None, engine: str | None = None,
           image: str | None = None, bench_duration_s: float = 600.0, solver: str = "highs",
           time_limit_s: float = 60.0, catalog_file: str | Path | None = None, today: date | None = None,
           progress: Callable[[str], None] | None = None, calibration: str | Path | None = None) -> ExportResult:
    """Engine launch scripts (`to="vllm"` or `"sglang"`) or Kubernetes manifests (`"k8s"`, running
    `engine`), benchmark scripts and the router file for one plan. `source`: a plan JSON written by
    `planner solve --format json` (a `.json` path), or a workload file, solved first. `pricing`
    picks the plan of a file with several (rent, buy, hybrid)."""
    from planner.catalog.deploy_tables import load_deploy_tables
    from planner.report.export_files import TARGETS, export_files
    from planner.report.export_model import ENGINES, build_export
    from planner.report.plan_file import from_record, pick_plan, read_plan_json
    from planner.report.records import outcome_record

    if to not in TARGETS:
        raise InputError(Problem(f"unknown export target {to!r}", key="--to", expected="one of " + ", ".join(TARGETS)))
    if engine is not None and engine not in ENGINES:
        raise InputError(Problem(f"unknown engine {engine!r}", key="--engine", expected="one of " + ", ".join(ENGINES)))
    if engine is not None and to != "k8s" and engine != to:
        raise InputError(Problem(f"--to {to} runs {to}, not {engine}", key="--engine", expected="--engine with --to k8s only"))
    if image is not None and to != "k8s":
        raise InputError(Problem("a container image is for --to k8s only", key="--image", expected="--image with --to k8s"))
    if not isinstance(source, LoadedSpec) and Path(source).suffix.lower() == ".json":
        label = str(source)
        doc = read_plan_json(label)
    else:
        result = plan(source, solver=solver, time_limit_s=time_limit_s, catalog_file=catalog_file, today=today,
                      progress=progress, calibration=calibration)
        label = source.path if isinstance(source, LoadedSpec) else str(source)
        doc = from_record(outcome_record(result.outcome, False, result.today), label)
    chosen = pick_plan(doc, pricing, label)
    tables = load_deploy_tables()
    view = build_export(doc.name, doc.objective, chosen, load_catalog(), tables, label, doc.plans.index(chosen))
    return ExportResult(view, export_files(view, to, tables, engine=engine, image=image,
                                           bench_duration_s=bench_duration_s))
