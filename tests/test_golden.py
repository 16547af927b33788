"""End-to-end goldens: the README's quickstart output, byte for byte (no timings in it).

Refresh after an intended change with `python -m pytest --update-golden`, then review the diff.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
QUICKSTART = ["estimate", "--model", "llama-3-70b", "--gpu", "a100", "--precision", "fp16", "--tp", "2",
              "--input-tokens", "2000", "--output-tokens", "256"]


def test_quickstart_estimate_matches_golden_and_readme(run_cli, update_golden):
    """The README's quickstart command prints exactly the golden, and the README shows that golden."""
    code, out, err = run_cli(QUICKSTART)
    assert code == 0, err
    path = GOLDEN / "quickstart_estimate.txt"
    if update_golden:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert out in readme, "README quickstart block is stale: paste tests/golden/quickstart_estimate.txt into it"
    assert "planner " + " ".join(QUICKSTART) in readme


SOLVE_QUICKSTART = ["solve", "problems/seed001-qwen7b-50-users.yaml", "--no-timings", "--today", "2026-11-21"]


def test_quickstart_solve_matches_golden_and_readme(run_cli, update_golden):
    """The README's solve quickstart prints exactly the golden, and the README shows it; the
    README's set-up command solves the same shipped example."""
    code, out, err = run_cli(SOLVE_QUICKSTART)
    assert code == 0, err
    path = GOLDEN / "quickstart_solve.txt"
    if update_golden:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert out in readme, "README quickstart block is stale: paste tests/golden/quickstart_solve.txt into it"
    assert "$ planner " + " ".join(SOLVE_QUICKSTART) in readme
    assert 'pip install . && planner solve problems/seed001-qwen7b-50-users.yaml' in readme


def test_readme_field_table_matches_the_schema():
    """Every key of the workload schema appears in the README's field table with its type (and
    range), default and description exactly as `field_reference()` gives them."""
    from planner.spec.fields import field_reference

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key, type_text, default, desc in field_reference():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None, f"README field table lacks {key}"
        cells = " | ".join(c.replace("|", "\\|") for c in (type_text, default, desc))
        assert row == f"| `{key}` | {cells} |", f"README field table row for {key} is stale"


def test_readme_lists_every_constraint_family_and_problem():
    from planner.optimize.milp import CONSTRAINT_FAMILIES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for family, meaning in CONSTRAINT_FAMILIES.items():
        assert f"| `{family}` | {meaning} |" in readme
    for path in sorted((REPO / "problems").glob("*.yaml")):
        assert f"| `{path.name}` |" in readme, f"README does not list problems/{path.name}"


def test_readme_test_command_is_what_ci_runs():
    """The README's test command (`python -m pytest`) is the one .ci/run runs."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in readme
    assert "python -m pytest" in ci and 'pip install --quiet ".[test]"' in ci
