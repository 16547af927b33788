"""The `planner` command line (thin: parse -> call the chain -> render -> exit code)."""

from planner.cli.app import cli, main

__all__ = ["cli", "main"]
