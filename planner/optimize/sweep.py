"""`planner sweep`: the optimal cost as one input varies (the cost of an SLO, of demand, of a horizon).

A sweep takes a workload file and one varied key with its values (`slo.ttft_ms=200:2000:10`: ten
values from 200 to 2,000 ms, evenly spaced, both ends included; or a list, `slo.ttft_ms=300,500,1000`)
and solves the file once per value, each solve the whole chain (candidates, MILP, verification), so
every point is a plan `planner solve` would give. The keys:

- `slo.ttft_ms`, `slo.tpot_ms`, `slo.e2e_ms`: the limit of every online workload (or of the one
  named by `workload`);
- `demand`: a multiplier of every workload's demand (`peak_qps`, `concurrent_users`, a batch job's
  `requests`; counts rounded to whole users or requests, at least 1);
- `horizon_months`: whole months.

Every varied file is checked like a loaded one (ranges, rules) before anything is solved, so a bad
value is an input error naming `--vary`, not a failed point. Points are independent solves: run on
a local process pool (`jobs` workers; 1 = in this process) or on a Ray cluster (`ray_address`, the
optional `ray` extra). Workers read the workload file (and any trace or config.json it names) from
the same path, so a Ray cluster beyond this machine needs them on a shared file system.

Each point reports, per plan of the file's objective, the status, costs and GPU count, or why it has
no plan. `usd_per_month` is the plan's cost over the horizon per month (capex spread over it, as
`total_usd / horizon_months`), which compares rent with buy. The *knee* of each plan's curve is the
point farthest from the straight line through the first and last points with a plan, both axes
scaled to [0, 1] (the Kneedle construction, Satopää et al., ICDCS workshops 2011): where the cost
stops changing fast. A sweep needs at least three points with a plan for a knee.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InfeasibleError, InputError, PlannerError, Problem, SolverBug, SolverError
from planner.spec.loader import LoadedSpec, load_spec
from planner.spec.schema import ProblemSpec

__all__ = ["KEYS", "MAX_POINTS", "PointResult", "Sweep", "knee_index", "parse_vary", "run_sweep", "varied_spec"]

SLO_KEYS = ("slo.ttft_ms", "slo.tpot_ms", "slo.e2e_ms")
KEYS = (*SLO_KEYS, "demand", "horizon_months")
"""Keys a sweep can vary."""
MAX_POINTS = 200
"""Most values in one sweep (each is a full solve)."""


@dataclass(frozen=True)
class Sweep:
    """What to vary: `key` over `values`, for every workload or only `workload`."""

    key: str
    values: tuple[float, ...]
    workload: str | None = None


@dataclass
class PointResult:
    """One solved point: per plan (in the objective's order) a record, or why there is none."""

    value: float
    plans: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"
    """`ok`, `infeasible` or `no plan` (a solver limit without a plan)."""
    reason: str | None = None
    seconds: float = 0.0


def parse_vary(text: str, workload: str | None = None) -> Sweep:
    """`KEY=START:STOP:N` or `KEY=V1,V2,...` as a Sweep; InputError naming `--vary` otherwise."""
    def bad(message: str, expected: str | None = None) -> InputError:
        return InputError(Problem(message, key="--vary", expected=expected))

    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not spec.strip():
        raise bad(f"{text!r} has no values", "KEY=START:STOP:N or KEY=V1,V2,... (e.g. slo.ttft_ms=200:2000:10)")
    if key not in KEYS:
        raise bad(f"cannot vary {key!r}", "one of " + ", ".join(KEYS))
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 2:
                raise bad(f"{text!r}: N must be at least 2 (got {n})", "START:STOP:N with N >= 2")
            values = tuple(start + (stop - start) * i / (n - 1) for i in range(n))
        else:
            values = tuple(float(v) for v in spec.split(","))
    except ValueError:
        raise bad(f"{text!r}: values are not numbers", "KEY=START:STOP:N or KEY=V1,V2,...") from None
    if not all(math.isfinite(v) for v in values):
        raise bad(f"{text!r}: values must be finite numbers")
    if len(values) > MAX_POINTS:
        raise bad(f"{len(values)} values, more than {MAX_POINTS} solves", f"at most {MAX_POINTS} values")
    if len(set(values)) != len(values):
        raise bad(f"{text!r}: a value is repeated", "distinct values")
    if key == "horizon_months" and any(v != round(v) for v in values):
        odd = next(v for v in values if v != round(v))
        raise bad(f"horizon_months must be whole months (got {odd:g})", "START:STOP:N with whole steps, or a list")
    return Sweep(key, tuple(round(v, 9) for v in values), workload)


def varied_spec(spec: ProblemSpec, sweep: Sweep, value: float) -> ProblemSpec:
    """`spec` with `sweep.key` set to `value` (validated like a loaded file)."""
    data = spec.model_dump(mode="python")
    names = [w["name"] for w in data["workloads"]]
    if sweep.workload is not None and sweep.workload not in names:
        raise InputError(Problem(f"no workload named {sweep.workload!r}", key="--workload",
                                 expected="one of " + ", ".join(names)))
    chosen = [w for w in data["workloads"] if sweep.workload in (None, w["name"])]
    if sweep.key in SLO_KEYS:
        online = [w for w in chosen if w["slo"] is not None]
        if not online:
            raise InputError(Problem(f"{sweep.key} varies online workloads, and "
                                     f"{'workload ' + repr(sweep.workload) if sweep.workload else 'this file'} "
                                     "has none (batch jobs have no SLO)", key="--vary"))
        for w in online:
            w["slo"][sweep.key.split(".")[1]] = value
    elif sweep.key == "demand":
        for w in chosen:
            _scale_demand(w, value)
    else:
        data["horizon_months"] = int(round(value))
    try:
        return ProblemSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(Problem(f"{sweep.key}={value:g} gives {where}: {first['msg']}", key="--vary",
                                 expected="values within the key's range")) from None


def _scale_demand(w: dict[str, Any], m: float) -> None:
    if m <= 0:
        raise InputError(Problem(f"demand multiplier must be > 0 (got {m:g})", key="--vary"))
    t = w.get("traffic")
    if t is not None:
        if t.get("peak_qps") is not None:
            t["peak_qps"] = t["peak_qps"] * m
        if t.get("concurrent_users") is not None:
            t["concurrent_users"] = max(1, int(round(t["concurrent_users"] * m)))
    b = w.get("batch")
    if b is not None:
        b["requests"] = max(1, int(round(b["requests"] * m)))


def check_sweep(loaded: LoadedSpec, sweep: Sweep) -> None:
    """Every varied file is valid (raises InputError for the first value that is not)."""
    for value in sweep.values:
        varied_spec(loaded.spec, sweep, value)


def solve_point(path: str, sweep: Sweep, index: int, solver: str, time_limit_s: float, today: str | None,
                catalog_file: str | None, calibration: str | None = None) -> tuple[int, PointResult]:
    """Solve the file at `path` with `sweep.key` at its `index`-th value (a worker's whole job)."""
    import dataclasses
    import time

    from planner.catalog.store import load_catalog
    from planner.optimize.chain import solve_loaded

    value = sweep.values[index]
    loaded = load_spec(path)
    varied = dataclasses.replace(loaded, spec=varied_spec(loaded.spec, sweep, value))
    t0 = time.perf_counter()
    point = PointResult(value=value)
    try:
        out = solve_loaded(varied, solver, time_limit_s, catalog=load_catalog().with_calibration(calibration),
                           catalog_file=Path(catalog_file) if catalog_file else None,
                           today=date.fromisoformat(today) if today else None)
        point.plans = [plan_record(p) for p in out.plans]
    except InfeasibleError as exc:
        point.status, point.reason = "infeasible", str(exc)
    except SolverBug:
        raise
    except SolverError as exc:
        point.status, point.reason = "no plan", str(exc)
    point.seconds = time.perf_counter() - t0
    return index, point


def plan_record(p: Any) -> dict[str, Any]:
    """The figures of one plan a sweep keeps."""
    return {
        "pricing": p.pricing, "status": p.solution.status, "gap": p.solution.gap,
        "monthly_usd": p.monthly_usd, "capex_usd": p.capex_usd, "total_usd": p.total_usd,
        "usd_per_month": p.total_usd / p.horizon_months, "horizon_months": p.horizon_months,
        "gpus": sum(d.replicas * d.candidate.tp for d in p.deployments),
        "oldest_price_as_of": min((b.as_of for b in p.bom if b.as_of and b.category != "maintenance"), default=None),
    }


def run_sweep(loaded: LoadedSpec, sweep: Sweep, *, solver: str = "highs", time_limit_s: float = 60.0,
              today: date | None = None, catalog_file: Path | None = None, jobs: int | None = None,
              ray_address: str | None = None, progress: Callable[[str], None] | None = None,
              calibration: Path | None = None) -> list[PointResult]:
    """Solve every point of `sweep` on `loaded`'s file; results in the order of `sweep.values`."""
    check_sweep(loaded, sweep)
    if calibration is not None:
        from planner.catalog.store import load_catalog

        load_catalog().with_calibration(calibration)  # a bad overlay is an input error here, not in a worker
    say = progress or (lambda line: None)
    args = (str(Path(loaded.path).resolve()), sweep)
    rest = (solver, time_limit_s, today.isoformat() if today else None,
            str(Path(catalog_file).resolve()) if catalog_file else None,
            str(Path(calibration).resolve()) if calibration else None)
    n = len(sweep.values)
    results: dict[int, PointResult] = {}

    def done(index: int, point: PointResult) -> None:
        results[index] = point
        say(f"sweep: {len(results)}/{n} {sweep.key}={point.value:g}: {_point_text(point)}")

    if ray_address is not None:
        for index, point in _run_on_ray(ray_address, args, rest, n):
            done(index, point)
    else:
        workers = max(1, min(jobs or os.cpu_count() or 1, n))
        if workers == 1:
            for i in range(n):
                done(*solve_point(*args, i, *rest))
        else:
            _run_on_pool(workers, args, rest, n, done)
    return [results[i] for i in range(n)]


def _point_text(point: PointResult) -> str:
    if point.status != "ok":
        return point.status
    return ", ".join(f"{p['pricing']} ${p['usd_per_month']:,.0f}/month" for p in point.plans)


def _run_on_pool(workers: int, args: tuple, rest: tuple, n: int, done: Callable[[int, PointResult], None]) -> None:
    import concurrent.futures as cf
    import multiprocessing

    # spawn: a worker starts from a fresh interpreter, not from a copy of this one mid-solve.
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(solve_point, *args, i, *rest) for i in range(n)]
        for future in cf.as_completed(futures):
            done(*_result(future.result))


def _result(get: Callable[[], tuple[int, PointResult]]) -> tuple[int, PointResult]:
    try:
        return get()
    except PlannerError:
        raise
    except Exception as exc:  # a worker that died (killed, out of memory) is no user error
        raise SolverError(f"a sweep worker failed: {type(exc).__name__}: {exc}") from exc


def _run_on_ray(address: str, args: tuple, rest: tuple, n: int):
    """Yield (index, PointResult) from Ray tasks on the cluster at `address` (`local`: start one here)."""
    try:
        import ray
    except ImportError:
        raise InputError(Problem("Ray is not installed", key="--ray",
                                 expected="pip install 'planner[ray]', or leave out --ray for a local process pool")) \
            from None
    try:
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except Exception as exc:
        raise InputError(Problem(f"cannot connect to Ray at {address!r}: {exc}", key="--ray",
                                 expected="a Ray cluster address (e.g. auto, ray://HOST:10001) or local")) from None
    try:
        task = ray.remote(solve_point)
        pending = {task.remote(*args, i, *rest): i for i in range(n)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                yield _result(lambda ref=ref: ray.get(ref))
    finally:
        ray.shutdown()  # disconnect this driver (a cluster started with `local` stops with it)


def knee_index(xs: Sequence[float], ys: Sequence[float]) -> int | None:
    """Index of the knee of the curve through (xs, ys) (see the module docstring); None with fewer
    than three points or a flat or vertical curve."""
    if len(xs) < 3:
        return None
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0 or y1 == y0:
        return None
    px = [(x - x0) / (x1 - x0) for x in xs]
    py = [(y - y0) / (y1 - y0) for y in ys]
    ax, ay, bx, by = px[0], py[0], px[-1], py[-1]
    length = math.hypot(bx - ax, by - ay)
    dist = [abs((bx - ax) * (ay - y) - (ax - x) * (by - ay)) / length for x, y in zip(px, py)]
    best = max(range(1, len(xs) - 1), key=lambda i: (round(dist[i], 12), -i))
    return best if dist[best] > 1e-9 else None
