"""Errors a user can see, and the exit code each maps to.

Exit codes (house style): 0 ok, 1 internal bug, 2 bad input, 3 infeasible, 4 solver limit with no
plan. No click here: the CLI turns these into messages and exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_BUG = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_SOLVER_LIMIT = 4


class PlannerError(Exception):
    """Base of every error meant for the user; `exit_code` says how the CLI exits."""

    exit_code = EXIT_BUG

    def lines(self) -> list[str]:
        """The message, one problem per line."""
        return [str(self)]


@dataclass
class Problem:
    """One located defect in an input: `file:line:col: key.path: what; expected ...`."""

    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    key: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        loc = ""
        if self.file:
            loc = self.file
            if self.line is not None:
                loc += f":{self.line}"
                if self.col is not None:
                    loc += f":{self.col}"
            loc += ": "
        key = f"{self.key}: " if self.key else ""
        exp = f"; expected {self.expected}" if self.expected else ""
        return f"{loc}{key}{self.message}{exp}"


class InputError(PlannerError):
    """Bad user input (a file, an option, a name). Carries every problem found, not just the first."""

    exit_code = EXIT_INPUT

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (str, Problem)):
            problems = [problems if isinstance(problems, Problem) else Problem(problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class CatalogError(InputError):
    """A name that does not resolve against the catalogue, or a catalogue file that is malformed."""


class UnsupportedError(InputError):
    """A combination the hardware cannot run, e.g. FP8 compute on an Ampere GPU."""


@dataclass
class InfeasibleError(PlannerError):
    """No plan meets the constraints; `diagnosis` explains why, line by line."""

    summary: str
    diagnosis: list[str] = field(default_factory=list)
    exit_code = EXIT_INFEASIBLE

    def __str__(self) -> str:
        return self.summary

    def lines(self) -> list[str]:
        return [self.summary, *self.diagnosis]


class SolverError(PlannerError):
    """The solver failed or stopped at a limit without a plan."""

    exit_code = EXIT_SOLVER_LIMIT


class SolverBug(SolverError):
    """The solver refused the model planner built (duplicate names, an error status from MathOpt):
    a bug in planner, not a limit, so it exits as one."""

    exit_code = EXIT_BUG
