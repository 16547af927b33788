"""`report.html` (`planner.report.html`, written by `--out DIR`), read back with html.parser: a
well-nested page holding the plan's own figures (checked against plan.json from the same run),
the charts each plan calls for, every user-supplied name escaped, nothing loaded from outside,
and the same bytes on every run. The page in a real browser: tests/test_report_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from html_pages import (
    HOSTILE_DESCRIPTION,
    HOSTILE_MODEL_PATH,
    HOSTILE_NAME,
    HOSTILE_WORKLOAD,
    REPO,
    SEED001,
    TODAY,
    out_dir,
    parse,
    run_main,
)

from planner.report.format import short, signed_usd
from planner.text import usd

BOM_HEADER = ["item", "qty", "unit $", "total $", "kind", "as of", "source"]
DEPLOY_HEADER = ["workload", "model", "GPU", "prec", "TP", "replicas", "batch", "buckets", "pct", "TTFT ms", "TPOT ms",
                 "tok/s each", "cap. QPS", "demand QPS", "cap. used", "GiB/GPU", "bottleneck"]
PROMISE_HEADER = ["workload", "SLO pct", "latency", "SLO ms", "p50", "p90", "p99", "met by"]


def _plan_json(case: str) -> dict:
    return json.loads((out_dir(case) / "plan.json").read_text(encoding="utf-8"))


def _close(cell: str, value: float) -> bool:
    """A table cell ("1,499", "0.74", "76.9") shows `value` to the digits it prints."""
    decimals = len(cell.split(".")[1]) if "." in cell else 0
    return abs(float(cell.replace(",", "")) - value) <= 0.5 * 10 ** -decimals + 1e-9


@pytest.mark.parametrize("case", ["compare", "hybrid", "simulated", "hostile"])
def test_page_is_well_formed_with_unique_ids_and_nothing_from_outside(case):
    """Every element closed in order; ids unique across the inline charts (each chart's ids carry
    its name); no script, style sheet link, image, frame or embedded object; every src/href is a
    fragment of the page itself; the style sheet imports nothing."""
    text = (out_dir(case) / "report.html").read_text(encoding="utf-8")
    page = parse(out_dir(case) / "report.html")
    assert text.startswith("<!DOCTYPE html>\n") and page.errors == [] and page.stack == []
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids)) and len(ids) > 10
    names = {t for t, _ in page.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "base", "audio", "video", "source"}
    refs = [v for _, a in page.tags for k, v in a.items() if k in ("src", "href", "xlink:href", "action", "srcset")]
    assert refs and all(v.startswith("#") for v in refs), refs  # charts refer to their own markers and clips
    assert not [a for _, a in page.tags for k in a if k.startswith("on")]
    for _, attrs in page.tags:
        for k, v in attrs.items():
            if not k.startswith("xmlns"):  # namespace names, never fetched
                assert "://" not in (v or ""), (k, v)
    css = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert "url(" not in css and "@import" not in css


def test_compare_page_holds_the_plans_figures():
    """seed001 compare: the header (file, date, objective, status, oldest price and the staleness
    warning), one summary row per plan, the deployments and every BOM line with its full source
    and date, and the rent-or-buy figures, all as plan.json from the same run has them."""
    page = parse(out_dir("compare") / "report.html")
    data = _plan_json("compare")
    assert page.title == "seed001-qwen7b-50-users: deployment plan"
    assert page.facts == {
        "problem file": SEED001, "date": TODAY, "objective": "compare, 1 workload, 36-month horizon",
        "solver status": "optimal (highs)",
        "prices as of": f"oldest used {data['prices']['oldest_as_of']}; each bill-of-materials line gives its own date"}
    text = "".join(page.text)
    assert f"Warning: {data['prices']['warning']}." in text
    summary = page.table_with(["plan", "status", "capex", "monthly", "total over 36 months", "facility kW"])
    assert [r["plan"] for r in summary] == [p["pricing"] for p in data["plans"]] == ["rent", "buy"]
    for row, plan in zip(summary, data["plans"]):
        c = plan["cost"]
        assert (row["capex"], row["monthly"], row["total over 36 months"]) == (
            usd(c["capex_usd"]), usd(c["monthly_usd"]), usd(c["total_usd"]))
        assert row["status"] == plan["status"]
    for i, plan in enumerate(data["plans"]):
        deploy = page.table_with(DEPLOY_HEADER, i)
        assert [(r["workload"], r["GPU"], r["prec"], int(r["replicas"])) for r in deploy] == [
            (d["workload"], d["gpu"] + ("\u2020" if d["efficiency_factors"]["basis"] == "default" else ""),
             f"{d['precision']} {d['quality']['recovery_pct']:g}%" + ("*" if d["quality"]["basis"] == "fallback" else ""),
             d["replicas"]) for d in plan["deployments"]]
        bom = page.table_with(BOM_HEADER, i)
        assert [(r["item"], r["source"], r["as of"], r["kind"]) for r in bom] == [
            (b["item"], b["source"], b["as_of"], b["cost_kind"]) for b in plan["bom"]]
        assert all(_close(r["total $"], b["total_usd"]) for r, b in zip(bom, plan["bom"]))
    assert f"Rent utilisation threshold: {data['rent_utilization_threshold']:.3f} = " in text
    assert data["break_even_month"] is None and "Break-even: never within the 36-month horizon" in text
    by_month = page.table_with(["month", "rent", "buy", "buy - rent", "cheaper"])
    assert len(by_month) == 37  # months 0..36, every month up to a 60-month horizon
    assert (by_month[-1]["rent"], by_month[-1]["buy"]) == (
        signed_usd(data["cumulative_usd"]["rent"][-1]), signed_usd(data["cumulative_usd"]["buy"][-1]))


def test_compare_page_charts_draw_the_plans():
    """seed001 compare (rent and buy, one online workload, no hourly profile): the cost breakdown,
    the cumulative cost and one latency chart per plan, in page order, and no fleet chart. The
    charts' own text carries each plan's capex and monthly totals, every BOM category, the
    monthly rent of the cumulative chart's legend and the workload with its SLO limit."""
    page = parse(out_dir("compare") / "report.html")
    data = _plan_json("compare")
    assert list(page.charts) == ["cost-breakdown", "cumulative-cost", "latency-rent", "latency-buy"]
    cost = page.charts["cost-breakdown"]
    for plan in data["plans"]:
        assert signed_usd(plan["cost"]["capex_usd"]) in cost and signed_usd(plan["cost"]["monthly_usd"]) in cost
        assert {b["category"] for b in plan["bom"]} <= set(cost)
    rent = next(p for p in data["plans"] if p["pricing"] == "rent")
    assert f"rent ({signed_usd(rent['cost']['monthly_usd'])}/month)" in page.charts["cumulative-cost"]
    for pricing in ("rent", "buy"):
        chart = page.charts[f"latency-{pricing}"]
        assert "qwen7b-chat (SLO p90)" in chart and "SLO limit (at the SLO percentile)" in chart
        assert "predicted p99" in chart and not any(t.startswith("simulated") for t in chart)


def test_hourly_plans_get_a_fleet_chart():
    """hybrid-daily-profile: a fleet-by-hour chart exactly for the plans that scale by hour
    (`replicas_by_hour` in plan.json), naming each host type as rented, bought or on hand."""
    page = parse(out_dir("hybrid") / "report.html")
    data = _plan_json("hybrid")
    hourly = [p["pricing"] for p in data["plans"] if any("replicas_by_hour" in d for d in p["deployments"])]
    assert hourly  # the file has a daily profile: at least the all-rent plan scales by hour
    expected = ["cost-breakdown"]
    for p in data["plans"]:
        expected += ([f"fleet-{p['pricing']}"] if p["pricing"] in hourly else []) + [f"latency-{p['pricing']}"]
    assert list(page.charts) == expected
    for pricing in hourly:
        plan = next(p for p in data["plans"] if p["pricing"] == pricing)
        verbs = {"instance": "rented", "owned": "on hand"}
        labels = {f"{verbs.get(h['kind'], 'bought')}: {short(h['label'], 90)}" for h in plan["hosts"]}
        assert labels <= set(page.charts[f"fleet-{pricing}"])
        assert {"hour of day", "23"} <= set(page.charts[f"fleet-{pricing}"])


def test_simulated_page_shows_simulated_percentiles():
    """`planner simulate --out`: the latency charts carry the simulated series, and the SLO table
    the simulated rows with the attainment plan.json reports."""
    page = parse(out_dir("simulated") / "report.html")
    data = _plan_json("simulated")
    for i, plan in enumerate(data["plans"]):
        chart = page.charts[f"latency-{plan['pricing']}"]
        assert {"simulated p50", "simulated p90", "simulated p99"} <= set(chart)
        rows = {r["latency"]: r for r in page.table_with(PROMISE_HEADER, i)}
        (w,) = plan["workloads"]
        assert rows["TTFT simulated"]["met by"] == f"{w['simulated']['attainment']['ttft']:.1%}"
        assert _close(rows["TPOT simulated"]["p90"], w["simulated"]["tpot_ms"]["p90"])
    assert "every workload meets its SLO percentile" in "".join(page.text)


def test_user_text_is_escaped():
    """A problem whose name, description, workload name and model id are markup and script: the
    page shows each as text (the parsed text holds them verbatim) and none becomes an element or
    an attribute (no script, img or b tag, no on* handler)."""
    path = out_dir("hostile") / "report.html"
    page = parse(path)
    raw = path.read_text(encoding="utf-8")
    assert page.title == f"{HOSTILE_NAME}: deployment plan"
    text = "".join(page.text)
    model = _plan_json("hostile")["plans"][0]["deployments"][0]["model"]  # the config's _name_or_path, normalised
    assert model.startswith("<b") and "onmouseover" in model and model != HOSTILE_MODEL_PATH
    for hostile in (HOSTILE_NAME, HOSTILE_DESCRIPTION, HOSTILE_WORKLOAD, model):
        assert hostile in text
        assert hostile not in raw  # only its escaped form is in the file
    assert "&lt;script&gt;" in raw and "&lt;img src=x" in raw
    assert not {t for t, _ in page.tags} & {"script", "img", "b"}
    assert not [a for _, a in page.tags for k in a if k.startswith("on")]
    assert page.errors == [] and page.stack == []


def test_page_is_byte_identical_between_runs(tmp_path, monkeypatch):
    """The same problem, date and --no-timings give the same report.html: a second run in this
    process, and a third in a fresh interpreter with another hash seed (set order, clip-path ids
    and matplotlib's counters cannot leak in)."""
    first = (out_dir("compare") / "report.html").read_bytes()
    monkeypatch.chdir(REPO)
    code, _, err = run_main(["compare", SEED001, "--no-timings", "--today", TODAY, "--out", tmp_path / "a"])
    assert code == 0, err
    assert (tmp_path / "a" / "report.html").read_bytes() == first
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    run = subprocess.run([sys.executable, "-m", "planner", "compare", SEED001, "--no-timings", "--today", TODAY,
                          "--out", str(tmp_path / "b")], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "b" / "report.html").read_bytes() == first


def test_without_matplotlib_the_page_has_tables_and_a_note(run_cli, tmp_path, monkeypatch):
    """No matplotlib: report.html is still written with every table and a note instead of the
    charts; stderr says so once; exit 0."""
    monkeypatch.chdir(REPO)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    code, _, err = run_cli(["solve", SEED001, "--no-timings", "--today", TODAY, "--out", tmp_path / "o"])
    assert code == 0, err
    assert err.count("note: matplotlib is not installed") == 1 and "report.html has no charts" in err
    page = parse(tmp_path / "o" / "report.html")
    assert page.charts == {} and not {t for t, _ in page.tags} & {"svg", "figure"}
    assert "charts need matplotlib: install planner[plot]." in "".join(page.text)
    assert len(page.table_with(BOM_HEADER, 1)) > 1 and page.errors == []
