"""The shipped efficiency factors are exactly what the fit (`planner.perf.fit`, run by
tools/fit_efficiency.py) finds on the shipped measurements: the data in catalog/efficiency.csv is
reproducible, not hand-tuned; and the tool, `planner calibrate` and this test run one fit, not copies."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from planner.perf import calibration as V
from planner.perf import fit

REPO = Path(__file__).resolve().parent.parent


def _tool_module():
    spec = importlib.util.spec_from_file_location("fit_efficiency", REPO / "tools" / "fit_efficiency.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tool_runs_the_package_fit():
    """tools/fit_efficiency.py fits with the package's functions themselves (no copy of the fit)."""
    tool = _tool_module()
    assert tool.fit_all is fit.fit_all and tool.fit is fit.fit


def test_efficiency_tables_are_reproduced_by_the_fit(cat):
    """Run the shipped fit (families, then engines, then families again) and compare the tables the
    tool writes with catalog/efficiency.csv and catalog/engine_factors.csv, byte for byte."""
    data = REPO / "catalog" / "measured" / "calibration.csv"
    cases, _ = V.read_cases(cat, data.read_text(encoding="utf-8"), str(data))
    result = fit.fit_all(cases)
    assert set(result.families) == set(cat.efficiency)
    assert result.engines["trtllm"][0].basis == "reference"
    for name, text in _tool_module().tables(result).items():
        assert text == (REPO / "catalog" / name).read_text(encoding="utf-8"), name
