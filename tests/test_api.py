"""The facade (`planner.api`, re-exported by `planner`): one call per step, results as frames.

Every figure is checked against what the CLI's JSON contract gives for the same input, so the
facade and the command line cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import planner
from planner.errors import InputError
from planner.report.records import BOM_COLUMNS, DEPLOYMENT_COLUMNS

REPO = Path(__file__).resolve().parent.parent
SEED001 = REPO / "problems" / "seed001-qwen7b-50-users.yaml"
TODAY = dt.date(2026, 11, 21)


@pytest.fixture(scope="module")
def seed001():
    return planner.plan(SEED001, today=TODAY)


def test_plan_frames_match_the_json_contract(seed001, run_cli):
    """`to_frame()` has one row per deployment line of every plan (the columns of deployments.csv),
    `bom_frame()` one per bill-of-materials line; both equal the `planner solve --format json` values."""
    code, out, _ = run_cli(["solve", str(SEED001), "--format", "json", "--no-timings", "--today", TODAY.isoformat()])
    assert code == 0
    data = json.loads(out)
    frame = seed001.to_frame()
    assert list(frame.columns) == list(DEPLOYMENT_COLUMNS)
    rows = [d for p in data["plans"] for d in p["deployments"]]
    assert len(frame) == len(rows) == 2  # seed001 is a compare file: one rent and one buy deployment
    assert frame["replicas"].tolist() == [d["replicas"] for d in rows]
    assert frame["ttft_ms"].round(4).tolist() == [d["ttft_ms"] for d in rows]
    bom = seed001.bom_frame()
    assert list(bom.columns) == list(BOM_COLUMNS)
    assert bom["total_usd"].round(4).tolist() == [b["total_usd"] for p in data["plans"] for b in p["bom"]]  # JSON: 4 digits
    assert json.loads(seed001.to_json()) == data


def test_to_html_is_the_out_dirs_report(seed001, run_cli, tmp_path):
    """`to_html()` is the report.html that `planner solve --out` writes for the same file and date."""
    code, _, err = run_cli(["solve", str(SEED001), "--no-timings", "--today", TODAY.isoformat(), "--out", tmp_path])
    assert code == 0, err
    assert seed001.to_html() == (tmp_path / "report.html").read_text(encoding="utf-8")


def test_compare_gives_the_break_even(seed001):
    """seed001 as a comparison: renting $285 a month, buying (an office tower) $10,700 + $165 a month,
    so buying pays back in ceil(10,700 / 120) = 90 months, past the 36-month horizon (README, Rent
    or buy), and the threshold is (10,700 + 36 x 164.71) / (36 x 284.70) = 1.6225."""
    cmp = planner.compare(SEED001, today=TODAY).comparison
    assert cmp is not None and cmp.break_even_month is None
    assert cmp.rent_utilization_threshold == pytest.approx(1.6225, abs=1e-4)


def test_estimate_frame_matches_the_estimate(run_cli):
    """The README's estimate (Llama-3-70B, 2 x A100, FP16, 2,000 in / 256 out): TTFT 722.3 ms and
    TPOT 70.35 ms, as `planner estimate --format json` prints."""
    est = planner.estimate("llama-3-70b", "a100", "fp16", tp=2, input_tokens=2000, output_tokens=256)
    frame = est.to_frame()
    assert len(frame) == 1
    assert frame.loc[0, "ttft_ms"] == pytest.approx(722.3, abs=0.05)
    assert frame.loc[0, "tpot_ms"] == pytest.approx(70.35, abs=0.005)
    assert frame.loc[0, "mem_total_gib_per_gpu"] == pytest.approx(71.03, abs=0.005)


def test_load_reports_bad_input_as_an_input_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nobjective: rent\n", encoding="utf-8")
    with pytest.raises(InputError):
        planner.load(bad)


def test_load_reports_unknown_names_with_schema_errors(tmp_path):
    """As on the command line: a schema error (horizon 0) and an unknown model in one file are
    reported together by `planner.load` (lines 2 and 5), and so by `planner.plan`."""
    path = tmp_path / "names.yaml"
    path.write_text("""\
name: tiny
horizon_months: 0
gpus: {allow: [l4-24gb]}
workloads:
  - {name: chat, model: qwen-7bb, traffic: {peak_qps: 2, input_tokens: 512, output_tokens: 128},
     slo: {ttft_ms: 1000, tpot_ms: 60}}
""", encoding="utf-8")
    for call in (planner.load, planner.plan):
        with pytest.raises(InputError) as exc:
            call(path)
        lines = exc.value.lines()
        assert len(lines) == 2 and lines[0].startswith(f"{path}:2:") and lines[1].startswith(f"{path}:5:")
        assert "unknown model 'qwen-7bb'" in lines[1]


def test_readme_python_session_runs_as_shown(monkeypatch):
    """The README's Python API session (under `<!-- api-example -->`) gives the output it shows."""
    import doctest
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- api-example -->\n```python\n(.*?)```", readme, re.S)
    assert block, "README has no api-example block"
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    test = doctest.DocTestParser().get_doctest(block.group(1), {}, "README api-example", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test, out=lambda text: pytest.fail(text))
    assert result.attempted >= 8 and result.failed == 0
