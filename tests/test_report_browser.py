"""`report.html` in a real headless browser: Debian's Chromium (/usr/bin/chromium, installed by
`.ci/run`) driven by Playwright for Python, with no browser download and no network.

Each page loads from a file:// URL with no console error, no uncaught exception and no request
but the page itself; every chart is an inline SVG the browser lays out at a non-zero size with
its marks drawn, and fits the page's width. A page of user-supplied markup runs none of it.

Without Chromium or Playwright these tests are skipped on a developer's machine, and fail where
the CI variable is set (`.ci/run` exports CI=1), so CI cannot pass them by skipping.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
from html_pages import out_dir, parse

CHROMIUM = Path("/usr/bin/chromium")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

CHART_SIZES_JS = """() => {
    // Drawn marks: visible paths and markers outside the legend in a colour other than the black,
    // white and grey of axes, ticks, text, backgrounds and grid lines.
    const neutral = new Set(['none', 'rgb(0, 0, 0)', 'rgb(255, 255, 255)', 'rgb(176, 176, 176)']);
    const coloured = e => { const s = getComputedStyle(e); return !neutral.has(s.fill) || !neutral.has(s.stroke); };
    const visible = e => { const b = e.getBoundingClientRect(); return b.width > 0 || b.height > 0; };
    return [...document.querySelectorAll('svg[data-chart]')].map(svg => {
        const box = svg.getBoundingClientRect();
        const marks = [...svg.querySelectorAll('path, use')]
            .filter(e => !e.closest('g[id*="legend"]') && visible(e) && coloured(e)).length;
        return {chart: svg.dataset.chart, width: box.width, height: box.height, marks: marks,
                body: document.body.clientWidth};
    });
}"""


def expected_marks(plan_json: dict) -> dict[str, int]:
    """Chart → coloured marks it draws, from plan.json: a bar per (BOM category, plan) in each of
    the capex and monthly panels; the rent and buy lines (and the break-even line); a bar per
    (host type, hour); per latency panel (TTFT, TPOT, and E2E when an SLO limits it) a marker per
    (workload, p50/p90/p99, predicted/simulated) and a bar per SLO limit."""
    plans = plan_json["plans"]
    categories = {b["category"] for p in plans for b in p["bom"]}
    marks = {"cost-breakdown": 2 * len(categories) * len(plans)}
    if "cumulative_usd" in plan_json:
        marks["cumulative-cost"] = 2 + (plan_json["break_even_month"] is not None)
    for p in plans:
        if any("replicas_by_hour" in d for d in p["deployments"]):
            marks[f"fleet-{p['pricing']}"] = 24 * len(p["hosts"])
        online = [w for w in p["workloads"] if w["slo"] is not None]
        if not online:  # batch jobs only: no latency chart
            continue
        series = 2 if any("simulated" in w for w in online) else 1
        panels = ["ttft_ms", "tpot_ms"] + (["e2e_ms"] if any("e2e_ms" in w["slo"] for w in online) else [])
        limits = sum(w["slo"].get(k) is not None for w in online for k in panels)
        marks[f"latency-{p['pricing']}"] = len(panels) * len(online) * 3 * series + limits
    return marks


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module, each page in a fresh context; its profile in a fresh
    --user-data-dir."""
    why = _missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser test: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900}, offline=True)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def _load(context, path: Path) -> tuple[object, list[str], list[str]]:
    """Open `path` in a new tab: (page, problems seen: console errors and warnings and uncaught
    exceptions, URLs requested)."""
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, problems, requests


def test_the_harness_sees_errors(browser, tmp_path):
    """The checks below can fail: a page with a script error, a console error and an image from
    elsewhere is caught on all three counts."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><title>bad</title><script>console.error('boom'); undefinedCall();</script>"
                   '<img src="https://example.invalid/x.png">', encoding="utf-8")
    page, problems, requests = _load(browser, bad)
    page.close()
    assert any("boom" in p for p in problems) and any(p.startswith("page error") for p in problems)
    assert any("example.invalid" in r for r in requests)


def test_bare_axes_count_no_marks(browser, tmp_path):
    """The mark count below can fail: a chart of two empty panels with titles and labels, through
    the same SVG path as the report's charts, counts none; one line on it counts."""
    from matplotlib.figure import Figure

    from planner.report.html_charts import _svg

    def draw(line: bool):
        fig = Figure(figsize=(8, 3), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        fig.suptitle("empty")
        for ax in axes:
            ax.set_xlabel("x")
            ax.grid(True, alpha=0.3)
        if line:
            axes[0].plot([0, 1], [0, 1], color="tab:blue", label="one line")
            axes[0].legend()
        return fig

    path = tmp_path / "empty.html"
    path.write_text("<!DOCTYPE html><title>t</title>" + _svg("bare", "bare", lambda: draw(False))
                    + _svg("line", "line", lambda: draw(True)), encoding="utf-8")
    page, problems, _ = _load(browser, path)
    try:
        assert problems == []
        assert {s["chart"]: s["marks"] for s in page.evaluate(CHART_SIZES_JS)} == {"bare": 0, "line": 1}
    finally:
        page.close()


@pytest.mark.parametrize("case", ["compare", "hybrid", "simulated"])
def test_page_loads_cleanly_and_every_chart_renders(browser, case):
    """No console error or warning, no uncaught exception, nothing requested but the file; the
    charts the file holds (tests/test_report_html.py checks which) all laid out at a non-zero
    size no wider than the page, each with the marks its data calls for drawn in colour
    (`expected_marks`; bare axes count none, see test_bare_axes_count_no_marks)."""
    path = out_dir(case) / "report.html"
    page, problems, requests = _load(browser, path)
    try:
        assert problems == []
        assert requests == [path.resolve().as_uri()]
        assert page.title().endswith(": deployment plan")
        sizes = page.evaluate(CHART_SIZES_JS)
        assert [s["chart"] for s in sizes] == list(parse(path).charts) and len(sizes) >= 3
        for s in sizes:
            assert s["width"] > 200 and s["height"] > 100, s
            assert s["width"] <= s["body"] + 0.5, s
        plan_json = json.loads((path.parent / "plan.json").read_text(encoding="utf-8"))
        assert {s["chart"]: s["marks"] for s in sizes} == expected_marks(plan_json)
        assert page.evaluate("document.querySelectorAll('table').length") >= 4
    finally:
        page.close()


def test_page_of_hostile_names_runs_none_of_them(browser):
    """The problem's name, description and workload name are script and an img with an onerror
    handler (tests/html_pages.py): loaded, the page defines no `window.pwned`, requests nothing
    and shows the names as text."""
    path = out_dir("hostile") / "report.html"
    page, problems, requests = _load(browser, path)
    try:
        assert problems == [] and requests == [path.resolve().as_uri()]
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.evaluate("document.querySelectorAll('script, img').length") == 0
        assert "<script>window.pwned = 'name'</script>" in page.evaluate("document.querySelector('h1').textContent")
    finally:
        page.close()
