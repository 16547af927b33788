"""A user's catalogue file (`--catalog FILE`): YAML lists named after the price CSV files, merged
over the shipped tables; rows are validated exactly like the shipped ones, errors located in the
YAML file.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.catalog.price_rows import PriceBook
from planner.catalog.prices import (
    CATALOG_SECTIONS,
    parse_gpu_prices,
    parse_local_offers,
    parse_network,
    parse_offers,
    parse_parts,
    parse_rates,
    parse_running,
    parse_servers,
    to_usd,
)
from planner.errors import CatalogError, Problem
from planner.spec.textfile import read_user_text
from planner.spec.yaml_tree import YamlDocument, parse_yaml

_CSV_LIST_COLUMNS = {"gpu_forms"}
"""Columns a YAML item may give as a list (joined with ';' as in the CSV)."""

MAX_CATALOG_NODES = 100_000
"""Most YAML values (keys included) a `--catalog` file may hold; a workload file may hold 20,000. About
4,000 price rows of 12 columns, far beyond the shipped tables (60 cloud offers)."""


def _cell(value: Any) -> str | None:
    """A YAML value as the CSV cell text the row parser reads; None for a mapping or nested list."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    return None


def merge_catalog_file(book: PriceBook, path: str | Path, gpu_ids: Iterable[str]) -> PriceBook:
    """`book` with the rows of the user catalogue file at `path` (`planner solve --catalog FILE`).

    The file is YAML with optional top-level lists named after the CSV files (CATALOG_SECTIONS);
    each item has that file's columns (`source` and `as_of` required, like every shipped row) and
    is validated exactly as a CSV row. An item whose key matches a row of `book` replaces it
    (offers: provider, instance_type, gpu; gpu_prices: gpu; servers: id; server_parts: server,
    item; network: id; running_costs: key); other items are added.

    Raises:
        CatalogError: every problem of the file, located `FILE:line:col: cloud_offers[0].gpu: ...`.
    """
    label = str(path)
    return merge_catalog_text(book, read_user_text(Path(path)), label, gpu_ids)


def merge_catalog_text(book: PriceBook, text: str, label: str, gpu_ids: Iterable[str]) -> PriceBook:
    """`merge_catalog_file` on YAML given as text; `label` names it in messages."""

    root, data, problems = parse_yaml(text, label, MAX_CATALOG_NODES)
    doc = YamlDocument(root, label)
    if root is None:
        raise CatalogError(Problem("the file is empty", file=label, line=1, col=1,
                                   expected="lists such as cloud_offers: or gpu_prices:"))
    if not isinstance(data, dict):
        raise CatalogError(doc.problem((), "the top level must be a mapping of lists",
                                       "keys among " + ", ".join(CATALOG_SECTIONS)))
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {k: [] for k in CATALOG_SECTIONS}
    given: dict[tuple[str, int], set[str]] = {}  # (section, item start line) -> columns written
    unreadable: set[tuple[str, int, str]] = set()  # (section, item start line, column) already reported
    at_line: dict[tuple[str, int], list[int]] = {}  # (section, item start line) -> item indexes
    for section, items in data.items():
        columns = CATALOG_SECTIONS.get(section) if isinstance(section, str) else None
        if columns is None:
            close = difflib.get_close_matches(str(section), list(CATALOG_SECTIONS), n=1, cutoff=0.6)
            problems.append(doc.problem(
                (section,), f"unknown key {section!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                None if close else "one of " + ", ".join(CATALOG_SECTIONS), at_key=True))
            continue
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(doc.problem((section,), "must be a list of rows", "items of column: value"))
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(doc.problem((section, i), "must be a mapping of column: value",
                                            "the columns of catalog/" + section + ".csv"))
                continue
            line = doc.mark((section, i))[0] or 0
            cells: dict[str, str] = {}
            for col, value in item.items():
                if col not in columns:
                    close = difflib.get_close_matches(str(col), list(columns), n=1, cutoff=0.6)
                    problems.append(doc.problem(
                        (section, i, col), f"unknown column {col!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                        None if close else "one of " + ", ".join(columns), at_key=True))
                    continue
                if col in _CSV_LIST_COLUMNS and isinstance(value, list):
                    parts = [_cell(v) for v in value]
                    cell = None if any(p is None for p in parts) else ";".join(p for p in parts if p)
                else:
                    cell = _cell(value)
                if cell is None:
                    problems.append(doc.problem((section, i, col), "expected a single value, got a "
                                                + ("list" if isinstance(value, list) else "mapping")))
                    unreadable.add((section, line, col))
                    continue
                cells[col] = cell
            rows[section].append((line, cells))
            given[(section, line)] = {c for c in item if c in columns}
            at_line.setdefault((section, line), []).append(i)

    ids = set(gpu_ids)
    found: dict[str, list[Problem]] = {k: [] for k in CATALOG_SECTIONS}
    offers = parse_offers(label, rows["cloud_offers"], ids, found["cloud_offers"])
    found["cloud_offers"] += _duplicate_keys(label, rows["cloud_offers"], ("provider", "instance_type", "gpu"))
    rates = {**book.rates, **parse_rates(label, rows["exchange_rates"], found["exchange_rates"])}
    offers += parse_local_offers(label, rows["cloud_offers_local"], ids, rates, found["cloud_offers_local"])
    found["cloud_offers_local"] += _duplicate_keys(label, rows["cloud_offers_local"],
                                                   ("provider", "instance_type", "gpu"))
    gpu_prices = parse_gpu_prices(label, rows["gpu_prices"], ids, found["gpu_prices"])
    server_ids = [s.id for s in book.servers] + [(d.get("id") or "").strip() for _, d in rows["servers"]]
    parts = parse_parts(label, rows["server_parts"], server_ids, found["server_parts"])
    found["server_parts"] += _duplicate_keys(label, rows["server_parts"], ("server", "item"))
    all_parts = _merged([p for s in book.servers for p in s.parts], parts, lambda p: (p.server, p.item))
    servers = parse_servers(label, rows["servers"], all_parts, found["servers"])
    network = parse_network(label, rows["network"], found["network"])
    running = parse_running(label, rows["running_costs"], found["running_costs"], complete=False)
    for section, section_problems in found.items():
        problems += [_locate(doc, section, p, at_line, given) for p in section_problems
                     if (section, p.line, p.key) not in unreadable]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        raise CatalogError(problems)

    merged_servers = _merged(list(book.servers), list(servers), lambda s: s.id)
    shipped = [to_usd(o, rates[o.local.currency]) if o.local is not None and o.local.currency in rates else o
               for o in book.offers]
    return PriceBook(
        offers=tuple(_merged(shipped, list(offers), lambda o: (o.provider, o.instance_type, o.gpu))),
        gpu_prices={**book.gpu_prices, **gpu_prices},
        servers=tuple(replace(s, parts=tuple(p for p in all_parts if p.server == s.id)) for s in merged_servers),
        network=tuple(_merged(list(book.network), list(network), lambda n: n.id)),
        running={**book.running, **running},
        rates=rates,
    )


def _merged(base: list, extra: list, key: Callable[[Any], Any]) -> list:
    """`base` with each row replaced by the row of `extra` with the same key, then the rest of `extra`."""
    by_key = {key(r): r for r in extra}
    out = [by_key.pop(key(r), r) for r in base]
    return out + [r for r in extra if key(r) in by_key]


def _duplicate_keys(path: str, rows, key_cols: tuple[str, ...]) -> list[Problem]:
    """A problem per row whose key columns repeat an earlier row's."""
    first: dict[tuple[str, ...], int] = {}
    out = []
    for line, data in rows:
        key = tuple((data.get(c) or "").strip() for c in key_cols)
        if key in first and all(key):
            out.append(Problem(f"duplicate row for {', '.join(key)} (first at line {first[key]})", file=path,
                               line=line, key=key_cols[-1], expected=f"one row per {', '.join(key_cols)}"))
        first.setdefault(key, line)
    return out


def _locate(doc, section: str, p: Problem, at_line: dict[tuple[str, int], list[int]],
            given: dict[tuple[str, int], set[str]]) -> Problem:
    """A row parser's problem (`FILE:line: column: ...`, line = the item's first line) pointed at
    the value in the YAML file, with its key path (`cloud_offers[0].gpu`)."""
    items = at_line.get((section, p.line or 0), [])
    if len(items) != 1 or p.key not in CATALOG_SECTIONS[section]:
        return replace(p, key=f"{section}: {p.key}" if p.key else section)
    i, col = items[0], p.key
    if p.message == "is empty" and col not in given[(section, p.line or 0)]:
        line, column = doc.mark((section, i))
        return replace(p, message=f"missing required column {col!r}", expected=None, line=line, col=column,
                       key=f"{section}[{i}]")
    line, column = doc.mark((section, i, col))
    return replace(p, line=line, col=column, key=f"{section}[{i}].{col}")
