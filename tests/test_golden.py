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


def test_readme_test_command_is_what_ci_runs():
    """The README's test command (`python -m pytest`) is the one .ci/run runs."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in readme
    assert "python -m pytest" in ci and 'pip install --quiet ".[test]"' in ci
