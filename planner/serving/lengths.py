"""Request-length distributions: a trace file read into arrays, summarised into length buckets.

A workload gives its request lengths as one mean, as hand-written buckets, or as a trace (a CSV of
requests). A trace is read once (`read_trace`, every defect located) and summarised into a few
buckets (`summarise`: log-spaced 2-D bins, then the smallest merged into their nearest neighbours);
its arrival times give the burstiness of the traffic (`interarrival_cv`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.catalog.tables import csv_message, data_rows
from planner.errors import InputError, Problem
from planner.spec.textfile import byte_position
from planner.spec.values import MAX_TOKENS

MAX_TRACE_ROWS = 5_000_000
"""Most requests in a trace file (bounded cost: about 15 s and 1 GB to read)."""
MAX_TRACE_BYTES = 512 * 2**20
"""Largest trace file, bytes (512 MiB)."""
MAX_LISTED_PROBLEMS = 20
"""Problems of a trace listed one per line; the rest are counted on one more line."""

INPUT_COLUMNS = ("input_tokens", "ContextTokens", "prompt_tokens")
"""Accepted names (any case) of the prompt-length column: ours, Azure's LLM inference traces, OpenAI's usage."""
OUTPUT_COLUMNS = ("output_tokens", "GeneratedTokens", "completion_tokens")
"""Accepted names (any case) of the answer-length column."""
ARRIVAL_COLUMNS = ("arrival_s", "timestamp")
"""Accepted names (any case) of the optional arrival column: `arrival_s` in seconds; `timestamp`
(Azure's TIMESTAMP) a date-time (ISO 8601, or Azure's 7 fractional digits) or seconds."""

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?", re.IGNORECASE)
_TIME_EXPECTED = "a date-time such as 2023-11-16 18:15:46.6805900 or 2023-11-16T18:15:46Z, or seconds"


@dataclass(frozen=True)
class Bucket:
    """Requests of about one length: one bucket of a workload's request-length mix."""

    input_tokens: int
    """Representative prompt length of the bucket (its mean, rounded), tokens."""
    output_tokens: int
    """Representative answer length (its mean, rounded), tokens."""
    share: float
    """Fraction of the requests in this bucket; the shares of a mix sum to 1."""
    max_context_tokens: int
    """Longest prompt + answer in the bucket (the KV cache must hold it), tokens; input + output for a
    hand-written bucket."""


@dataclass(frozen=True, eq=False)
class Trace:
    """The requests of a trace file, in file order: prompt and answer lengths in tokens (int64, >= 0
    and >= 1), arrivals in seconds after the first (float64, non-decreasing; None when the file has
    none), and the file as the user named it."""

    input_tokens: np.ndarray
    output_tokens: np.ndarray
    arrival_s: np.ndarray | None
    path: str


class _Problems:
    """Problems of one file: the first MAX_LISTED_PROBLEMS kept, the rest counted."""

    def __init__(self, label: str):
        self.label, self.listed, self.more, self.more_lines = label, [], 0, (0, 0)

    def add(self, message: str, line: int | None, key: str | None = None, expected: str | None = None) -> None:
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(Problem(message, file=self.label, line=line, key=key, expected=expected))
            return
        self.more += 1
        self.more_lines = (self.more_lines[0] or line or 0, line or 0)

    def raise_if_any(self) -> None:
        if self.more:
            first, last = self.more_lines
            self.listed.append(Problem(f"… and {self.more} more problems (lines {first} to {last})",
                                       file=self.label, line=first))
        if self.listed:
            raise InputError(self.listed)


def read_trace(path: Path, label: str) -> Trace:
    """The requests of a trace CSV file, every defect of the file reported at once.

    The file has a header; columns are found by name, in any case: the prompt length
    (input_tokens, ContextTokens or prompt_tokens), the answer length (output_tokens,
    GeneratedTokens or completion_tokens), and optionally the arrival (arrival_s, seconds; or
    timestamp/TIMESTAMP, a date-time such as Azure's `2023-11-16 18:15:46.6805900`, read to the
    microsecond, or seconds). Other columns are ignored. Prompts have >= 0 tokens, answers >= 1,
    both whole numbers up to MAX_TOKENS; arrivals never go back in time (rows in arrival order).

    Args:
        path: the file to read.
        label: the path as the user wrote it, used in messages.

    Returns:
        The trace; arrivals are made relative to the first row.

    Raises:
        InputError: the file cannot be read, is not UTF-8, is over MAX_TRACE_BYTES or MAX_TRACE_ROWS,
            lacks a column, has no rows, or has bad cells: each located `file:line: column: what;
            expected ...`, at most MAX_LISTED_PROBLEMS listed and the rest counted.
    """
    probs = _Problems(label)
    reader = csv.reader(_lines(_read_text(Path(path), label).removeprefix("\ufeff")))
    header: list[str] = []
    try:
        while not any(h.strip() for h in header):  # blank lines before the header are skipped
            header = next(reader)
    except StopIteration:
        raise InputError(Problem("the file is empty", file=label, line=1, expected=(
            "a header such as input_tokens,output_tokens,arrival_s, then a row per request"))) from None
    except csv.Error as exc:
        raise InputError(Problem(csv_message(exc), file=label, line=reader.line_num)) from None
    header_line = reader.line_num
    name = [h.strip() for h in header]
    i_in, i_out, i_arr = _find_columns(name, header_line, probs)
    probs.raise_if_any()
    inputs, outputs, arrivals, rows = [], [], [], 0
    clock = _Clock(name[i_arr], probs) if i_arr is not None else None
    report = lambda message, at, expected: probs.add(message, at, expected=expected)
    for line, cells in data_rows(reader, len(header), report):
        rows += 1
        if rows > MAX_TRACE_ROWS:
            probs.add(f"more than {MAX_TRACE_ROWS:,} rows", line,
                      expected=f"a trace of at most {MAX_TRACE_ROWS:,} requests (sample it)")
            break
        try:  # the common case first: two plain integers in range
            n_in, n_out = int(cells[i_in]), int(cells[i_out])
            ok = 0 <= n_in <= MAX_TOKENS and 1 <= n_out <= MAX_TOKENS
        except ValueError:
            ok = False
        if not ok:
            n_in = _tokens(cells[i_in], 0, name[i_in], line, probs)
            n_out = _tokens(cells[i_out], 1, name[i_out], line, probs)
        inputs.append(n_in)
        outputs.append(n_out)
        if clock is not None:
            arrivals.append(clock.read(cells[i_arr], line))
    if rows == 0:
        probs.add("no data rows", header_line, expected="a row per request under the header")
    probs.raise_if_any()
    arrival_s = clock.relative(arrivals) if clock is not None else None
    return Trace(np.array(inputs, dtype=np.int64), np.array(outputs, dtype=np.int64), arrival_s, label)


def _read_text(path: Path, label: str) -> str:
    """The file as UTF-8 text; missing, unreadable, too large or non-UTF-8 files are input errors."""
    try:
        size = path.stat().st_size
        if size > MAX_TRACE_BYTES:
            raise InputError(Problem(f"the file is {size / 2**20:,.0f} MiB, over the {MAX_TRACE_BYTES // 2**20} MiB "
                                     "limit of a trace", file=label, expected="a smaller trace (sample it)"))
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Problem(f"cannot read file: {exc.strerror}", file=label)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = byte_position(data, exc.start)
        raise InputError(Problem(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=label, line=line,
                                 col=col, expected="a file saved as UTF-8")) from None


def _lines(text: str) -> Iterator[str]:
    """The lines of `text`, ends kept, one at a time (no copy of the whole text)."""
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos) + 1 or len(text)
        yield text[pos:end]
        pos = end


def _find_columns(header: list[str], line: int, probs: _Problems) -> tuple[int, int, int | None]:
    """Indexes of the prompt, answer and arrival columns; problems for missing, repeated or rival ones."""
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        if h.lower() in seen:
            probs.add(f"column {h!r} appears twice (columns {seen[h.lower()] + 1} and {i + 1})", line,
                      expected="each column once")
        seen.setdefault(h.lower(), i)
    found: list[int | None] = []
    for names, what, required in ((INPUT_COLUMNS, "prompt length", True), (OUTPUT_COLUMNS, "answer length", True),
                                  (ARRIVAL_COLUMNS, "arrival time", False)):
        present = [seen[n.lower()] for n in names if n.lower() in seen]
        accepted = ", ".join(names[:-1]) + " or " + names[-1] + " (any case)"
        if len(present) > 1:
            both = " and ".join(repr(header[i]) for i in present)
            probs.add(f"columns {both} both give the {what}", line, expected=f"one of {accepted}")
        elif required and not present:
            cols = ", ".join(header) if any(header) else "none"
            probs.add(f"missing the {what} column (found: {cols})", line, expected=accepted)
        found.append(present[0] if present else None)
    return found[0] if found[0] is not None else -1, found[1] if found[1] is not None else -1, found[2]


def _tokens(raw: str, least: int, col: str, line: int, probs: _Problems) -> int:
    """A token count cell: a whole number in [least, MAX_TOKENS]; 0 (and a problem) otherwise."""
    raw = raw.strip()
    try:
        number = float(raw)  # exact for whole numbers up to 2^53, far above MAX_TOKENS
    except ValueError:
        number = math.nan
    if not number.is_integer():
        probs.add(f"not a whole number (got {raw!r})" if raw else "is empty", line, col,
                  f"a whole number of tokens, {least} or more")
    elif number < least:
        probs.add(f"must be >= {least} (got {raw})", line, col)
    elif number > MAX_TOKENS:
        probs.add(f"more than {MAX_TOKENS:,} tokens (got {raw})", line, col, f"at most {MAX_TOKENS:,}")
    else:
        return int(number)
    return 0


class _Clock:
    """Reads the arrival column, checking that arrivals never go back in time and are all written one
    way: seconds (floats) or date-times (int microseconds since 0001-01-01, UTC; no zone = UTC)."""

    def __init__(self, col: str, probs: _Problems):
        self.col, self.probs, self.seconds_only = col, probs, col.lower() == "arrival_s"
        self.kind: str | None = None  # "seconds" or "a date-time", from the first good cell
        self.last: tuple[Any, str, int] | None = None  # value, text and line of the last good cell

    def read(self, raw: str, line: int) -> Any:
        raw = raw.strip()
        expected = "seconds (a number)" if self.seconds_only else _TIME_EXPECTED
        value, kind = _parse_time(raw, self.seconds_only)
        if value is None:
            what = "a number of seconds" if self.seconds_only else "a time"
            self.probs.add(f"not {what} (got {raw!r})" if raw else "is empty", line, self.col, expected)
            return 0
        self.kind = self.kind or kind
        if kind != self.kind:
            self.probs.add(f"{kind} (got {raw!r}), but the first row gives {self.kind}", line, self.col,
                           "every row's arrival written the same way")
            return 0
        if self.last is not None and value < self.last[0]:
            self.probs.add(f"goes back in time: {raw!r} is before {self.last[1]!r} (line {self.last[2]})", line,
                           self.col, "rows in arrival order (non-decreasing)")
        self.last = (value, raw, line)
        return value

    def relative(self, values: list[Any]) -> np.ndarray:
        """Seconds after the first arrival."""
        if self.kind == "seconds":
            return np.array(values, dtype=np.float64) - values[0]
        us = np.array(values, dtype=np.int64)
        return (us - us[0]) / 1e6


def _parse_time(raw: str, seconds_only: bool) -> tuple[Any, str]:
    """(seconds, "seconds") or (microseconds, "a date-time"); (None, _) when `raw` is neither."""
    try:
        seconds = float(raw)
        if math.isfinite(seconds):
            return seconds, "seconds"
    except ValueError:
        pass
    m = None if seconds_only else _DATETIME.fullmatch(raw)
    if not m:
        return None, "seconds"
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        day = _dt.date(int(y), int(mo), int(d)).toordinal()
        t = _dt.time(int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None, "seconds"
    us = (day * 86_400 + t.hour * 3600 + t.minute * 60 + t.second) * 10**6
    if frac:  # to the nearest microsecond, from any number of digits (Azure writes 7)
        scale = 10 ** len(frac)
        us += (int(frac) * 2 * 10**6 + scale) // (2 * scale)
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        us -= (-1 if zone[0] == "-" else 1) * (int(digits[:2]) * 3600 + int(digits[2:] or 0) * 60) * 10**6
    return us, "a date-time"


def summarise(trace: Trace, max_buckets: int = 8) -> list[Bucket]:
    """At most `max_buckets` length buckets that stand for the requests of `trace`.

    Rule (log-spaced 2-D bins, as Mélange, Griggs et al. 2024, bins request sizes):

    1. Bin every request by floor(log2) of its prompt and of its answer length: bin k holds
       lengths in [2^k, 2^(k+1)) (a prompt of 0 tokens has its own bin, below 1).
    2. Each non-empty bin is a bucket: share = its fraction of the requests, lengths = its mean
       prompt and mean answer, max context = its longest prompt + answer.
    3. While there are more than `max_buckets`: take the bucket with the smallest share (ties: the
       smallest mean prompt, then the smallest mean answer) and merge it into its nearest neighbour
       by Euclidean distance in (log2 mean prompt, log2 mean answer), a mean below 1 token counted
       as 1 (ties: smallest share, then smallest lengths). The merged bucket has the sum of the
       shares, the share-weighted means of the lengths, and the larger max context.
    4. The means are rounded (half up) to whole tokens; buckets that round to the same lengths are
       merged the same way; a max context is raised to input + output where rounding passes it.

    Returns:
        Buckets sorted by (input_tokens, output_tokens); shares sum to 1. Deterministic.

    Raises:
        ValueError: `max_buckets` < 1, or a trace with no requests.
    """
    if max_buckets < 1:
        raise ValueError(f"max_buckets must be >= 1, got {max_buckets}")
    n = len(trace.input_tokens)
    if n == 0:
        raise ValueError("a trace with no requests has no length buckets")
    ins = np.asarray(trace.input_tokens, dtype=np.int64)
    outs = np.asarray(trace.output_tokens, dtype=np.int64)
    # frexp's exponent is floor(log2 x) + 1 exactly (0 for 0): the bin of each length
    bins = np.frexp(ins.astype(np.float64))[1].astype(np.int64) * 64 + np.frexp(outs.astype(np.float64))[1]
    keys, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    sum_in = np.bincount(inverse, weights=ins.astype(np.float64), minlength=len(keys))
    sum_out = np.bincount(inverse, weights=outs.astype(np.float64), minlength=len(keys))
    max_ctx = np.zeros(len(keys), dtype=np.int64)
    np.maximum.at(max_ctx, inverse, ins + outs)
    groups = [_Group(int(c), si / c, so / c, int(m)) for c, si, so, m in zip(counts, sum_in, sum_out, max_ctx)]
    while len(groups) > max_buckets:
        victim = min(groups, key=lambda g: (g.count, g.mean_in, g.mean_out))
        others = [g for g in groups if g is not victim]
        near = min(others, key=lambda g: (victim.distance2(g), g.count, g.mean_in, g.mean_out))
        groups = [g for g in others if g is not near] + [victim.merged(near)]
    rounded: dict[tuple[int, int], _Group] = {}
    for g in sorted(groups, key=lambda g: (g.mean_in, g.mean_out)):
        key = (math.floor(g.mean_in + 0.5), math.floor(g.mean_out + 0.5))  # half up
        rounded[key] = rounded[key].merged(g) if key in rounded else g
    return [Bucket(i, o, g.count / n, max(g.max_ctx, i + o)) for (i, o), g in sorted(rounded.items())]


@dataclass(frozen=True)
class _Group:
    """A bucket while merging: request count, exact mean lengths, longest context."""

    count: int
    mean_in: float
    mean_out: float
    max_ctx: int

    def distance2(self, other: _Group) -> float:
        """Squared distance in (log2 mean prompt, log2 mean answer), means below 1 counted as 1."""
        log = [math.log2(max(v, 1.0)) for v in (self.mean_in, self.mean_out, other.mean_in, other.mean_out)]
        return (log[0] - log[2]) ** 2 + (log[1] - log[3]) ** 2

    def merged(self, other: _Group) -> _Group:
        n = self.count + other.count
        return _Group(n, (self.mean_in * self.count + other.mean_in * other.count) / n,
                      (self.mean_out * self.count + other.mean_out * other.count) / n, max(self.max_ctx, other.max_ctx))


def buckets_from_list(items: Iterable[Any]) -> list[Bucket]:
    """Hand-written buckets ({input_tokens, output_tokens, share} mappings, or objects with those
    attributes such as the spec's LengthBucket) as Buckets, in the order given.

    The shares are already checked upstream to sum to 1 (within the spec's tolerance); they are
    divided by their sum here so that they sum to 1 to rounding. The max context of a hand-written
    bucket is its input + output.
    """
    get = lambda b, k: b[k] if isinstance(b, dict) else getattr(b, k)  # noqa: E731
    rows = [(int(get(b, "input_tokens")), int(get(b, "output_tokens")), float(get(b, "share"))) for b in items]
    total = sum(s for _, _, s in rows)
    if not rows or total <= 0:
        raise ValueError("length buckets need at least one bucket with a positive share")
    return [Bucket(i, o, s / total, i + o) for i, o, s in rows]


def mean_lengths(buckets: Iterable[Bucket]) -> tuple[float, float]:
    """Share-weighted mean prompt and answer length of a mix, tokens (shares normalised by their sum)."""
    buckets = list(buckets)
    total = sum(b.share for b in buckets)
    if not buckets or total <= 0:
        raise ValueError("mean_lengths needs at least one bucket with a positive share")
    return (sum(b.share * b.input_tokens for b in buckets) / total,
            sum(b.share * b.output_tokens for b in buckets) / total)


def interarrival_cv(arrival_s: np.ndarray) -> float | None:
    """Burstiness of arrivals: the coefficient of variation (population std / mean) of the gaps
    between consecutive arrivals; 1 for Poisson arrivals, 0 for evenly spaced ones.

    Returns:
        The CV, or None with fewer than 3 arrivals (under 2 gaps) or a mean gap of 0.
    """
    gaps = np.diff(np.asarray(arrival_s, dtype=np.float64))
    mean = float(gaps.mean()) if gaps.size >= 2 else 0.0
    return float(gaps.std() / mean) if mean > 0 else None
