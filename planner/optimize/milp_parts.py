"""Small pieces of the fleet MILP's building and solving: which hosts are chosen hour by hour,
distinct variables, the name check, and keeping solver output off stdout."""

from __future__ import annotations

import contextlib
import os
import sys

from planner.errors import SolverBug
from planner.money.costs import HostType


def hourly(h: HostType, periods: int) -> bool:
    """Rented instances are chosen hour by hour when there are hourly periods; the rest is static."""
    return periods > 1 and h.kind == "instance"


def distinct(variables: list) -> list:
    """The distinct variables of a per-period list (a static host repeats one variable)."""
    out, seen = [], set()
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def check_unique_names(model) -> None:
    """MathOpt rejects duplicate names with an opaque StatusNotOk; say which name instead."""
    seen: set[str] = set()
    for name in [v.name for v in model.variables()] + [c.name for c in model.linear_constraints()]:
        if name in seen:
            raise SolverBug(f"internal: duplicate MILP name {name!r} (a bug in planner)")
        seen.add(name)


@contextlib.contextmanager
def solver_output_to_stderr():
    """Route what a solver's C++ code writes to the process's stdout (file descriptor 1) to stderr
    while it runs, so stdout carries only the report (a stray line would break `--format json`)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real descriptor 1 (an embedding host): nothing to guard
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
