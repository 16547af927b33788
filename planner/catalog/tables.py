"""The one CSV reader of the shipped tables and user tables: rows with their line numbers, located errors, name indexes with aliases."""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from planner.errors import CatalogError, InputError, Problem
from planner.names import normalise_name

T = TypeVar("T")


class CsvRow:
    """Typed access to one CSV row; collects problems instead of raising on the first."""

    def __init__(self, path: str, line: int, data: dict[str, str], problems: list[Problem]):
        self.path, self.line, self.data, self.problems = path, line, data, problems

    def _err(self, col: str, msg: str, expected: str | None = None) -> None:
        self.problems.append(Problem(msg, file=self.path, line=self.line, key=col, expected=expected))

    def str(self, col: str, required: bool = True) -> str:
        value = (self.data.get(col) or "").strip()
        if required and not value:
            self._err(col, "is empty", "a value")
        return value

    def num(self, col: str, required: bool = True, positive: bool = True) -> float | None:
        raw = (self.data.get(col) or "").strip()
        if not raw:
            if required:
                self._err(col, "is empty", "a number")
            return None
        try:
            value = float(raw)
        except ValueError:
            self._err(col, f"not a number (got {raw!r})", "a number")
            return None
        if not math.isfinite(value):
            self._err(col, f"not a finite number (got {raw!r})", "a number")
            return None
        if positive and value <= 0:
            self._err(col, f"must be > 0 (got {raw})")
            return None
        return value

    def int(self, col: str, required: bool = True, default: int = 0) -> int:
        raw = (self.data.get(col) or "").strip()
        if not raw:
            if required:
                self._err(col, "is empty", "an integer")
            return default
        try:
            return int(float(raw)) if float(raw).is_integer() else self._bad_int(col, raw)
        except ValueError:
            return self._bad_int(col, raw)

    def _bad_int(self, col: str, raw: str) -> int:
        self._err(col, f"not an integer (got {raw!r})", "an integer")
        return 0

    def bool(self, col: str) -> bool:
        raw = (self.data.get(col) or "").strip().lower()
        if raw in ("true", "yes", "1"):
            return True
        if raw in ("false", "no", "0", ""):
            return False
        self._err(col, f"not a boolean (got {raw!r})", "true or false")
        return False

    def choice(self, col: str, allowed: Iterable[str]) -> str:
        value = self.str(col)
        allowed = tuple(allowed)
        if value and value not in allowed:
            self._err(col, f"unknown value {value!r}", "one of " + ", ".join(allowed))
        return value

    def date(self, col: str) -> str:
        value = self.str(col)
        if value and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
            self._err(col, f"not a date (got {value!r})", "YYYY-MM-DD")
        return value

    def aliases(self, col: str = "aliases") -> tuple[str, ...]:
        raw = self.data.get(col) or ""
        return tuple(a.strip() for a in raw.split(";") if a.strip())


def read_csv(text: str, path: str, required_cols: Iterable[str], error: type[InputError] = CatalogError,
             columns_hint: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV table as (line, {column: cell}); every structural defect located.

    The line of a row is the last physical line it spans (as `csv.DictReader.line_num`); blank
    lines are skipped. Raises `error` (CatalogError for the shipped tables, InputError for a user's
    measurements file) listing every problem: a missing or repeated column (line 1, at the column),
    a row with more or fewer cells than the header, a cell longer than the csv module's field
    limit (131,072 characters) or any other CSV syntax error, each at its line.
    """
    text = text.removeprefix("\ufeff")  # a byte-order mark (Excel's UTF-8) is not part of the first column
    reader = csv.reader(io.StringIO(text))
    problems: list[Problem] = []
    header: list[str] = []
    try:
        header = next(reader, [])
    except csv.Error as exc:
        problems.append(Problem(csv_message(exc), file=path, line=reader.line_num or 1))
    first_line = text.split("\n", 1)[0]
    starts = _cell_starts(first_line)
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            problems.append(Problem(f"column {name!r} appears twice (columns {seen[name] + 1} and {i + 1})",
                                    file=path, line=1, col=starts[i] + 1 if i < len(starts) else None,
                                    expected="each column once"))
        seen.setdefault(name, i)
    missing = [c for c in required_cols if c not in seen]
    if missing:
        problems.append(Problem(f"missing column(s): {', '.join(missing)}", file=path, line=1,
                                expected=columns_hint))
    if problems and not header:
        raise error(problems)
    rows = []
    add = lambda message, line, expected: problems.append(Problem(message, file=path, line=line, expected=expected))
    for line, cells in data_rows(reader, len(header), add):
        rows.append((line, dict(zip(header, cells))))
    if problems:
        raise error(problems)
    return rows


def data_rows(reader, width: int, problem: Callable[[str, int, str | None], None]) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows a csv reader has left (after its header), each with its line (the last
    physical line it spans) and exactly `width` cells. A CSV syntax error, or a row of another
    width, goes to `problem(message, line, expected)` and the row is skipped."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem(csv_message(exc), reader.line_num, None)
            continue
        if not cells:
            continue
        if len(cells) != width:
            hint = " (an unquoted comma?)" if len(cells) > width else " (a missing cell, or a row cut short?)"
            problem(f"{len(cells)} cells, but the header has {width}{hint}", reader.line_num,
                    f"{width} cells, like the header")
            continue
        yield reader.line_num, cells


def csv_message(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {csv.field_size_limit():,} characters (the CSV reader's limit)"
    return f"CSV syntax: {exc}"


def _cell_starts(line: str) -> list[int]:
    """0-based start of each cell of one CSV line (commas inside double quotes do not split)."""
    starts, quoted = [0], False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            starts.append(i + 1)
    return starts


@dataclass
class Table(Generic[T]):
    """Rows by id, plus a name index (ids and aliases, normalised) for resolution."""

    kind: str
    rows: dict[str, T]
    index: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> T:
        """The row named `name` (id or alias, any case); CatalogError with did-you-mean otherwise."""
        key = normalise_name(name)
        if key in self.index:
            return self.rows[self.index[key]]
        raise CatalogError(self.unknown_message(name))

    def get(self, name: str) -> T | None:
        key = normalise_name(name)
        return self.rows[self.index[key]] if key in self.index else None

    def unknown_message(self, name: str, suggest: bool = True) -> str:
        """`unknown gpu 'x'. Did you mean: ...? Hint: ...`; `suggest=False` leaves out the did-you-mean
        (about a millisecond a name against the whole index: for files with thousands of names)."""
        close = difflib.get_close_matches(normalise_name(name), list(self.index), n=5, cutoff=0.55) if suggest else []
        ids: list[str] = []
        for c in close:
            rid = self.index[c]
            if rid not in ids:
                ids.append(rid)
        hint = f" Did you mean: {', '.join(ids[:3])}?" if ids else ""
        return (
            f"unknown {self.kind} {name!r}.{hint} "
            f"Hint: `planner catalog {self.kind}s` lists them all."
        )


def build_index(kind: str, path: str, rows: dict[str, object], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    problems: list[Problem] = []
    for rid in rows:
        index[normalise_name(rid)] = rid
    for rid, names in aliases.items():
        for a in names:
            key = normalise_name(a)
            owner = index.get(key)
            if owner is not None and owner != rid:
                problems.append(
                    Problem(f"alias {a!r} of {rid} also names {owner}", file=path, key="aliases")
                )
            index[key] = rid
    if problems:
        raise CatalogError(problems)
    return index


def unique_ids(path: str, parsed: list[tuple[int, str]]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for line, rid in parsed:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._\-]*", rid):
            problems.append(Problem(f"id {rid!r} is not lower-case kebab", file=path, line=line, key="id"))
        if rid in seen:
            problems.append(Problem(f"duplicate id {rid!r} (first at line {seen[rid]})", file=path, line=line, key="id"))
        seen.setdefault(rid, line)
    return problems
