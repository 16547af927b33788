"""Helpers of the `report.html` tests (tests/test_report_html.py, tests/test_report_browser.py): the
`--out` directories of a few solves, written once per test session, and a parser that reads a
page back into tags, tables, chart ids and chart text.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import json
import os
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from planner.cli import main

REPO = Path(__file__).resolve().parent.parent
TODAY = "2026-11-21"
SEED001 = "problems/seed001-qwen7b-50-users.yaml"
HYBRID = "problems/hybrid-daily-profile.yaml"

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

HOSTILE_NAME = "<script>window.pwned = 'name'</script>"
HOSTILE_DESCRIPTION = "</style><script>window.pwned = 'description'</script> & more"
HOSTILE_WORKLOAD = "<img src=x onerror=\"window.pwned = 'workload'\"> & \"quoted\""
HOSTILE_MODEL_PATH = "<b onmouseover=alert(1)>model</b>"
"""A config.json's `_name_or_path`: the model's id is this, lower-cased, spaces as hyphens."""


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """`planner.cli.main(argv)` with stdout and stderr captured: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@functools.cache
def _session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="planner-report-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def write_hostile_problem(folder: Path) -> Path:
    """A rent problem whose name, description, workload name and model id (from a config.json)
    are HTML and script; returns the YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m").mkdir(exist_ok=True)
    cfg = {"_name_or_path": HOSTILE_MODEL_PATH, "hidden_size": 4096, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
           "max_position_embeddings": 8192, "tie_word_embeddings": False}
    (folder / "m" / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    spec = {"name": HOSTILE_NAME, "description": HOSTILE_DESCRIPTION, "objective": "rent",
            "gpus": {"allow": ["rtx-3090", "l4"]},
            "workloads": [{"name": HOSTILE_WORKLOAD, "model": "m/config.json",
                           "traffic": {"peak_qps": 1, "input_tokens": 512, "output_tokens": 100},
                           "slo": {"ttft_ms": 2000, "tpot_ms": 100}}]}
    path = folder / "hostile.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    return path


CASES = {
    "compare": ["compare", SEED001],
    "hybrid": ["solve", HYBRID],
    "simulated": ["simulate", SEED001, "--duration-s", "30"],
    "hostile": None,
}
"""Name → the command whose --out directory the tests read (hostile: the problem above)."""


@functools.cache
def out_dir(case: str) -> Path:
    """The --out directory of CASES[case], solved once per session (run from the repository root,
    `--no-timings --today 2026-11-21`, so the pages are byte-identical between runs)."""
    target = _session_dir() / case
    argv = CASES[case]
    if argv is None:
        argv = ["solve", write_hostile_problem(_session_dir() / "hostile-problem")]
    with _chdir(REPO):
        code, _out, err = run_main([*argv, "--no-timings", "--today", TODAY, "--out", target])
    assert code == 0, err
    return target


@contextlib.contextmanager
def _chdir(path: Path):
    """contextlib.chdir, which Python 3.10 lacks."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class Page(HTMLParser):
    """A page read back: every start tag with its attributes, nesting errors, tables (rows of cell
    text), the header's facts (`dt` → `dd`), the text of each chart (`svg[data-chart]`) and of
    the title, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.stack: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.charts: dict[str, list[str]] = {}
        self.title = ""
        self.facts: dict[str, str] = {}
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._chart: str | None = None
        self._term = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th", "dt", "dd"):
            self._cell = []
        elif tag == "svg" and a.get("data-chart"):
            self._chart = a["data-chart"]
            if self._chart in self.charts:
                self.errors.append(f"chart {self._chart} twice")
            self.charts[self._chart] = []

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in ("dt", "dd") and self._cell is not None:
            text = "".join(self._cell).strip()
            if tag == "dt":
                self._term = text
            else:
                self.facts[self._term] = text
            self._cell = None
        elif tag == "svg" and self._chart is not None and "svg" not in self.stack:
            self._chart = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._chart is not None:
            self.charts[self._chart].append(data)
        if self.stack and self.stack[-1] == "title":
            self.title += data

    def table_with(self, header: list[str], nth: int = 0) -> list[dict[str, str]]:
        """The nth table whose header row is `header`, as one dict per body row."""
        found = [t for t in self.tables if t and t[0] == header]
        assert len(found) > nth, f"no table #{nth} with header {header}"
        return [dict(zip(header, row)) for row in found[nth][1:]]


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page
