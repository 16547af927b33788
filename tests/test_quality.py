"""The quality of a precision (catalog/quality.csv, workloads[].min_quality) and the warning for GPU
families whose efficiency factors were not fitted.

Figures in the assertions come from the cited rows of catalog/quality.csv: Qwen's own benchmark
(Qwen2-7B-Instruct, average of MMLU, C-Eval and IFEval: BF16 66.9, GPTQ-Int4 and AWQ 64.1, so INT4
keeps 64.1 / 66.9 = 95.8 %), Neural Magic's Llama-3.1-70B-Instruct-FP8 card (84.29 / 84.40 =
99.87 %, rounded down to 99.8) and the INT4 fallback (the lowest INT4 row of the table, 95.8 %).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from planner.catalog.quality import MIN_QUALITY_PCT, load_quality, parse_quality
from planner.catalog.resolve import resolve
from planner.catalog.store import data_text
from planner.errors import CatalogError
from planner.optimize.candidates import generate, reason_counts
from planner.optimize.chain import solve_loaded
from planner.report.records import outcome_record
from planner.report.terminal import print_outcome
from planner.spec.loader import load_spec_text

HEADER = ("family,min_params_b,max_params_b,precision,recovery_pct,benchmark,measured_on,confidence,source,as_of,"
          "notes\n")
FALLBACKS = "".join(f"*,,,{p},{pct},b,m,low,s,2026-11-21,\n" for p, pct in (("fp16", 100), ("int4", 95)))


def _spec(model: str, precisions: str, min_quality: str | None, gpus: str = "l40s-48gb") -> str:
    mq = f"\n    min_quality: {min_quality}" if min_quality else ""
    return f"""
name: q
gpus: {{allow: [{gpus}]}}
planning: {{tp_degrees: [1, 2]}}
workloads:
  - name: chat
    model: {model}
    precisions: [{precisions}]{mq}
    traffic: {{peak_qps: 2, input_tokens: 512, output_tokens: 128}}
    slo: {{ttft_ms: 2000, tpot_ms: 100}}
"""


def test_shipped_table_parses_and_has_a_fallback_per_precision(cat):
    table = load_quality()
    fallbacks = {q.precision for q in table.rows if q.fallback}
    assert fallbacks == set(cat.precisions.rows)
    assert all(q.source and q.as_of and q.benchmark for q in table.rows)


def test_a_bad_row_is_located():
    """Line 4 (the third data row) names an unknown family and a recovery above 100 %: both are
    reported at that line, with the column."""
    text = HEADER + FALLBACKS + "lama,,20,int4,101,b,m,high,s,2026-11-21,\n"
    with pytest.raises(CatalogError) as info:
        parse_quality(text, "catalog/quality.csv", {"llama", "qwen"}, {"fp16", "int4"})
    msg = str(info.value)
    assert "catalog/quality.csv:4" in msg and "family" in msg and "unknown family 'lama'" in msg
    assert "recovery_pct" in msg and "at most 100" in msg


def test_overlaps_missing_fallbacks_and_a_fallback_above_a_row_are_errors():
    text = (HEADER + "*,,,fp16,100,b,m,low,s,2026-11-21,\n*,,,int4,97,b,m,low,s,2026-11-21,\n"
            "qwen,,20,int4,96,b,m,high,s,2026-11-21,\nqwen,10,,int4,99,b,m,high,s,2026-11-21,\n")
    with pytest.raises(CatalogError) as info:
        parse_quality(text, "q.csv", {"qwen"}, {"fp16", "int4", "fp8"})
    msg = str(info.value)
    assert "q.csv:5" in msg and "overlaps" in msg          # [10, inf) overlaps [0, 20)
    assert "q.csv:3" in msg and "above this row's 96 %" in msg  # the fallback 97 % > the qwen row's 96 %
    assert "no fallback row for precision 'fp8'" in msg


def test_family_row_and_fallback_lookup(cat):
    table = load_quality()
    q = table.figure(cat.model("qwen2.5-7b"), "int4")
    assert (q.family, q.recovery_pct) == ("qwen", 95.8)
    big = table.figure(cat.model("llama-3.1-70b"), "fp8")
    assert (big.family, big.recovery_pct) == ("llama", 99.8)
    # Mistral has no row: the INT4 fallback (the lowest INT4 figure of the table) applies.
    fb = table.figure(cat.model("mistral-7b"), "int4")
    assert fb.fallback and fb.recovery_pct == 95.8
    assert fb.recovery_pct == min(r.recovery_pct for r in table.rows if r.precision == "int4")


def test_min_quality_rejects_int4_below_the_threshold(cat):
    """Qwen2.5-7B at INT4 keeps 95.8 % < 98 % (near_lossless): every INT4 deployment is rejected with
    the reason `below min_quality`; FP16 (100 %) stays. With `any`, INT4 deployments are admitted."""
    strict = generate(resolve(load_spec_text(_spec("qwen2.5-7b", "fp16, int4", "near_lossless"), "q.yaml"), cat))
    below = [r for r in strict.rejections if r.reason == "below min_quality"]
    assert below and {r.precision for r in below} == {"int4"}
    assert reason_counts(strict.rejections)["below min_quality"] == len(below) == 2  # one GPU x TP 1, 2
    assert "95.8 %" in below[0].detail and "near_lossless" in below[0].detail
    assert below[0].miss_ratio == pytest.approx(98.0 / 95.8)
    assert {c.precision for c in strict.candidates} == {"fp16"}
    loose = generate(resolve(load_spec_text(_spec("qwen2.5-7b", "fp16, int4", None), "q.yaml"), cat))
    assert "int4" in {c.precision for c in loose.candidates}
    assert not [r for r in loose.rejections if r.reason == "below min_quality"]


def test_fallback_row_decides_for_an_unlisted_family(cat):
    """Mistral has no INT4 row: the fallback's 95.8 % is below lossless (99.5 %), so INT4 is rejected."""
    assert MIN_QUALITY_PCT["lossless"] == 99.5
    cs = generate(resolve(load_spec_text(_spec("mistral-7b", "int4", "lossless"), "q.yaml"), cat))
    assert not cs.candidates
    (r, *_) = [r for r in cs.rejections if r.reason != "filtered out"]
    assert r.reason == "below min_quality" and "fallback" in r.detail


def _outcome(gpus: str):
    return solve_loaded(load_spec_text(_spec("llama-3.1-70b", "fp8", None, gpus), "q.yaml"))


def test_plan_shows_quality_and_warns_on_default_factors(capsys):
    """B200 (Blackwell) has no row in catalog/efficiency.csv: the plan's deployment says `default`,
    and the JSON, terminal and Markdown carry the warning; on H100 (Hopper, fitted) there is none."""
    import datetime as dt

    from planner.report.markdown import outcome_markdown

    today = dt.date(2026, 11, 21)
    blackwell = _outcome("b200")
    rec = json.loads(json.dumps(outcome_record(blackwell, False, today)))
    (d,) = rec["plans"][0]["deployments"]
    assert d["efficiency_factors"] == {"gpu_family": "blackwell", "basis": "default", "engine": "vllm",
                                       "engine_basis": "default"}
    assert d["quality"]["recovery_pct"] == 99.8 and d["quality"]["basis"] == "family"
    factor = [w for w in rec["warnings"] if "family" in w]  # the rest: single points of failure
    assert len(factor) == 1 and factor[0].startswith("b200-180gb (blackwell family")
    print_outcome(blackwell, False, today)
    text = capsys.readouterr().out
    assert "warning: b200-180gb (blackwell family" in text and "b200-180gb\u2020" in text and "99.8%" in text
    assert "**Warning:** b200-180gb (blackwell family" in outcome_markdown(blackwell, False, today)

    hopper = _outcome("h100")
    rec = outcome_record(hopper, False, today)
    assert [w for w in rec["warnings"] if "family" in w] == []
    assert {d["efficiency_factors"]["basis"] for d in rec["plans"][0]["deployments"]} == {"fitted"}
    print_outcome(hopper, False, today)
    assert "blackwell" not in capsys.readouterr().out


def test_a_calibration_overlay_counts_as_fitted(cat):
    """A --calibration overlay that gives the Blackwell family its own factors clears the warning."""
    from planner.catalog.precisions import parse_efficiency

    shipped = parse_efficiency(*data_text("efficiency.csv"))
    calibrated = replace(cat, efficiency={**shipped, "blackwell": replace(shipped["hopper"], family="blackwell")})
    assert not cat.factors_fitted(cat.gpu("b200")) and calibrated.factors_fitted(cat.gpu("b200"))
