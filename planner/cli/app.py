"""Command line: parse -> call -> render -> exit code. No formulas here.

Exit codes: 0 ok, 1 internal bug, 2 bad input, 3 infeasible, 4 solver limit with no plan.
Tracebacks only with --debug.
"""

from __future__ import annotations

import io
import logging
import os
import sys

import click

from planner.cli.calibrate_cmd import calibrate_cmd
from planner.cli.catalog_cmd import catalog_group
from planner.cli.estimate_cmd import estimate_cmd, validate_cmd
from planner.cli.export_cmd import export_cmd
from planner.cli.plan_cmd import candidates_cmd, compare_cmd, simulate_cmd, solve_cmd
from planner.cli.schema_cmd import schema_cmd
from planner.cli.sweep_cmd import sweep_cmd
from planner.errors import EXIT_BUG, EXIT_INPUT, PlannerError


class _State:
    debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="planner")
def cli(debug: bool) -> None:
    """Plan LLM inference deployments: which GPUs, which precision, how split, how many."""
    _State.debug = debug


for _command in (catalog_group, estimate_cmd, validate_cmd, calibrate_cmd, candidates_cmd, solve_cmd, simulate_cmd,
                 compare_cmd, export_cmd, schema_cmd, sweep_cmd):
    cli.add_command(_command)


EXIT_CLOSED_PIPE = 0
"""Exit code when the reader of stdout went away (`planner solve x | head -1`): the reader has what it
asked for, so nothing failed; planner stops quietly (no message, no traceback)."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map PlannerError to its exit code, anything else to exit 1 (bug); a closed
    stdout pipe ends quietly with EXIT_CLOSED_PIPE."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    if debug:
        logging.getLogger("planner.solver").setLevel(logging.DEBUG)  # solver output on stderr
    stdout_was_devnull = _is_devnull(sys.stdout)
    try:
        cli.main(args=args, prog_name="planner", standalone_mode=False)
    except BrokenPipeError:
        return _closed_pipe()
    except SystemExit as exc:
        # On a closed pipe click (EPIPE) and rich (Console.on_broken_pipe, which first points stdout
        # at /dev/null) both raise SystemExit(1): that is no bug, and there is nobody to tell.
        if exc.code == 1 and (type(sys.stdout).__name__.endswith("PacifyFlushWrapper")
                              or (_is_devnull(sys.stdout) and not stdout_was_devnull)):
            return _closed_pipe()
        raise
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_BUG
    except click.ClickException as exc:
        exc.show()
        return EXIT_INPUT if exc.exit_code == 2 else exc.exit_code
    except PlannerError as exc:
        if debug:
            raise
        for line in exc.lines():
            click.echo(f"error: {line}", err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("This is a bug in planner. Re-run with --debug for the traceback and report it.", err=True)
        return EXIT_BUG
    return 0


def _is_devnull(stream) -> bool:
    """True when `stream`'s file descriptor is /dev/null."""
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.stat(os.devnull))
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _closed_pipe() -> int:
    """Point stdout at /dev/null, so the interpreter's last flush finds no broken pipe, and give
    EXIT_CLOSED_PIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return EXIT_CLOSED_PIPE
