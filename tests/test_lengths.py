"""Request-length distributions (planner/serving/lengths.py): the trace reader, its located errors,
the log-binned bucketing and its merge rule, hand-written buckets, and arrival burstiness.

Hand-derived cases; the shipped synthetic trace (problems/traces/chat-support-1h.csv) is the only
file of the repository read; every other trace is written to tmp_path.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.serving import lengths
from planner.serving.lengths import (
    Bucket,
    Trace,
    buckets_from_list,
    interarrival_cv,
    mean_lengths,
    read_trace,
    summarise,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "problems" / "traces" / "chat-support-1h.csv"


def _trace(rows: list[tuple[int, int]]) -> Trace:
    return Trace(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                 None, "test")


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        read_trace(path, path.name)
    return exc.value.lines()


# --- bucketing -------------------------------------------------------------------------------------

SIX_ROWS = [(100, 10), (120, 12), (300, 50), (400, 60), (500, 40), (2000, 200)]


def test_six_rows_into_bins_by_hand():
    """Bins are [2^k, 2^(k+1)) in each length:

    row (in, out)   input bin          output bin      bucket
    (100, 10)       [64, 128)   k=6    [8, 16)   k=3   A
    (120, 12)       [64, 128)          [8, 16)         A
    (300, 50)       [256, 512)  k=8    [32, 64)  k=5   B
    (400, 60)       [256, 512)         [32, 64)        B
    (500, 40)       [256, 512)         [32, 64)        B
    (2000, 200)     [1024, 2048) k=10  [128, 256) k=7  C

    A: 2 rows, means (110, 11), longest context 120 + 12 = 132.
    B: 3 rows, means (400, 50), longest context 500 + 40 = 540.
    C: 1 row, (2000, 200), context 2200.
    """
    assert summarise(_trace(SIX_ROWS), 8) == [
        Bucket(110, 11, 2 / 6, 132), Bucket(400, 50, 3 / 6, 540), Bucket(2000, 200, 1 / 6, 2200)]


def test_six_rows_into_two_buckets_by_hand():
    """C has the smallest share. In (log2 in, log2 out): C = (10.97, 7.64), A = (6.78, 3.46), B =
    (8.64, 5.64); squared distance C-A = 4.19^2 + 4.19^2 = 35.0, C-B = 2.32^2 + 2.00^2 = 9.4, so C
    joins B: 4 rows, mean in (3 x 400 + 2000) / 4 = 800, mean out (3 x 50 + 200) / 4 = 87.5 -> 88
    (half up), longest context 2200."""
    assert summarise(_trace(SIX_ROWS), 2) == [Bucket(110, 11, 2 / 6, 132), Bucket(800, 88, 4 / 6, 2200)]
    assert summarise(_trace(SIX_ROWS), 1) == [Bucket(570, 62, 1.0, 2200)]  # 3420 / 6 = 570 in; 372 / 6 = 62 out


def test_smallest_share_merges_into_its_nearest_neighbour_not_the_largest():
    """X (1000, 100) x1 is the smallest; Y (1500, 150) x3 is 0.585 away on each axis; Z (10, 2) x6,
    the largest, is far. X joins Y: 4 rows, (1000 + 4500) / 4 = 1375 in, (100 + 450) / 4 = 137.5 ->
    138 out, context 1650."""
    rows = [(1000, 100)] + [(1500, 150)] * 3 + [(10, 2)] * 6
    assert summarise(_trace(rows), 2) == [Bucket(10, 2, 0.6, 12), Bucket(1375, 138, 0.4, 1650)]


def test_merge_ties_are_broken_by_share_then_lengths():
    """Victim tie: A (8, 8) and B (1024, 8) both hold 1 row; A has the smaller lengths, so it goes
    first and joins C (16, 8), its nearest (1 apart in log2 in): (8 + 5 x 16) / 6 = 14.67 -> 15.
    Neighbour tie: V (64, 64) x1 is exactly 1 from N1 (128, 64) x3 and from N2 (64, 128) x2: it
    joins N2, the smaller share: out (64 + 2 x 128) / 3 = 106.67 -> 107."""
    rows = [(8, 8), (1024, 8)] + [(16, 8)] * 5 + [(2048, 8)] * 5
    assert summarise(_trace(rows), 3) == [
        Bucket(15, 8, 6 / 12, 24), Bucket(1024, 8, 1 / 12, 1032), Bucket(2048, 8, 5 / 12, 2056)]
    rows = [(64, 64)] + [(128, 64)] * 3 + [(64, 128)] * 2
    assert summarise(_trace(rows), 2) == [Bucket(64, 107, 0.5, 192), Bucket(128, 64, 0.5, 192)]


def test_a_prompt_of_zero_tokens_has_its_own_bin():
    """0 is below bin [1, 2): (0, 5) and (1, 5) are two buckets; merged, log2 of a mean below 1 counts as 0."""
    assert summarise(_trace([(0, 5), (1, 5)]), 8) == [Bucket(0, 5, 0.5, 5), Bucket(1, 5, 0.5, 6)]
    assert summarise(_trace([(0, 5), (1, 5)]), 1) == [Bucket(1, 5, 1.0, 6)]  # mean 0.5 rounds half up


def test_summarise_rejects_no_buckets_and_no_requests():
    with pytest.raises(ValueError):
        summarise(_trace(SIX_ROWS), 0)
    with pytest.raises(ValueError):
        summarise(_trace([]), 8)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 200_000), st.integers(1, 20_000)), min_size=1, max_size=300),
       max_buckets=st.integers(1, 12))
def test_summarise_properties(rows, max_buckets):
    """At most max_buckets; shares sum to 1; every request fits some bucket's max context; lengths
    distinct and sorted; the mix's mean lengths are the trace's within rounding; deterministic."""
    trace = _trace(rows)
    buckets = summarise(trace, max_buckets)
    assert 1 <= len(buckets) <= max_buckets
    assert abs(sum(b.share for b in buckets) - 1.0) < 1e-9
    longest = max(b.max_context_tokens for b in buckets)
    assert all(i + o <= longest for i, o in rows)
    assert all(b.input_tokens + b.output_tokens <= b.max_context_tokens for b in buckets)
    keys = [(b.input_tokens, b.output_tokens) for b in buckets]
    assert keys == sorted(set(keys))
    mean_in, mean_out = mean_lengths(buckets)
    assert abs(mean_in - float(np.mean(trace.input_tokens))) <= 0.5 + 1e-6
    assert abs(mean_out - float(np.mean(trace.output_tokens))) <= 0.5 + 1e-6
    assert summarise(trace, max_buckets) == buckets


# --- hand-written buckets and means ------------------------------------------------------------------

def test_buckets_from_list_and_mean_lengths():
    """Mappings or objects; max context = input + output; shares divided by their sum. Means by
    hand: 0.25 x 100 + 0.75 x 200 = 175 in, 0.25 x 10 + 0.75 x 30 = 25 out."""

    class Item:
        input_tokens, output_tokens, share = 200, 30, 0.75

    buckets = buckets_from_list([{"input_tokens": 100, "output_tokens": 10, "share": 0.25}, Item()])
    assert buckets == [Bucket(100, 10, 0.25, 110), Bucket(200, 30, 0.75, 230)]
    assert mean_lengths(buckets) == (175.0, 25.0)
    shares = [b.share for b in buckets_from_list([{"input_tokens": 1, "output_tokens": 1, "share": 0.3333333}] * 3)]
    assert shares == pytest.approx([1 / 3] * 3, abs=1e-15)


# --- burstiness --------------------------------------------------------------------------------------

def test_interarrival_cv_by_hand():
    """Evenly spaced: gaps all equal, CV 0. [0, 1, 3]: gaps (1, 2), mean 1.5, population std 0.5, CV 1/3."""
    assert interarrival_cv(np.arange(10) * 0.5) == 0.0
    assert interarrival_cv(np.array([0.0, 1.0, 3.0])) == pytest.approx(0.5 / 1.5)
    assert interarrival_cv(np.array([0.0, 1.0])) is None  # one gap
    assert interarrival_cv(np.array([2.0, 2.0, 2.0])) is None  # all at once: mean gap 0


# --- reading ------------------------------------------------------------------------------------------

def test_our_columns(tmp_path):
    path = _write(tmp_path, "arrival_s,input_tokens,output_tokens\n10.5,100,20\n11,0,1\n\n13.25,7,3\n")
    trace = read_trace(path, "t.csv")
    assert trace.input_tokens.tolist() == [100, 0, 7]
    assert trace.output_tokens.tolist() == [20, 1, 3]
    assert trace.arrival_s.tolist() == [0.0, 0.5, 2.75]
    assert trace.path == "t.csv"


def test_azure_columns_and_timestamps(tmp_path):
    """Azure's names and 7-digit fractions, read to the microsecond: 46.6805900 -> 46.680590,
    50.9951690 -> 50.995169, 51.2224670 -> 51.222467; gaps 4.314579 and 0.227298 s."""
    path = _write(tmp_path, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                            "2023-11-16 18:15:46.6805900,374,44\n"
                            "2023-11-16 18:15:50.9951690,396,109\n"
                            "2023-11-16 18:15:51.2224670,879,55\n")
    trace = read_trace(path, "azure.csv")
    assert trace.input_tokens.tolist() == [374, 396, 879]
    assert trace.output_tokens.tolist() == [44, 109, 55]
    assert np.allclose(trace.arrival_s, [0.0, 4.314579, 4.541877], rtol=0, atol=1e-9)


def test_other_names_iso_times_and_seconds(tmp_path):
    """prompt_tokens/completion_tokens in any case; ISO 8601 times with zones are put in UTC (19:15:47+01:00
    is 18:15:47Z); a date-time's seventh fractional digit rounds half up; a `timestamp` of seconds."""
    text = ("Prompt_Tokens,COMPLETION_TOKENS,timestamp\n1,1,2024-05-01T18:15:46Z\n2,2,2024-05-01T19:15:47+01:00\n"
            "3,3,2024-05-01 18:15:47.0000005\n")
    assert read_trace(_write(tmp_path, text), "x").arrival_s.tolist() == [0.0, 1.0, 1.000001]
    text = "input_tokens,output_tokens,timestamp\n1,1,100\n2,2,100.5\n3,3,103\n"
    assert read_trace(_write(tmp_path, text), "x").arrival_s.tolist() == [0.0, 0.5, 3.0]
    trace = read_trace(_write(tmp_path, "\ufeffinput_tokens,output_tokens,note\n5,6,hi\n"), "x")
    assert trace.arrival_s is None and trace.input_tokens.tolist() == [5]


def test_missing_and_rival_columns(tmp_path):
    assert _errors(_write(tmp_path, "prompt,answer\n1,2\n")) == [
        "t.csv:1: missing the prompt length column (found: prompt, answer); "
        "expected input_tokens, ContextTokens or prompt_tokens (any case)",
        "t.csv:1: missing the answer length column (found: prompt, answer); "
        "expected output_tokens, GeneratedTokens or completion_tokens (any case)",
    ]
    assert _errors(_write(tmp_path, "input_tokens,ContextTokens,output_tokens\n1,2,3\n")) == [
        "t.csv:1: columns 'input_tokens' and 'ContextTokens' both give the prompt length; "
        "expected one of input_tokens, ContextTokens or prompt_tokens (any case)"]
    assert _errors(_write(tmp_path, "input_tokens,Input_Tokens,output_tokens\n1,2,3\n")) == [
        "t.csv:1: column 'Input_Tokens' appears twice (columns 1 and 2); expected each column once"]


def test_bad_cells_all_reported_at_their_lines(tmp_path):
    text = "input_tokens,output_tokens,arrival_s\n-1,0,0\n1.5,x,1\n,3,0.5\n2,3,abc\n20000000,2,2\n1,2\n8.0,1,3\n"
    assert _errors(_write(tmp_path, text)) == [
        "t.csv:2: input_tokens: must be >= 0 (got -1)",
        "t.csv:2: output_tokens: must be >= 1 (got 0)",
        "t.csv:3: input_tokens: not a whole number (got '1.5'); expected a whole number of tokens, 0 or more",
        "t.csv:3: output_tokens: not a whole number (got 'x'); expected a whole number of tokens, 1 or more",
        "t.csv:4: input_tokens: is empty; expected a whole number of tokens, 0 or more",
        "t.csv:4: arrival_s: goes back in time: '0.5' is before '1' (line 3); "
        "expected rows in arrival order (non-decreasing)",
        "t.csv:5: arrival_s: not a number of seconds (got 'abc'); expected seconds (a number)",
        "t.csv:6: input_tokens: more than 10,000,000 tokens (got 20000000); expected at most 10,000,000",
        "t.csv:7: 2 cells, but the header has 3 (a missing cell, or a row cut short?); "
        "expected 3 cells, like the header",
    ]  # line 8: 8.0 is a whole number, accepted


def test_bad_timestamps(tmp_path):
    text = ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,1,1\n2023-11-16 18:15:45,1,1\n"
            "12.5,1,1\n2023-13-01 00:00:00,1,1\n")
    assert _errors(_write(tmp_path, text)) == [
        "t.csv:3: TIMESTAMP: goes back in time: '2023-11-16 18:15:45' is before '2023-11-16 18:15:46.6805900' "
        "(line 2); expected rows in arrival order (non-decreasing)",
        "t.csv:4: TIMESTAMP: seconds (got '12.5'), but the first row gives a date-time; "
        "expected every row's arrival written the same way",
        "t.csv:5: TIMESTAMP: not a time (got '2023-13-01 00:00:00'); expected a date-time such as "
        "2023-11-16 18:15:46.6805900 or 2023-11-16T18:15:46Z, or seconds",
    ]


def test_empty_files_and_unreadable_files(tmp_path):
    assert _errors(_write(tmp_path, "")) == [
        "t.csv:1: the file is empty; expected a header such as input_tokens,output_tokens,arrival_s, "
        "then a row per request"]
    assert _errors(_write(tmp_path, "input_tokens,output_tokens\n\n")) == [
        "t.csv:1: no data rows; expected a row per request under the header"]
    assert _errors(tmp_path / "absent.csv") == ["absent.csv: cannot read file: No such file or directory"]
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"input_tokens,output_tokens\n1,\xe92\n")
    assert _errors(path) == ["latin1.csv:2:3: not UTF-8 text (byte 0xe9); expected a file saved as UTF-8"]


def test_many_problems_are_capped(tmp_path):
    """20 listed, then one line counting the rest, at the first line left out."""
    problems = _errors(_write(tmp_path, "input_tokens,output_tokens\n" + "x,1\n" * 30))
    assert len(problems) == 21
    assert problems[19].startswith("t.csv:21: input_tokens: not a whole number")
    assert problems[20] == "t.csv:22: … and 10 more problems (lines 22 to 31)"


def test_size_limits(tmp_path, monkeypatch):
    """The row and byte limits (lowered here: the real ones are 5,000,000 rows and 512 MiB)."""
    path = _write(tmp_path, "input_tokens,output_tokens\n1,1\n2,2\n3,3\n4,4\n")
    monkeypatch.setattr(lengths, "MAX_TRACE_ROWS", 3)
    assert _errors(path) == ["t.csv:5: more than 3 rows; expected a trace of at most 3 requests (sample it)"]
    monkeypatch.setattr(lengths, "MAX_TRACE_BYTES", 2 * 2**20)
    path.write_bytes(b"input_tokens,output_tokens\n" + b"1,1\n" * 1_000_000)
    assert _errors(path) == ["t.csv: the file is 4 MiB, over the 2 MiB limit of a trace; expected a smaller trace "
                             "(sample it)"]


# --- the shipped trace --------------------------------------------------------------------------------

def test_shipped_trace_loads_and_summarises():
    trace = read_trace(SHIPPED, "problems/traces/chat-support-1h.csv")
    assert 2000 <= len(trace.input_tokens) <= 4000
    assert SHIPPED.stat().st_size < 100_000
    assert 3000 < trace.arrival_s[-1] <= 3600
    buckets = summarise(trace, 8)
    assert 1 <= len(buckets) <= 8
    assert math.isclose(sum(b.share for b in buckets), 1.0, abs_tol=1e-9)
    assert max(b.max_context_tokens for b in buckets) == int((trace.input_tokens + trace.output_tokens).max())
    assert 1.5 < interarrival_cv(trace.arrival_s) < 2.5  # generated with CV 2


def test_shipped_trace_is_what_the_generator_writes():
    """tools/make_trace.py, seed 2024, writes the shipped file byte for byte."""
    spec = importlib.util.spec_from_file_location("make_trace", REPO / "tools" / "make_trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert SHIPPED.read_text(encoding="utf-8") == module.trace_csv(2024)
