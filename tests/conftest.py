"""Shared fixtures: the shipped catalogue, and a runner for the command line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from planner.catalog.store import Catalog, load_catalog
from planner.cli import main


@pytest.fixture(autouse=True)
def _fixed_table_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables print at their fixed width for piped output whatever the shell running the tests
    exports: COLUMNS is honoured by the CLI (tests that need it set it themselves)."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def cat() -> Catalog:
    """The shipped catalogue, as `planner.catalog.load_catalog()` returns it."""
    return load_catalog()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """Call `planner.cli.main(argv)` and return (exit_code, stdout, stderr).

    `main` returns the exit code (it never calls sys.exit); its output goes through click.echo and
    rich to sys.stdout / sys.stderr, which capsys captures.
    """

    def run(argv: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before this call
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden/* from the current output.")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
