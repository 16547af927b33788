"""A workload's request-length mix: the buckets it is planned with, where they came from, and its
arrival burstiness.

A workload gives its lengths one of three ways (`planner.spec.schema`): one `input_tokens` /
`output_tokens` pair (one bucket of share 1), a `lengths` list of buckets, or a `trace` CSV that
`planner.serving.lengths.summarise` turns into at most `trace_buckets` buckets. The trace's own
arrival times, when it has them, give the burstiness (`arrival_cv`) unless the file sets one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.errors import InputError, Problem
from planner.serving.lengths import Bucket, Trace, buckets_from_list, interarrival_cv, read_trace, summarise
from planner.spec.loader import LoadedSpec


@dataclass(frozen=True)
class LengthMix:
    """The request lengths of one workload, as planned."""

    buckets: tuple[Bucket, ...]
    """Length buckets, sorted by (input, output) tokens; shares sum to 1."""
    arrival_cv: float
    """Coefficient of variation of the times between arrivals (1 = Poisson)."""
    source: str
    """`one length`, `lengths` or `trace FILE` (as the user wrote it)."""
    trace: Trace | None = None
    """The trace itself, when the lengths came from one (the simulation draws its rows)."""


def workload_mixes(loaded: LoadedSpec) -> dict[str, LengthMix]:
    """Workload name → its length mix; every trace defect of the file reported at once (InputError)."""
    problems: list[Problem] = []
    out: dict[str, LengthMix] = {}
    for i, w in enumerate(loaded.spec.workloads):
        section = "traffic" if w.traffic is not None else "batch"
        demand = w.demand
        cv_given = w.traffic.arrival_cv if w.traffic is not None else None
        if demand.trace is not None:
            label = demand.trace
            path = Path(label) if Path(label).is_absolute() else loaded.base_dir / label
            if not path.is_file():
                problems.append(loaded.problem(("workloads", i, section, "trace"),
                                               f"no trace file {label!r} (looked for {path})",
                                               "a CSV file, relative to the workload file"))
                continue
            try:
                trace = read_trace(path, str(path))
            except InputError as exc:
                problems.extend(exc.problems)
                continue
            cv = cv_given if cv_given is not None else (interarrival_cv(trace.arrival_s)
                                                        if trace.arrival_s is not None else None)
            out[w.name] = LengthMix(tuple(summarise(trace, demand.trace_buckets)), cv if cv else 1.0,
                                    f"trace {label}", trace)
        elif demand.lengths is not None:
            buckets = sorted(buckets_from_list(demand.lengths), key=lambda b: (b.input_tokens, b.output_tokens))
            out[w.name] = LengthMix(tuple(buckets), cv_given or 1.0, "lengths")
        else:
            n_in, n_out = demand.input_tokens, demand.output_tokens
            out[w.name] = LengthMix((Bucket(n_in, n_out, 1.0, n_in + n_out),), cv_given or 1.0, "one length")
    if problems:
        raise InputError(problems)
    return out
