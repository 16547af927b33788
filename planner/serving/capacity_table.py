"""Measured capacity tables (`workloads[].capacity_table`): requests/s one replica of a deployment
serves within the workload's SLO, per length bucket, as measured rather than modelled.

This is Mélange's input (Griggs et al., "Mélange: Cost Efficient Large Language Model Serving by
Exploiting GPU Heterogeneity", arXiv 2404.14527; tyler-griggs/melange-release: a GPU type's
profiled maximum throughput per (input, output) size bucket under the SLO), written as a CSV:

    gpu,precision,tp,input_tokens,output_tokens,max_qps
    a10-24gb,fp16,1,100,100,2

One row per (deployment, bucket): `gpu` a catalogue id or alias, `precision` a weight precision,
`tp` 1, 2, 4 or 8, `input_tokens`/`output_tokens` the lengths of one of the workload's buckets
(its `lengths` entries, or its one `input_tokens`/`output_tokens` pair), `max_qps` > 0. A
deployment with no row for a bucket does not serve that bucket. Every defect is reported at once,
at its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.catalog.gpus import Gpu
from planner.catalog.precisions import Precision
from planner.catalog.store import Catalog
from planner.catalog.tables import CsvRow, read_csv
from planner.errors import InputError, Problem
from planner.serving.lengths import Bucket
from planner.serving.mix import LengthMix
from planner.spec.loader import LoadedSpec
from planner.spec.textfile import read_user_text
from planner.spec.values import MAX_QPS, TP_DEGREES

TABLE_COLUMNS = ("gpu", "precision", "tp", "input_tokens", "output_tokens", "max_qps")


@dataclass(frozen=True)
class MeasuredDeployment:
    """One deployment of a capacity table and its measured capacity per bucket."""

    gpu: Gpu
    precision: Precision
    tp: int
    max_qps: dict[int, float]
    """Bucket index (in the workload's mix) → requests/s one replica serves within the SLO."""
    source: str
    """`file:line, line, ...`: the rows it came from."""


def read_capacity_table(cat: Catalog, text: str, label: str, buckets: tuple[Bucket, ...]) -> list[MeasuredDeployment]:
    """The deployments of a capacity table, in order of first appearance; InputError listing every
    defect (unknown names, a TP degree not in 1/2/4/8, a bucket the workload does not have, a rate
    that is not in (0, 1e6], a (deployment, bucket) given twice), each at its line."""
    problems: list[Problem] = []
    index = {(b.input_tokens, b.output_tokens): i for i, b in enumerate(buckets)}
    known = ", ".join(f"{k[0]}/{k[1]}" for k in index)
    found: dict[tuple[str, str, int], tuple[Gpu, Precision, dict[int, float], list[int]]] = {}
    seen: dict[tuple[str, str, int, int], int] = {}
    for line, data in read_csv(text, label, TABLE_COLUMNS, error=InputError,
                               columns_hint=", ".join(TABLE_COLUMNS)):
        r = CsvRow(label, line, data, problems)
        names = {}
        for key, fn in (("gpu", cat.gpu), ("precision", cat.precision)):
            try:
                names[key] = fn(r.str(key))
            except InputError as exc:
                problems += [Problem(p.message, file=label, line=line, key=key, expected=p.expected) for p in exc.problems]
        tp = r.int("tp")
        if tp and tp not in TP_DEGREES:
            r._err("tp", f"must be one of {', '.join(map(str, TP_DEGREES))} (got {tp})")
        n_in, n_out, qps = r.int("input_tokens"), r.int("output_tokens"), r.num("max_qps")
        bucket = index.get((n_in, n_out))
        if bucket is None and n_in and n_out:
            r._err("input_tokens", f"no bucket of {n_in} in / {n_out} out in the workload",
                   f"the lengths of one of its buckets ({known})")
        if qps is not None and qps > MAX_QPS:
            r._err("max_qps", f"more than {MAX_QPS:,.0f} requests/s (got {qps:g})")
        if len(names) < 2 or tp not in TP_DEGREES or bucket is None or qps is None or qps > MAX_QPS:
            continue
        key = (names["gpu"].id, names["precision"].id, tp)
        if (*key, bucket) in seen:
            r._err("input_tokens", f"{key[0]} {key[1]} tp{tp} at {n_in} in / {n_out} out given twice (first at "
                                   f"line {seen[(*key, bucket)]})", "one row per deployment and bucket")
            continue
        seen[(*key, bucket)] = line
        entry = found.setdefault(key, (names["gpu"], names["precision"], {}, []))
        entry[2][bucket] = qps
        entry[3].append(line)
    if problems:
        raise InputError(problems)
    if not found:
        raise InputError(Problem("no rows", file=label, line=1, expected="one row per deployment and length bucket"))
    return [MeasuredDeployment(g, p, tp, rates, f"{label}:{', '.join(map(str, lines))}")
            for (_, _, tp), (g, p, rates, lines) in found.items()]


def workload_tables(loaded: LoadedSpec, cat: Catalog, mixes: dict[str, LengthMix]) -> dict[str, list[MeasuredDeployment]]:
    """Workload name → its capacity table's deployments, for workloads that give one; every
    defect of every table at once (InputError)."""
    problems: list[Problem] = []
    out: dict[str, list[MeasuredDeployment]] = {}
    for i, w in enumerate(loaded.spec.workloads):
        if w.capacity_table is None:
            continue
        label = w.capacity_table
        path = Path(label) if Path(label).is_absolute() else loaded.base_dir / label
        if not path.is_file():
            problems.append(loaded.problem(("workloads", i, "capacity_table"),
                                           f"no capacity table {label!r} (looked for {path})",
                                           "a CSV file, relative to the workload file"))
            continue
        try:
            out[w.name] = read_capacity_table(cat, read_user_text(path), str(path), mixes[w.name].buckets)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return out
