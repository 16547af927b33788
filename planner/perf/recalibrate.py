"""`planner calibrate`: a user's benchmark results → refitted efficiency factors → an overlay file.

Inputs: `vllm bench serve --save-result` JSON and GuideLLM reports (`planner.perf.bench_results`),
and measurements CSV files (the columns of `catalog/measured/calibration.csv`, read as `planner
validate` reads them). A result file does not say which GPU, precision or tensor-parallel degree
served it; each deployment key is taken from, last wins:

1. the command line (`--model`, `--gpu`, `--precision`, `--kv-precision`, `--tp`, `--pp`,
   `--engine`, `--max-num-seqs`): defaults for every file;
2. the result file itself: vLLM's `model_id`, and keys given with `vllm bench serve --metadata`
   (`gpu=h100 tp=2 precision=fp8`); GuideLLM's model where the report has one;
3. a sidecar next to the file, `<file stem>.deployment.yaml` (`run1.json` → `run1.deployment.yaml`),
   a mapping of the same keys (`gpu: h100`, `tp: 2`, ...).

`gpu`, `precision` and `tp` must come from one of them, and `model` where the file names none: a
missing one is a located error naming the file and the three ways to give it; every missing key
of every file is reported at once. `pp` defaults to 1, `kv_precision` to the precision's engine
default, `max_num_seqs` to 256 (vLLM's default), `engine` to "unstated" (then vLLM; a stated engine
is mapped to catalog/engines.csv like the `engine` column of a measurements file).

The fit (`planner.perf.fit.refit`, the shipped fit's code) runs per GPU family over the user's
rows, started from the factors in use (the shipped ones, or an overlay's), each row's engine
multipliers (catalog/engine_factors.csv) held: the overlay's factors are per GPU family, for the
reference engine, so rows of several engines on one family are fitted together (the overlay's
notes name the engines). The overlay has the columns of
`catalog/efficiency.csv` (one row per refitted family; `source` lists the result files) and is read
back by `--calibration FILE` (`Catalog.with_calibration`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from planner.catalog.engines import engine_for_text
from planner.catalog.precisions import Efficiency, efficiency_csv
from planner.catalog.store import Catalog
from planner.errors import InputError, PlannerError, Problem
from planner.perf.bench_results import Run, read_runs
from planner.perf.calibration import Validation, predict, validate_cases
from planner.perf.engines import deployment_efficiency, with_engine
from planner.perf.estimate import Deployment, check_deployment, default_kv_precision
from planner.perf.fit import refit
from planner.perf.measurements import MAX_BATCH, Case, Skipped, read_cases
from planner.spec.textfile import read_user_text
from planner.spec.yaml_tree import YamlDocument, parse_yaml

DEPLOYMENT_KEYS = ("model", "gpu", "precision", "kv_precision", "tp", "pp", "engine", "max_num_seqs")
"""Keys a deployment is given by (options, file metadata, sidecar)."""
REQUIRED_KEYS = ("model", "gpu", "precision", "tp")
INT_KEYS = ("tp", "pp", "max_num_seqs")
DEFAULT_MAX_NUM_SEQS = 256
"""vLLM's default max_num_seqs, for results that do not say."""
SIDECAR_SUFFIX = ".deployment.yaml"


@dataclass(frozen=True)
class Given:
    """A deployment value and where it was given, for messages."""

    value: Any
    where: Problem
    """An empty problem located where the value is (file, line, column, key)."""


@dataclass(frozen=True)
class Row:
    """A case read from a file, with the file and the engine that served it."""

    case: Case
    file: str
    engine: str


@dataclass
class Calibration:
    """What `planner calibrate` found: the rows, the factors before and after, the errors."""

    files: list[str]
    families: dict[str, tuple[Efficiency, Efficiency, int]]
    """GPU family → (factors before, factors after, rows)."""
    before: Validation
    after: Validation
    skipped: list[Skipped]
    overlay: list[Efficiency]

    def overlay_csv(self) -> str:
        """The overlay file's text (the columns of catalog/efficiency.csv)."""
        return efficiency_csv(self.overlay)


def sidecar_path(path: Path) -> Path:
    """`run1.json` → `run1.deployment.yaml`, in the same folder."""
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def read_sidecar(path: Path, problems: list[Problem]) -> dict[str, Given]:
    """The deployment keys of a sidecar file; its unknown keys and duplicates appended to `problems`
    (located); InputError for a file that is not YAML or not a mapping."""
    label = str(path)
    root, data, found = parse_yaml(read_user_text(path), label)
    problems.extend(found)
    doc = YamlDocument(root, label)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(doc.problem((), "not a mapping", f"keys {', '.join(DEPLOYMENT_KEYS)}"))
    out = {}
    for key, value in data.items():
        if key not in DEPLOYMENT_KEYS:
            problems.append(doc.problem((key,), "unknown key", f"one of {', '.join(DEPLOYMENT_KEYS)}", at_key=True))
            continue
        out[key] = Given(value, doc.problem((key,), ""))
    return out


def _int_value(g: Given, key: str, problems: list[Problem]) -> int | None:
    v = g.value
    try:
        n = int(str(v).strip())
    except ValueError:
        n = None
    if n is None or isinstance(v, bool) or not 1 <= n <= MAX_BATCH:
        problems.append(dataclasses.replace(g.where, message=f"must be an integer in [1, {MAX_BATCH:,}] (got {v!r})"))
        return None
    return n


def run_cases(cat: Catalog, run: Run, given: dict[str, Given], problems: list[Problem]) -> list[Case]:
    """The cases of one run, its deployment resolved from `given`; defects appended to `problems`."""
    before = len(problems)
    vals: dict[str, Any] = {}
    for key in DEPLOYMENT_KEYS:
        g = given.get(key)
        if g is None or g.value in (None, ""):
            if key in REQUIRED_KEYS:
                meta = f"vllm bench serve --metadata {key}=..., " if run.where == "" else ""
                problems.append(Problem(f"{key} not stated", file=run.file, line=run.line, key=key,
                                        expected=f"--{key} on the command line, {meta}or `{key}:` in "
                                                 f"{sidecar_path(Path(run.file)).name}"))
            continue
        if key in INT_KEYS:
            vals[key] = _int_value(g, key, problems)
            continue
        if key in ("model", "gpu", "precision", "kv_precision"):
            fn = cat.model if key == "model" else cat.gpu if key == "gpu" else cat.precision
            try:
                vals[key] = fn(str(g.value))
            except InputError as exc:
                problems.extend(dataclasses.replace(g.where, message=p.message, expected=p.expected)
                                for p in exc.problems)
                continue
        else:
            vals[key] = str(g.value)
    if len(problems) > before:
        return []
    kv = vals.get("kv_precision") or cat.precision(default_kv_precision(vals["precision"].id))
    tp, pp = vals["tp"], vals.get("pp") or 1
    d = Deployment(model=vals["model"], gpu=vals["gpu"], precision=vals["precision"], kv_precision=kv, tp=tp, pp=pp,
                   max_num_seqs=vals.get("max_num_seqs") or DEFAULT_MAX_NUM_SEQS,
                   engine=engine_for_text(cat.engines, vals.get("engine", "")))
    try:
        check_deployment(d)
    except PlannerError as exc:
        problems.append(Problem(str(exc).splitlines()[0], file=run.file, line=run.line, key=run.where or None))
        return []
    engine = vals.get("engine", "unstated")
    label = f"{run.label} ({engine}, {d.model.id} on {d.gpu.id} {d.precision.id} tp{tp} pp{pp})"
    notes = [f"engine {engine}", f"mean lengths {run.input_tokens} in / {run.output_tokens} out"]
    batch = run.concurrency if run.mode == "concurrency" else (1 if run.mode == "single" else None)
    return [Case(run.line, f"{label}: {m}", d, m, v, run.mode, batch, run.qps, run.input_tokens, run.output_tokens,
                 tp * pp, list(notes)) for m, v in sorted(run.metrics.items())]


def read_results(cat: Catalog, paths: list[Path], options: dict[str, Any]) -> tuple[list[Row], list[Skipped]]:
    """(rows, skipped rows) of every file; InputError listing every defect of every file."""
    problems: list[Problem] = []
    rows: list[Row] = []
    skipped: list[Skipped] = []
    cli = {k: Given(v, Problem("", file="command line", key=f"--{k.replace('_', '-')}"))
           for k, v in options.items() if k in DEPLOYMENT_KEYS and v not in (None, "")}
    for path in paths:
        label = str(path)
        if not path.is_file():
            problems.append(Problem("no such file", file=label))
            continue
        try:
            if path.suffix.lower() == ".csv":
                got, skip = read_cases(cat, read_user_text(path), label)
                rows += [Row(dataclasses.replace(c, label=f"{label}:{c.line}: {c.label}"), label, "as in the file")
                         for c in got]
                skipped += [dataclasses.replace(s, label=f"{label}:{s.line}: {s.label}") for s in skip]
                continue
            runs = read_runs(path, DEPLOYMENT_KEYS)
            side = sidecar_path(path)
            sidecar = read_sidecar(side, problems) if side.is_file() else {}
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for run in runs:
            if run.skipped:
                skipped.append(Skipped(run.line, run.label, run.skipped))
                continue
            here = Problem("", file=label, line=run.line)
            from_file = {k: Given(v, dataclasses.replace(here, key=k)) for k, v in
                         {"model": run.model_id, **run.meta}.items() if v not in (None, "")}
            given = {**cli, **from_file, **sidecar}
            engine = str(given["engine"].value) if "engine" in given else "unstated"
            rows += [Row(c, label, engine) for c in run_cases(cat, run, given, problems)]
    if problems:
        raise InputError(problems)
    return rows, skipped


def _predicted(case: Case, eff: Efficiency) -> bool:
    """Whether the model gives the case a positive finite prediction."""
    try:
        value = predict(case, eff)
    except (ValueError, OverflowError, PlannerError):
        return False
    return value > 0 and value < float("inf")


def calibrate(cat: Catalog, paths: list[Path], options: dict[str, Any], today: date) -> Calibration:
    """Read every file, refit each GPU family in them, and compare the error before and after.

    Raises:
        InputError: a defect in a file or an option (all at once), or no row the model predicts.
    """
    rows, skipped = read_results(cat, paths, options)
    engine_for = cat.engine_factors_for
    before_all = validate_cases([r.case for r in rows], list(skipped), cat.efficiency_for, engine_for)
    usable = [r for r in rows if _predicted(r.case, deployment_efficiency(cat, r.case.deployment))]
    if not usable:
        problems = [Problem(f"no row the model predicts in {len(paths)} file(s)",
                            expected="results with TTFT, TPOT or output throughput of a catalogue model, GPU "
                                     "and precision")]
        problems += [Problem(f"skipped: {s.reason}", file=s.label) for s in before_all.skipped[:20]]
        raise InputError(problems)
    families = refit([r.case for r in usable], cat.efficiency_for, engine_for)
    effs = {f: after for f, (_b, after, _n) in families.items()}
    lost = [r for r in usable if not _predicted(r.case, with_engine(effs[r.case.deployment.gpu.family],
                                                                     engine_for(r.case.deployment.engine)))]
    skipped = list(before_all.skipped) + [Skipped(r.case.line, r.case.label, "not predicted with the refitted factors")
                                          for r in lost]
    usable = [r for r in usable if r not in lost]
    cases = [r.case for r in usable]
    before = validate_cases(cases, [], cat.efficiency_for, engine_for)
    after = validate_cases(cases, [], lambda g: effs[g.family], engine_for)
    overlay = []
    for family, (b, a, n) in families.items():
        mine = [r for r in usable if r.case.deployment.gpu.family == family]
        files = sorted({r.file for r in mine})
        engines = sorted({r.engine for r in mine})
        overlay.append(dataclasses.replace(
            a, source=f"planner calibrate on {'; '.join(files)}", as_of=today.isoformat(),
            notes=f"{n} rows; engines: {', '.join(engines)}; refitted from: {b.source or 'the catalogue'}"))
    return Calibration(sorted({str(p) for p in paths}), families, before, after, skipped, overlay)
