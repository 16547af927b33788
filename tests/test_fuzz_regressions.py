"""Regressions from the fuzz run (12,000 generated inputs): each reproducer through the command line
(`planner.cli.main` in-process, or the `planner` program where a pipe is needed), with its exit
code, its located message, and, for the inputs that used to hang, a wall-clock bound.

Time bounds: each fixed reproducer takes well under a second on a 2-core machine (the many-key
files, whose PyYAML parse alone is ~0.3 s, the most). The bounds below are 2 s, or 3 s for the
many-key files, so a loaded CI machine does not make them flaky; before the fixes these inputs
took 20 s to many minutes. A hard stop (SIGALRM, `HARD_STOP_S`) turns a hang into a failure
instead of a stuck test run.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from planner.cli import main

REPO = Path(__file__).resolve().parent.parent
HARD_STOP_S = 30
"""A reproducer still running after this many seconds fails the test (it used to hang)."""
FAST_S = 2.0
"""Bound for a fixed reproducer that should take milliseconds."""
MANY_KEYS_S = 3.0
"""Bound for the many-key files (a few thousand keys: the YAML parse itself takes ~0.3 s)."""

CSV_HEADER = ("model,gpu,num_gpus,tp,pp,precision_weights,precision_kv,batch_size_or_concurrency,"
              "input_len,output_len,metric,value")
"""The 12 required columns of a measurements file (catalog/measured/calibration.csv has more)."""
GOOD_ROW = "Llama-3.1-8B,A100-SXM4-80GB,1,1,1,fp16,fp16,1,128,128,tpot_ms,20"
"""A predictable row: Llama-3.1-8B, one A100 80GB, FP16, batch 1, 128 in / 128 out, TPOT 20 ms."""

SMALL = """\
name: tiny
gpus: {allow: [l4-24gb, a100-sxm-80gb]}
planning: {tp_degrees: [1, 2]}
workloads:
  - name: chat
    model: qwen-7b
    precisions: [fp16, int8]
    traffic: {peak_qps: 2, input_tokens: 512, output_tokens: 128}
    slo: {ttft_ms: 1000, tpot_ms: 60}
"""
"""A small valid workload file; the tests below break one value of it. Columns of line 8:
`    traffic: {peak_qps: 2, ...}` has `peak_qps`'s value at column 25; line 9:
`    slo: {ttft_ms: 1000, tpot_ms: 60}` has 1000 at column 20 and 60 at column 35."""


class _Hung(BaseException):
    """Raised by the hard stop; a BaseException so that `main` does not report it as a bug."""


@contextlib.contextmanager
def _hard_stop(seconds: float):
    def stop(_signum, _frame):
        raise _Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


def cli(*argv: object) -> Run:
    """`planner ARGV` in-process: exit code, stdout, stderr and wall-clock seconds."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _hard_stop(HARD_STOP_S):
        code = main([str(a) for a in argv])
    return Run(code, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def assert_input_error(run: Run, *patterns: str) -> list[str]:
    """Exit 2, no traceback or internal error, and each regex in `patterns` matches an `error:` line."""
    assert run.code == 2, (run.code, run.out[-2000:], run.err[-2000:])
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err[-2000:]
    lines = run.errors
    assert lines, run.err[-2000:]
    for pattern in patterns:
        assert any(re.search(pattern, line) for line in lines), (pattern, lines[:20])
    return lines


def _loc(path: Path) -> str:
    """The start of a located message about `path`: `error: PATH:`."""
    return "^error: " + re.escape(str(path)) + ":"


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory):
    """Load the catalogue and import the solver once, so the time bounds measure the input alone."""
    path = tmp_path_factory.mktemp("warm") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    assert cli("solve", path, "--no-timings").code == 0
    assert cli("estimate", "--model", "qwen-7b", "--gpu", "h100", "--input-tokens", "8", "--output-tokens", "8").code == 0


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Finding 1: tracebacks
# ---------------------------------------------------------------------------------------------


def test_validate_short_row_is_located(tmp_path):
    """A row with 4 of the header's 12 cells used to crash (AttributeError on a missing cell): exit 2,
    `FILE:2: 4 cells, but the header has 12`."""
    path = _write(tmp_path, "short.csv", f"{CSV_HEADER}\nLlama-3.1-8B,A100-SXM4-80GB,1,1\n")
    run = cli("validate", path)
    assert_input_error(run, _loc(path) + r"2: 4 cells, but the header has 12")
    assert run.seconds < FAST_S


def test_validate_long_row_is_located(tmp_path):
    """A row with 14 cells under a 12-column header (its last two cells were silently dropped):
    exit 2, `FILE:3: 14 cells, but the header has 12`; the good row on line 2 is not blamed."""
    path = _write(tmp_path, "long.csv", f"{CSV_HEADER}\n{GOOD_ROW}\n{GOOD_ROW},extra,more\n")
    lines = assert_input_error(cli("validate", path), _loc(path) + r"3: 14 cells, but the header has 12")
    assert len(lines) == 1


def test_validate_duplicated_column_is_located(tmp_path):
    """A header naming `model` twice (the second silently won): exit 2 at line 1, the column of the
    second `model`: the 12-column header is 115 characters, so after its comma the repeat starts
    at column 117."""
    path = _write(tmp_path, "dup.csv", f"{CSV_HEADER},model\n{GOOD_ROW},x\n")
    assert len(CSV_HEADER) == 115
    assert_input_error(cli("validate", path), _loc(path) + r"1:117: column 'model' appears twice \(columns 1 and 13\)")


def test_validate_huge_request_rate_is_skipped(tmp_path):
    """`qps=1e308` used to overflow (OverflowError in the Little's-law fixed point): the row is
    skipped with a reason naming the rate, the good row is still predicted, exit 0."""
    row = "Llama-3.1-8B,A100-SXM4-80GB,1,1,1,fp16,fp16,qps=1e308,128,128,tpot_ms,20"
    path = _write(tmp_path, "qps.csv", f"{CSV_HEADER}\n{GOOD_ROW}\n{row}\n")
    run = cli("validate", path, "--format", "json")
    assert run.code == 0, run.err
    rep = json.loads(run.out)
    assert rep["overall"]["n"] == 1
    assert [(s["line"], "request rate" in s["reason"]) for s in rep["skipped"]] == [(3, True)]


@pytest.mark.parametrize("bits", ["0", "-4", "99"])
def test_validate_exl2_bits_out_of_range_are_skipped(tmp_path, bits):
    """`exl2-0bpw` gave weights of 0 bytes and a ZeroDivisionError in the naive roofline; -4 bits
    gave negative predictions. Bits per weight outside (0, 16] skip the row with that reason."""
    row = f"Llama-3.1-8B,A100-SXM4-80GB,1,1,1,exl2-{bits}bpw,fp16,1,128,128,tpot_ms,20"
    path = _write(tmp_path, "exl2.csv", f"{CSV_HEADER}\n{GOOD_ROW}\n{row}\n")
    run = cli("validate", path, "--format", "json")
    assert run.code == 0, run.err
    rep = json.loads(run.out)
    assert rep["overall"]["n"] == 1
    assert [s["line"] for s in rep["skipped"]] == [3]
    assert "bits per weight" in rep["skipped"][0]["reason"]


def test_deeply_nested_config_json_is_located(tmp_path):
    """100,000 nested objects in a config.json used to raise RecursionError in json.loads: exit 2 at
    the line of the bracket that passes the nesting limit (all on line 1 here), in milliseconds."""
    path = _write(tmp_path, "deep.json", '{"a":' * 100_000 + "1" + "}" * 100_000)
    run = cli("estimate", "--model", path, "--gpu", "h100", "--input-tokens", "512", "--output-tokens", "128")
    assert_input_error(run, _loc(path) + r"1:\d+: nested deeper than \d+ levels")
    assert run.seconds < FAST_S


@pytest.mark.parametrize("key, line, col", [("ttft_ms", 9, 20), ("tpot_ms", 9, 35)])
def test_smallest_float_slo_is_located(tmp_path, key, line, col):
    """`slo.ttft_ms: 5.0e-324` (the smallest float; ms / 1e3 rounds to 0) used to reach the
    candidates and divide by zero: now below the 0.1 ms minimum, exit 2 at the value."""
    value = {"ttft_ms": "1000", "tpot_ms": "60"}[key]
    text = SMALL.replace(f"{key}: {value}", f"{key}: 5.0e-324")
    path = _write(tmp_path, "slo.yaml", text)
    assert_input_error(cli("solve", path), _loc(path) + rf"{line}:{col}: workloads\[0\]\.slo\.{key}: "
                                                         r"must be >= 0\.1 \(got 5e-324\)")


# ---------------------------------------------------------------------------------------------
# Finding 2: many keys or nodes (quadratic location bookkeeping)
# ---------------------------------------------------------------------------------------------

N_KEYS = 3000
"""Before the fix 3,000 unknown keys took ~20 s (each of the 3,000 problems scanned every key)."""


def test_many_unknown_keys_are_linear(tmp_path):
    """3,000 unknown keys under `gpus:` (lines 4 to 3003, key at column 3): one located problem
    each, plus `workloads: must not be empty` (line 2), within the many-keys bound."""
    text = "name: x\nworkloads: []\ngpus:\n" + "".join(f"  g{i}: 1\n" for i in range(N_KEYS))
    path = _write(tmp_path, "unknown.yaml", text)
    run = cli("solve", path)
    lines = assert_input_error(run, _loc(path) + r"4:3: gpus\.g0: unknown key 'g0'",
                               _loc(path) + rf"{N_KEYS + 3}:3: gpus\.g{N_KEYS - 1}: unknown key")
    assert len(lines) == N_KEYS + 1
    assert run.seconds < MANY_KEYS_S


def test_many_duplicate_keys_are_linear(tmp_path):
    """3,000 `allow:` keys under `gpus:` (lines 4 to 3003): 2,999 duplicates, each naming line 4,
    within the many-keys bound."""
    text = "name: x\nworkloads: []\ngpus:\n" + "  allow: [any]\n" * N_KEYS
    path = _write(tmp_path, "dup.yaml", text)
    run = cli("solve", path)
    lines = assert_input_error(run, _loc(path) + r"5:3: gpus\.allow: duplicate key 'allow' \(first at line 4\)")
    assert sum("duplicate key" in line for line in lines) == N_KEYS - 1
    assert run.seconds < MANY_KEYS_S


def test_many_bad_values_are_linear(tmp_path):
    """3,000 negative GPU counts under `gpus.available:` (lines 5 to 3004, value at column 9):
    one `must be >= 0` each, within the many-keys bound."""
    text = "name: x\nworkloads: []\ngpus:\n  available:\n" + "".join(f"    g{i}: -1\n" for i in range(N_KEYS))
    path = _write(tmp_path, "bad.yaml", text)
    run = cli("solve", path)
    lines = assert_input_error(run, _loc(path) + r"5:9: gpus\.available\.g0: must be >= 0 \(got -1\)")
    assert sum("must be >= 0" in line for line in lines) == N_KEYS
    assert run.seconds < MANY_KEYS_S


# ---------------------------------------------------------------------------------------------
# Finding 3: config.json semantic errors name the line and column of the key
# ---------------------------------------------------------------------------------------------

CONFIG = {
    "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "vocab_size": 32000, "intermediate_size": 14336,
}
"""A Llama-3-8B-like config; one key per line when written by `_config` (key on line i + 2, column 3)."""


def _config(tmp_path: Path, **changes: object) -> Path:
    cfg = {k: v for k, v in {**CONFIG, **changes}.items() if v is not None}
    return _write(tmp_path, "config.json", json.dumps(cfg, indent=2) + "\n")


def _key_line(key: str, **changes: object) -> int:
    """Line of `key` in the file `_config` writes: `{` is line 1, then one key per line."""
    keys = [k for k, v in {**CONFIG, **changes}.items() if v is not None]
    return keys.index(key) + 2


def _estimate(path: Path) -> Run:
    return cli("estimate", "--model", path, "--gpu", "h100", "--input-tokens", "512", "--output-tokens", "128")


@pytest.mark.parametrize("key", ["hidden_size", "num_attention_heads", "num_hidden_layers", "vocab_size"])
def test_config_missing_key_is_line_1(tmp_path, key):
    """A missing required dimension is reported at line 1, column 1 (the object that lacks it)."""
    path = _config(tmp_path, **{key: None})
    run = _estimate(path)
    lines = assert_input_error(run, _loc(path) + rf"1:1: {key}: missing")
    assert all(line.startswith(f"error: {path}:") for line in lines)
    assert run.seconds < FAST_S


def test_config_kv_heads_not_dividing_heads_is_located(tmp_path):
    """32 attention heads are not a multiple of 5 KV heads (32 % 5 = 2): located at
    `num_key_value_heads` (line 5, column 3)."""
    path = _config(tmp_path, num_key_value_heads=5)
    assert _key_line("num_key_value_heads") == 5
    assert_input_error(_estimate(path), _loc(path) + r"5:3: num_key_value_heads: 32 attention heads are not a "
                                                     r"multiple of 5 KV heads")


@pytest.mark.parametrize("key, value", [("hidden_size", 0), ("num_hidden_layers", -3), ("vocab_size", 0),
                                        ("intermediate_size", -1), ("num_attention_heads", 0)])
def test_config_zero_or_negative_size_is_located(tmp_path, key, value):
    """A zero or negative dimension is located at its key, and is the only problem reported
    (no follow-on error about a head_dim or parameter count derived from it)."""
    path = _config(tmp_path, **{key: value})
    line = _key_line(key)
    lines = assert_input_error(_estimate(path), _loc(path) + rf"{line}:3: {key}: must be an integer in "
                                                             rf"\[1, [\d,]+\] \(got {value}\)")
    assert len(lines) == 1, lines


def test_config_moe_top_k_out_of_range_is_located(tmp_path):
    """8 experts with 9 active per token: located at `num_experts_per_tok` (line 9, column 3),
    and the only problem (the active-exceeds-total parameter check used to be reported too)."""
    path = _config(tmp_path, num_local_experts=8, num_experts_per_tok=9)
    assert _key_line("num_experts_per_tok", num_local_experts=8, num_experts_per_tok=9) == 9
    lines = assert_input_error(_estimate(path), _loc(path) + r"9:3: num_experts_per_tok: must be in 1\.\.8")
    assert len(lines) == 1, lines


# ---------------------------------------------------------------------------------------------
# Finding 4: validate with no usable row, and null numbers in the JSON rows
# ---------------------------------------------------------------------------------------------


def test_validate_no_usable_row_says_so(tmp_path):
    """Every row skipped used to print `nan%` and exit 0: exit 2, a line saying no row is usable, and
    each skipped row's line (2 and 3) with its reason."""
    rows = ["x,A100-SXM4-80GB,1,1,1,fp16,fp16,1,128,128,tpot_ms,20",
            "Llama-3.1-8B,Apple M2,1,1,1,fp16,fp16,1,128,128,tpot_ms,20"]
    path = _write(tmp_path, "none.csv", "\n".join([CSV_HEADER, *rows]) + "\n")
    for fmt in ("table", "json"):
        run = cli("validate", path, "--format", fmt)
        assert_input_error(run, _loc(path) + r"1: no usable row: all 2 data rows were skipped",
                           _loc(path) + r"2: skipped: model 'x' not in the catalogue",
                           _loc(path) + r"3: skipped: GPU 'Apple M2' not in the catalogue")
        assert "nan" not in run.out + run.err


def test_validate_header_only_says_so(tmp_path):
    """A header with no data rows: exit 2, `FILE:1: no data rows`."""
    path = _write(tmp_path, "empty.csv", CSV_HEADER + "\n")
    assert_input_error(cli("validate", path), _loc(path) + r"1: no data rows")


def test_validate_null_ape_has_a_reason(tmp_path):
    """A measured TPOT of 5e-324 ms makes |predicted - measured| / measured overflow to infinity, which
    the JSON shows as null: the row says why (`reason`), and it is left out of the summary
    (n = 1, the good row); `--rows` in the table prints `n/a` for it."""
    row = "Llama-3.1-8B,A100-SXM4-80GB,1,1,1,fp16,fp16,1,128,128,tpot_ms,5e-324"
    path = _write(tmp_path, "tiny.csv", f"{CSV_HEADER}\n{GOOD_ROW}\n{row}\n")
    run = cli("validate", path, "--format", "json")
    assert run.code == 0, run.err
    rep = json.loads(run.out)
    assert rep["overall"]["n"] == 1
    good, tiny = rep["rows"]
    assert good["ape"] is not None and good["reason"] is None
    assert tiny["ape"] is None and "not a finite number" in tiny["reason"]
    table = cli("validate", path, "--rows")
    assert table.code == 0, table.err
    assert "n/a" in table.out


# ---------------------------------------------------------------------------------------------
# Finding 5: unbounded sizes from config.json
# ---------------------------------------------------------------------------------------------


def test_config_quadrillion_layers_is_located_fast(tmp_path):
    """10^15 layers used to loop for minutes (one parameter-count iteration per layer): above the
    1,000-layer bound, exit 2 at the key (one line, column of `"num_hidden_layers"` = 23)."""
    path = _write(tmp_path, "layers.json", '{"hidden_size": 4096, "num_hidden_layers": 1000000000000000, '
                  '"num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, '
                  '"intermediate_size": 14336}')
    run = _estimate(path)
    assert_input_error(run, _loc(path) + r"1:23: num_hidden_layers: must be an integer in \[1, 1,000\] "
                                         r"\(got 1000000000000000\)")
    assert run.seconds < FAST_S


def test_config_vocab_1e308_is_located(tmp_path):
    """`vocab_size: 1e+308` used to raise OverflowError: exit 2 at the key (column of `"vocab_size"`
    = 101 in this one-line file)."""
    text = ('{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, '
            '"vocab_size": 1e+308, "intermediate_size": 14336}')
    assert text.index('"vocab_size"') + 1 == 101
    path = _write(tmp_path, "vocab.json", text)
    assert_input_error(_estimate(path), _loc(path) + r"1:101: vocab_size: must be an integer in \[1, [\d,]+\] "
                                                     r"\(got 1e\+308\)")


@pytest.mark.parametrize("key, value", [("hidden_size", 65_537), ("num_attention_heads", 1025),
                                        ("intermediate_size", 1_048_577), ("max_position_embeddings", 10**9)])
def test_config_dimension_above_bound_is_located(tmp_path, key, value):
    """Each dimension has an upper bound well above any real model (see `planner.catalog.models`):
    one past it is a located error at the key."""
    path = _config(tmp_path, **{key: value})
    line = _key_line(key, **{key: value})
    assert_input_error(_estimate(path), _loc(path) + rf"{line}:3: {key}: must be an integer in \[1, [\d,]+\]")


# ---------------------------------------------------------------------------------------------
# Finding 6: extreme floats the schema accepted
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("old, new, where, message", [
    ("peak_qps: 2", "peak_qps: 5.0e-324", r"8:25: workloads\[0\]\.traffic\.peak_qps",
     r"must be >= 1e-06 \(got 5e-324\)"),
    ("peak_qps: 2", "concurrent_users: 5, think_time_s: 1.0e+300", r"8:50: workloads\[0\]\.traffic\.think_time_s",
     r"must be <= 86400 \(got 1e\+300\)"),
    ("planning:", "horizon_months: 12345678901234567890123\nplanning:", r"3:17: horizon_months",
     r"must be <= 240 \(got 12345678901234567890123\)"),
])
def test_extreme_values_are_located(tmp_path, old, new, where, message):
    """Values that used to reach the solver (exit 4, `'StatusNotOk' object has no attribute
    'canonical_code'`) are outside their field's range: exit 2 at the value, in milliseconds.
    Columns: `    traffic: {concurrent_users: 5, think_time_s: 1.0e+300, ...}` puts the value at 50."""
    path = _write(tmp_path, "extreme.yaml", SMALL.replace(old, new))
    run = cli("solve", path)
    assert_input_error(run, _loc(path) + where + ": " + message)
    assert run.seconds < FAST_S


def test_huge_deadline_is_located(tmp_path):
    """`batch.deadline_hours: 1.0e+308` used to divide by zero (1e308 h x 3600 s/h = inf, demand 0):
    above the one-year (8,760 h) bound, exit 2 at the value (line 7, column 83)."""
    text = ("name: tiny\ngpus: {allow: [l4-24gb]}\nworkloads:\n  - name: job\n    model: qwen-7b\n"
            "    precisions: [int8]\n"
            "    batch: {requests: 100, input_tokens: 512, output_tokens: 128, deadline_hours: 1.0e+308}\n")
    path = _write(tmp_path, "deadline.yaml", text)
    assert text.splitlines()[6].index("1.0e+308") + 1 == 83
    assert_input_error(cli("solve", path), _loc(path) + r"7:83: workloads\[0\]\.batch\.deadline_hours: "
                                                        r"must be <= 8760 \(got 1e\+308\)")


# ---------------------------------------------------------------------------------------------
# Finding 7: self-referencing YAML aliases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, col", [("a: &x [*x]\n", 8), ("a: &x {b: *x}\n", 11)])
def test_recursive_alias_is_located_fast(tmp_path, text, col):
    """An alias inside its own anchor (`a: &x [*x]`, 11 bytes) used to take ~55 s before its exit 2:
    now exit 2 at the alias (column 8, or 11 in `a: &x {b: *x}`) in milliseconds."""
    path = _write(tmp_path, "alias.yaml", text)
    run = cli("solve", path)
    assert_input_error(run, _loc(path) + rf"1:{col}: YAML: alias \*x is used inside its own anchor &x")
    assert run.seconds < FAST_S


def test_alias_bomb_is_located_fast(tmp_path):
    """The billion laughs (each level nine aliases of the one before, 9^8 values expanded): exit 2
    with the values bound, at the line where the expansion passes it, without expanding it."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = _write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    run = cli("solve", path)
    assert_input_error(run, _loc(path) + r"\d+:\d+: YAML: more than [\d,]+ values once aliases are expanded")
    assert run.seconds < FAST_S


# ---------------------------------------------------------------------------------------------
# Finding 8: a cell over the CSV field limit
# ---------------------------------------------------------------------------------------------


def test_validate_huge_cell_is_located(tmp_path):
    """A 140,000-character cell on line 3 printed `Error: field larger than field limit (131072)` as
    an internal error: exit 2 at line 3."""
    big = '"' + "x" * 140_000 + '"'
    path = _write(tmp_path, "big.csv", f"{CSV_HEADER}\n{GOOD_ROW}\n{big},A100,1,1,1,fp16,fp16,1,1,1,tpot_ms,2\n")
    assert_input_error(cli("validate", path), _loc(path) + r"3: a cell is longer than 131,072 characters")


def test_catalogue_reader_locates_a_huge_cell_and_a_short_row():
    """The shipped tables share the measurements file's reader: in gpus.csv, a 140,000-character
    `notes` cell on the first data row (line 2; no other cell of that row spans lines) and a row cut
    to 3 cells (line 3) are both located input errors, not an internal `field larger than field
    limit`."""
    import csv

    from planner.catalog.gpus import parse_gpus
    from planner.errors import CatalogError

    header, cells = list(csv.reader(io.StringIO((REPO / "catalog" / "gpus.csv").read_text(encoding="utf-8"))))[:2]
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerows([header, [*cells[:-1], "x" * 140_000], cells[:3]])
    text = rows.getvalue()
    with pytest.raises(CatalogError) as exc:
        parse_gpus(text, "catalog/gpus.csv")
    lines = exc.value.lines()
    assert lines[0] == "catalog/gpus.csv:2: a cell is longer than 131,072 characters (the CSV reader's limit)"
    assert lines[1].startswith(f"catalog/gpus.csv:3: 3 cells, but the header has {len(cells)}")


# ---------------------------------------------------------------------------------------------
# Finding 9: non-UTF-8 and too-deep files name the line
# ---------------------------------------------------------------------------------------------


def test_non_utf8_yaml_names_line_and_column(tmp_path):
    """Latin-1 `é` (byte 0xe9) on line 3, `  - name: caf\\xe9`: 13 characters precede it, so
    line 3, column 14."""
    path = _write(tmp_path, "latin1.yaml", b"name: x\nworkloads:\n  - name: caf\xe9\n")
    assert_input_error(cli("solve", path), _loc(path) + r"3:14: not UTF-8 text \(byte 0xe9\)")


def test_non_utf8_csv_names_line_and_column(tmp_path):
    """Byte 0xff in `Llama,A\\xff100,...` on line 2, after 7 characters: line 2, column 8."""
    path = _write(tmp_path, "latin1.csv", (CSV_HEADER + "\n").encode() + b"Llama,A\xff100,1,1,1,fp16,fp16,1,8,8,tpot_ms,2\n")
    assert_input_error(cli("validate", path), _loc(path) + r"2:8: not UTF-8 text \(byte 0xff\)")


def test_too_deep_yaml_names_the_line(tmp_path):
    """5,000 nested flow lists on line 3 (`  [[[...`): exit 2 at line 3, where the nesting passes the
    bound; the column is that of the first bracket past it."""
    path = _write(tmp_path, "deep.yaml", "name: x\nworkloads:\n  " + "[" * 5000 + "]" * 5000 + "\n")
    run = cli("solve", path)
    assert_input_error(run, _loc(path) + r"3:\d+: YAML: nested deeper than \d+ levels")
    assert run.seconds < FAST_S


def test_too_deep_block_yaml_names_the_line(tmp_path):
    """3,000 block mappings, each indented one more space (`k0:` on line 1, `k1:` on line 2, ...):
    exit 2 at a line, not just the file."""
    path = _write(tmp_path, "deep_block.yaml", "".join(" " * i + f"k{i}:\n" for i in range(3000)))
    run = cli("solve", path)
    assert_input_error(run, _loc(path) + r"\d+:\d+: YAML: nested deeper than \d+ levels")
    assert run.seconds < FAST_S


# ---------------------------------------------------------------------------------------------
# Finding 10: small CLI defects
# ---------------------------------------------------------------------------------------------


def test_closed_pipe_exits_quietly():
    """`planner solve problems/seed001-qwen7b-50-users.yaml | head -1` used to exit 1 (rich turns a
    broken pipe into SystemExit(1)) with no message: the reader closes the pipe after one line,
    planner exits 0 (the reader got what it asked for), and writes nothing to stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "planner", "solve", "problems/seed001-qwen7b-50-users.yaml"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.startswith(b"seed001-qwen7b-50-users")
    assert code == 0, (code, err)
    assert err == ""


def test_think_time_defaults_to_zero(tmp_path):
    """`concurrent_users` without `think_time_s` used to be an error although the field table said
    optional: it defaults to 0, and the plan is the one for `think_time_s: 0`. Demand is then
    Little's law with no think time: 10 users / the deployment's mean response time."""
    without = _write(tmp_path, "without.yaml", SMALL.replace("peak_qps: 2", "concurrent_users: 10"))
    explicit = _write(tmp_path, "explicit.yaml", SMALL.replace("peak_qps: 2", "concurrent_users: 10, think_time_s: 0"))
    runs = [cli("solve", p, "--format", "json", "--no-timings", "--today", "2026-11-21") for p in (without, explicit)]
    assert [r.code for r in runs] == [0, 0], [r.err for r in runs]
    plans = [json.loads(r.out)["plans"] for r in runs]
    assert plans[0] == plans[1]
    d = plans[0][0]["deployments"][0]
    # Little's law at the operating point: 10 users / the mean response time of a replica loaded to
    # its planned capacity on each bucket (serving.queueing.means through optimize.slo).
    import planner
    from planner.optimize.slo import mean_response_s

    c = planner.plan(without).plans[0].deployments[0].candidate
    assert c.id == d["candidate"]
    response_s = mean_response_s(list(c.times), list(c.capacity_by_bucket), list(c.shares))
    assert d["demand_qps"] == pytest.approx(10 / response_s, abs=5e-4)  # the JSON rounds to 3 decimals


def test_unknown_names_reported_with_schema_errors(tmp_path):
    """A schema error (horizon 0) and three unknown names (GPU, model, precision) in one file: one run
    reports all four, in file order (lines 2, 3, 6, 7)."""
    text = """\
name: tiny
horizon_months: 0
gpus: {allow: [h1000, l4-24gb]}
workloads:
  - name: chat
    model: qwen-7bb
    precisions: [fp61, int8]
    traffic: {peak_qps: 2, input_tokens: 512, output_tokens: 128}
    slo: {ttft_ms: 1000, tpot_ms: 60}
"""
    path = _write(tmp_path, "names.yaml", text)
    for command in ("solve", "compare", "candidates"):
        lines = assert_input_error(cli(command, path))
        assert [re.match(re.escape(f"error: {path}:") + r"(\d+):(\d+): (\S+)", line).groups() for line in lines] == [
            ("2", "17", "horizon_months:"), ("3", "16", "gpus.allow[0]:"), ("6", "12", "workloads[0].model:"),
            ("7", "18", "workloads[0].precisions[0]:")], command
        assert "unknown gpu 'h1000'" in lines[1] and "unknown model 'qwen-7bb'" in lines[2]
        assert "unknown precision 'fp61'" in lines[3]
