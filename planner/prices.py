"""Priced tables: cloud offers, GPU purchase prices, server types and their parts, network items and
running costs.

Six CSV files under `catalog/` (shipped in the wheel as `planner._catalog`, like the GPU catalogue):
`cloud_offers.csv`, `gpu_prices.csv`, `servers.csv`, `server_parts.csv`, `network.csv` and
`running_costs.csv`. Every row carries a `source`, an `as_of` date (YYYY-MM-DD) and a `confidence`
(high|medium|low); `catalog/README-prices.md` says where each group of figures came from.

Rows are validated on load with the catalogue's helpers (`planner.catalog._Row`, `_read_csv`,
`_data_text`): every malformed cell is reported as `catalog/<file>.csv:<line>: <column>: what`, and
all problems of all six files are raised together as one `CatalogError`. GPU ids must be ids of
`catalog/gpus.csv` (an unknown id gets a did-you-mean).

Prices go stale: `PriceBook.oldest_as_of()` gives the oldest date a plan may rest on.

A user's own figures go over the shipped ones in two steps (`prices_for_spec`): a catalogue file
(`--catalog FILE`, YAML lists named after the CSV files, rows validated exactly like the shipped
ones; `merge_catalog_file`), then the workload file's `costs:` section (`apply_overrides`).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.catalog import (
    Catalog,
    _data_text,
    _read_csv,
    _Row,
    _unique_ids,
    load_catalog,
    normalise_name,
    read_user_text,
)
from planner.errors import CatalogError, InputError, Problem

if TYPE_CHECKING:
    from planner.loader import LoadedSpec
    from planner.schema import Costs

PRICING_TIERS = ("on_demand", "spot", "reserved_1y", "reserved_3y")
"""How a cloud GPU-hour is bought; each tier has a `<tier>_usd_per_gpu_hour` column."""

CONFIDENCE = ("high", "medium", "low")
OFFER_KINDS = ("cloud", "marketplace")
GPU_CONDITIONS = ("new", "used", "msrp")
GPU_FORMS = ("baseboard", "pcie", "consumer", "superchip")
PART_CATEGORIES = (
    "cpu", "ram", "motherboard", "nic", "storage", "chassis", "psu", "cooling", "assembly", "other",
)
NETWORK_KINDS = ("switch", "rack", "other")
GPUS_PER_INSTANCE = (1, 2, 4, 8)
RUNNING_KEYS = (
    "electricity_usd_per_kwh",
    "pue",
    "colocation_usd_per_kw_month",
    "maintenance_fraction_of_capex_per_year",
    "gpu_power_utilization",
    "hours_per_month",
)
"""The keys `running_costs.csv` must hold, each exactly once."""

PRICE_FILES = (
    "cloud_offers.csv", "gpu_prices.csv", "servers.csv", "server_parts.csv", "network.csv",
    "running_costs.csv",
)

OFFER_COLUMNS = (
    "provider", "gpu", "instance_type", "gpus_per_instance", "region", "offer_kind",
    "on_demand_usd_per_gpu_hour", "spot_usd_per_gpu_hour", "reserved_1y_usd_per_gpu_hour",
    "reserved_3y_usd_per_gpu_hour", "confidence", "source", "as_of", "notes",
)
GPU_PRICE_COLUMNS = (
    "gpu", "usd_per_gpu", "usd_low", "usd_high", "condition", "confidence", "source", "as_of", "notes",
)
SERVER_COLUMNS = (
    "id", "name", "gpu_forms", "gpus_per_server", "host_power_w", "rack_units", "confidence", "source",
    "as_of", "notes",
)
PART_COLUMNS = (
    "server", "item", "category", "quantity", "unit_usd", "confidence", "source", "as_of", "notes",
)
NETWORK_COLUMNS = ("id", "item", "kind", "ports", "unit_usd", "confidence", "source", "as_of", "notes")
RUNNING_COLUMNS = ("key", "value", "unit", "confidence", "source", "as_of", "notes")


# --------------------------------------------------------------------------------------------
# Row types
# --------------------------------------------------------------------------------------------


def _check_tier(pricing: str) -> None:
    if pricing not in PRICING_TIERS:
        raise InputError(
            Problem(f"unknown pricing {pricing!r}", key="pricing", expected="one of " + ", ".join(PRICING_TIERS))
        )


@dataclass(frozen=True)
class CloudOffer:
    """One rentable instance shape. Prices are per GPU-hour (instance price / GPUs); `None` where the
    source publishes no price for that tier."""

    provider: str
    gpu: str
    instance_type: str
    gpus_per_instance: int
    region: str
    offer_kind: str
    on_demand_usd_per_gpu_hour: float | None
    spot_usd_per_gpu_hour: float | None
    reserved_1y_usd_per_gpu_hour: float | None
    reserved_3y_usd_per_gpu_hour: float | None
    confidence: str
    source: str
    as_of: str
    notes: str = ""

    def usd_per_gpu_hour(self, pricing: str) -> float | None:
        """Price of one GPU-hour under `pricing` (one of PRICING_TIERS); None if not published."""
        _check_tier(pricing)
        return getattr(self, f"{pricing}_usd_per_gpu_hour")

    def usd_per_instance_hour(self, pricing: str) -> float | None:
        """Price of one instance-hour: per-GPU price x gpus_per_instance; None if not published."""
        per_gpu = self.usd_per_gpu_hour(pricing)
        return None if per_gpu is None else per_gpu * self.gpus_per_instance


@dataclass(frozen=True)
class GpuPrice:
    """Purchase price of one card. `usd_low`/`usd_high` bound the spread the source gives (None if a
    single figure); `condition` is new, used or msrp (a launch list price)."""

    gpu: str
    usd_per_gpu: float
    usd_low: float | None
    usd_high: float | None
    condition: str
    confidence: str
    source: str
    as_of: str
    notes: str = ""


@dataclass(frozen=True)
class ServerPart:
    """One non-GPU line of a server's bill of materials."""

    server: str
    item: str
    category: str
    quantity: int
    unit_usd: float
    confidence: str
    source: str
    as_of: str
    notes: str = ""

    @property
    def total_usd(self) -> float:
        return self.quantity * self.unit_usd


@dataclass(frozen=True)
class ServerType:
    """A server a GPU can be bought into. `gpu_forms` are the `gpu_form()` values it takes;
    `host_power_w` is the non-GPU power (CPUs, RAM, fans, NICs)."""

    id: str
    name: str
    gpu_forms: frozenset[str]
    gpus_per_server: int
    host_power_w: float
    rack_units: int
    parts: tuple[ServerPart, ...]
    confidence: str
    source: str
    as_of: str
    notes: str = ""

    @property
    def base_usd(self) -> float:
        """Price of the server without GPUs: the sum of quantity x unit_usd over its parts."""
        return sum(p.total_usd for p in self.parts)


@dataclass(frozen=True)
class NetworkItem:
    """A switch, rack or other shared item; `ports` is None where it has none."""

    id: str
    item: str
    kind: str
    ports: int | None
    unit_usd: float
    confidence: str
    source: str
    as_of: str
    notes: str = ""


@dataclass(frozen=True)
class RunningCost:
    """One running-cost figure (electricity price, PUE, colocation rate, ...)."""

    key: str
    value: float
    unit: str
    confidence: str
    source: str
    as_of: str
    notes: str = ""


@dataclass(frozen=True)
class PriceBook:
    """All priced tables, validated."""

    offers: tuple[CloudOffer, ...]
    gpu_prices: dict[str, GpuPrice]
    servers: tuple[ServerType, ...]
    network: tuple[NetworkItem, ...]
    running: dict[str, RunningCost]

    def rack(self) -> NetworkItem | None:
        """The rack the planner prices bought servers into (the first `kind=rack` row), if any."""
        return next((n for n in self.network if n.kind == "rack"), None)

    def running_value(self, key: str) -> float:
        """The value of running cost `key` (one of RUNNING_KEYS)."""
        try:
            return self.running[key].value
        except KeyError:
            raise CatalogError(
                Problem(f"unknown running cost {key!r}", file="catalog/running_costs.csv", key="key",
                        expected="one of " + ", ".join(RUNNING_KEYS))
            ) from None

    def server(self, server_id: str) -> ServerType:
        for s in self.servers:
            if s.id == server_id:
                return s
        raise CatalogError(
            Problem(f"unknown server {server_id!r}.{_did_you_mean(server_id, [s.id for s in self.servers])}",
                    file="catalog/servers.csv", key="id")
        )

    def oldest_as_of(self) -> str:
        """The oldest `as_of` date over every row of every table (YYYY-MM-DD)."""
        dates: list[str] = [o.as_of for o in self.offers]
        dates += [g.as_of for g in self.gpu_prices.values()]
        for s in self.servers:
            dates.append(s.as_of)
            dates += [p.as_of for p in s.parts]
        dates += [n.as_of for n in self.network]
        dates += [r.as_of for r in self.running.values()]
        return min(d for d in dates if d)


def gpu_form(gpu) -> str:
    """'baseboard' (form_factor mentions SXM or OAM), 'consumer' (geforce_eula), 'superchip'
    (form_factor mentions Superchip: GH200/GB200, not buyable as cards), else 'pcie'."""
    form = (gpu.form_factor or "").lower()
    if "superchip" in form:
        return "superchip"
    if "sxm" in form or "oam" in form:
        return "baseboard"
    if gpu.geforce_eula:
        return "consumer"
    return "pcie"


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    known = list(known)
    by_norm = {normalise_name(k): k for k in known}
    close = difflib.get_close_matches(normalise_name(name), list(by_norm), n=3, cutoff=0.55)
    return f" Did you mean: {', '.join(by_norm[c] for c in close)}?" if close else ""


def _full_date(r: _Row, col: str = "as_of") -> str:
    """A required calendar date in full YYYY-MM-DD form (stricter than `_Row.date`)."""
    value = r.str(col)
    if value:
        try:
            if len(value) != 10:
                raise ValueError
            _dt.date.fromisoformat(value)
        except ValueError:
            r._err(col, f"not a date (got {value!r})", "YYYY-MM-DD")
    return value


def _provenance(r: _Row) -> dict[str, str]:
    return {
        "confidence": r.choice("confidence", CONFIDENCE),
        "source": r.str("source"),
        "as_of": _full_date(r),
        "notes": r.str("notes", required=False),
    }


def _gpu_id(r: _Row, col: str, gpu_ids: set[str]) -> str:
    value = r.str(col)
    if value and value not in gpu_ids:
        r._err(col, f"unknown gpu {value!r}.{_did_you_mean(value, gpu_ids)} "
                    "Hint: ids are those of catalog/gpus.csv (`planner catalog gpus`).")
    return value


def _rows(texts: dict[str, tuple[str, str]], filename: str, columns: Iterable[str],
          problems: list[Problem]) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """(path label, rows) of one file; a missing file or missing columns become problems."""
    if filename not in texts:
        path = f"catalog/{filename}"
        problems.append(Problem("file is missing", file=path))
        return path, []
    text, path = texts[filename]
    try:
        return path, _read_csv(text, path, columns)
    except CatalogError as exc:
        problems.extend(exc.problems)
        return path, []


def _parse_offers(path: str, rows, gpu_ids: set[str], problems: list[Problem]) -> tuple[CloudOffer, ...]:
    out = []
    for line, data in rows:
        r = _Row(path, line, data, problems)
        n = r.int("gpus_per_instance")
        if n and n not in GPUS_PER_INSTANCE:
            r._err("gpus_per_instance", f"must be a power of two up to 8 (got {n})", "1, 2, 4 or 8")
        prices = {t: r.num(f"{t}_usd_per_gpu_hour", required=False) for t in PRICING_TIERS}
        raw_prices = [(data.get(f"{t}_usd_per_gpu_hour") or "").strip() for t in PRICING_TIERS]
        if not any(raw_prices):
            r._err("on_demand_usd_per_gpu_hour", "no price in any tier",
                   "at least one of " + ", ".join(f"{t}_usd_per_gpu_hour" for t in PRICING_TIERS))
        out.append(CloudOffer(
            provider=r.str("provider"), gpu=_gpu_id(r, "gpu", gpu_ids), instance_type=r.str("instance_type"),
            gpus_per_instance=n, region=r.str("region"), offer_kind=r.choice("offer_kind", OFFER_KINDS),
            on_demand_usd_per_gpu_hour=prices["on_demand"], spot_usd_per_gpu_hour=prices["spot"],
            reserved_1y_usd_per_gpu_hour=prices["reserved_1y"], reserved_3y_usd_per_gpu_hour=prices["reserved_3y"],
            **_provenance(r),
        ))
    return tuple(out)


def _parse_gpu_prices(path: str, rows, gpu_ids: set[str], problems: list[Problem]) -> dict[str, GpuPrice]:
    out: dict[str, GpuPrice] = {}
    first: dict[str, int] = {}
    for line, data in rows:
        r = _Row(path, line, data, problems)
        gpu = _gpu_id(r, "gpu", gpu_ids)
        usd = r.num("usd_per_gpu")
        low, high = r.num("usd_low", required=False), r.num("usd_high", required=False)
        if usd is not None and low is not None and low > usd:
            r._err("usd_low", f"{low:g} is above usd_per_gpu {usd:g}")
        if usd is not None and high is not None and high < usd:
            r._err("usd_high", f"{high:g} is below usd_per_gpu {usd:g}")
        if gpu in first:
            r._err("gpu", f"duplicate gpu {gpu!r} (first at line {first[gpu]})", "one row per gpu")
        first.setdefault(gpu, line)
        price = GpuPrice(gpu=gpu, usd_per_gpu=usd or 0.0, usd_low=low, usd_high=high,
                         condition=r.choice("condition", GPU_CONDITIONS), **_provenance(r))
        out.setdefault(gpu, price)
    return out


def _parse_parts(path: str, rows, server_ids: list[str], problems: list[Problem]) -> list[ServerPart]:
    out = []
    for line, data in rows:
        r = _Row(path, line, data, problems)
        server = r.str("server")
        if server and server not in server_ids:
            r._err("server", f"unknown server {server!r}.{_did_you_mean(server, server_ids)}",
                   "an id of catalog/servers.csv")
        quantity = r.int("quantity")
        if quantity <= 0 and (data.get("quantity") or "").strip():
            r._err("quantity", f"must be > 0 (got {quantity})")
        out.append(ServerPart(
            server=server, item=r.str("item"), category=r.choice("category", PART_CATEGORIES),
            quantity=quantity, unit_usd=r.num("unit_usd") or 0.0, **_provenance(r),
        ))
    return out


def _parse_servers(path: str, rows, parts: list[ServerPart], problems: list[Problem]) -> tuple[ServerType, ...]:
    out = []
    ids = []
    for line, data in rows:
        r = _Row(path, line, data, problems)
        forms = frozenset(f.strip() for f in (data.get("gpu_forms") or "").split(";") if f.strip())
        if not forms:
            r._err("gpu_forms", "is empty", "';'-separated forms out of " + ", ".join(GPU_FORMS))
        for f in sorted(forms - set(GPU_FORMS)):
            r._err("gpu_forms", f"unknown form {f!r}", "one of " + ", ".join(GPU_FORMS))
        counts = {}
        for col in ("gpus_per_server", "rack_units"):
            counts[col] = r.int(col)
            if counts[col] <= 0 and (data.get(col) or "").strip():
                r._err(col, f"must be > 0 (got {data.get(col)})")
        sid = r.str("id")
        mine = tuple(p for p in parts if p.server == sid)
        if sid and not mine:
            r._err("id", f"server {sid!r} has no parts", "at least one row in catalog/server_parts.csv")
        ids.append((line, sid))
        out.append(ServerType(
            id=sid, name=r.str("name"), gpu_forms=forms, gpus_per_server=counts["gpus_per_server"],
            host_power_w=r.num("host_power_w") or 0.0, rack_units=counts["rack_units"], parts=mine,
            **_provenance(r),
        ))
    problems += _unique_ids(path, ids)
    return tuple(out)


def _parse_network(path: str, rows, problems: list[Problem]) -> tuple[NetworkItem, ...]:
    out = []
    ids = []
    for line, data in rows:
        r = _Row(path, line, data, problems)
        ports_raw = (data.get("ports") or "").strip()
        ports = r.int("ports", required=False) if ports_raw else None
        if ports is not None and ports <= 0:
            r._err("ports", f"must be > 0 (got {ports_raw})")
        item = NetworkItem(
            id=r.str("id"), item=r.str("item"), kind=r.choice("kind", NETWORK_KINDS), ports=ports or None,
            unit_usd=r.num("unit_usd") or 0.0, **_provenance(r),
        )
        ids.append((line, item.id))
        out.append(item)
    problems += _unique_ids(path, ids)
    return tuple(out)


_RUNNING_BOUNDS = {
    # key: (lowest allowed, highest allowed, what it is)
    "pue": (1.0, 3.0, "a PUE between 1 and 3"),
    "maintenance_fraction_of_capex_per_year": (0.0, 1.0, "a fraction in (0, 1]"),
    "gpu_power_utilization": (0.0, 1.0, "a fraction of TDP in (0, 1]"),
}


def _parse_running(path: str, rows, problems: list[Problem], complete: bool = True) -> dict[str, RunningCost]:
    """Running-cost rows by key; `complete` requires one row for every key of RUNNING_KEYS."""
    out: dict[str, RunningCost] = {}
    first: dict[str, int] = {}
    for line, data in rows:
        r = _Row(path, line, data, problems)
        key = r.choice("key", RUNNING_KEYS)
        value = r.num("value")
        if value is not None and key in _RUNNING_BOUNDS:
            lo, hi, what = _RUNNING_BOUNDS[key]
            if not lo <= value <= hi:
                r._err("value", f"out of range for {key} (got {value:g})", what)
        if key in first:
            r._err("key", f"duplicate key {key!r} (first at line {first[key]})")
        first.setdefault(key, line)
        if key in RUNNING_KEYS:
            out.setdefault(key, RunningCost(key=key, value=value or 0.0, unit=r.str("unit"), **_provenance(r)))
    missing = [k for k in RUNNING_KEYS if k not in out]
    if complete and missing and rows:
        problems.append(Problem(f"missing key(s): {', '.join(missing)}", file=path, key="key",
                                expected="exactly one row for each of " + ", ".join(RUNNING_KEYS)))
    return out


def parse_prices(texts: dict[str, tuple[str, str]], gpu_ids: set[str]) -> PriceBook:
    """Parse and validate the six priced tables.

    `texts` maps each file name of PRICE_FILES to `(text, path label)`; `gpu_ids` are the valid GPU
    ids. Every problem in every file is collected and raised at once as a `CatalogError`.
    """
    problems: list[Problem] = []
    gpu_ids = set(gpu_ids)
    path, rows = _rows(texts, "cloud_offers.csv", OFFER_COLUMNS, problems)
    offers = _parse_offers(path, rows, gpu_ids, problems)
    path, rows = _rows(texts, "gpu_prices.csv", GPU_PRICE_COLUMNS, problems)
    gpu_prices = _parse_gpu_prices(path, rows, gpu_ids, problems)

    server_path, server_rows = _rows(texts, "servers.csv", SERVER_COLUMNS, problems)
    server_ids = [(d.get("id") or "").strip() for _, d in server_rows]
    path, rows = _rows(texts, "server_parts.csv", PART_COLUMNS, problems)
    parts = _parse_parts(path, rows, server_ids, problems)
    servers = _parse_servers(server_path, server_rows, parts, problems)

    path, rows = _rows(texts, "network.csv", NETWORK_COLUMNS, problems)
    network = _parse_network(path, rows, problems)
    path, rows = _rows(texts, "running_costs.csv", RUNNING_COLUMNS, problems)
    running = _parse_running(path, rows, problems)
    if not rows and "running_costs.csv" in texts:
        problems.append(Problem("no rows", file=path, expected="one row for each of " + ", ".join(RUNNING_KEYS)))
    if problems:
        raise CatalogError(problems)
    return PriceBook(offers=offers, gpu_prices=gpu_prices, servers=servers, network=network, running=running)


@functools.lru_cache(maxsize=1)
def load_prices() -> PriceBook:
    """The shipped price tables (cached), validated against the GPU catalogue's ids."""
    texts = {name: _data_text(name) for name in PRICE_FILES}
    return parse_prices(texts, set(load_catalog().gpus.rows))


# --------------------------------------------------------------------------------------------
# User prices: a catalogue file (--catalog) and a workload file's `costs:`
# --------------------------------------------------------------------------------------------

CATALOG_SECTIONS: dict[str, tuple[str, ...]] = {
    "cloud_offers": OFFER_COLUMNS,
    "gpu_prices": GPU_PRICE_COLUMNS,
    "servers": SERVER_COLUMNS,
    "server_parts": PART_COLUMNS,
    "network": NETWORK_COLUMNS,
    "running_costs": RUNNING_COLUMNS,
}
"""Top-level lists of a user catalogue file (`--catalog`), each item with the columns of the CSV
file of the same name."""

_CSV_LIST_COLUMNS = {"gpu_forms"}
"""Columns a YAML item may give as a list (joined with ';' as in the CSV)."""


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
    from planner.loader import _Document, _parse

    root, data, problems = _parse(text, label)
    doc = _Document(root, label)
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
    offers = _parse_offers(label, rows["cloud_offers"], ids, found["cloud_offers"])
    found["cloud_offers"] += _duplicate_keys(label, rows["cloud_offers"], ("provider", "instance_type", "gpu"))
    gpu_prices = _parse_gpu_prices(label, rows["gpu_prices"], ids, found["gpu_prices"])
    server_ids = [s.id for s in book.servers] + [(d.get("id") or "").strip() for _, d in rows["servers"]]
    parts = _parse_parts(label, rows["server_parts"], server_ids, found["server_parts"])
    found["server_parts"] += _duplicate_keys(label, rows["server_parts"], ("server", "item"))
    all_parts = _merged([p for s in book.servers for p in s.parts], parts, lambda p: (p.server, p.item))
    servers = _parse_servers(label, rows["servers"], all_parts, found["servers"])
    network = _parse_network(label, rows["network"], found["network"])
    running = _parse_running(label, rows["running_costs"], found["running_costs"], complete=False)
    for section, section_problems in found.items():
        problems += [_locate(doc, section, p, at_line, given) for p in section_problems
                     if (section, p.line, p.key) not in unreadable]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        raise CatalogError(problems)

    merged_servers = _merged(list(book.servers), list(servers), lambda s: s.id)
    return PriceBook(
        offers=tuple(_merged(list(book.offers), list(offers), lambda o: (o.provider, o.instance_type, o.gpu))),
        gpu_prices={**book.gpu_prices, **gpu_prices},
        servers=tuple(replace(s, parts=tuple(p for p in all_parts if p.server == s.id)) for s in merged_servers),
        network=tuple(_merged(list(book.network), list(network), lambda n: n.id)),
        running={**book.running, **running},
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


def apply_overrides(book: PriceBook, costs: Costs, gpu_ids: Mapping[str, str], *, pricing: str, source: str,
                    as_of: str) -> PriceBook:
    """A new PriceBook with a workload file's `costs:` applied (`book` itself when there is nothing to apply).

    * Running costs (electricity_usd_per_kwh, pue, colocation_usd_per_kw_month,
      maintenance_fraction_of_capex_per_year, gpu_power_utilization): the row is replaced by one
      with the user's value.
    * `gpu_usd`: the GPU's purchase price is replaced (or added: the GPU becomes buyable) by a
      row of condition `user`.
    * `rent_usd_per_gpu_hour`: the `<pricing>_usd_per_gpu_hour` price of every offer of that GPU
      is replaced (also where the catalogue had none at that tier); no offer is added.

    `gpu_ids` maps each GPU name as written under `costs` to its catalogue id; `source` names the
    workload file (`workload file <path>`), and every replaced row's source is
    `<source>: costs.<key>`; `as_of` (YYYY-MM-DD) dates them (the plan's --today).
    """
    _check_tier(pricing)
    running = dict(book.running)
    for key in RUNNING_KEYS:
        value = getattr(costs, key, None)
        if value is None:
            continue
        old = running.get(key)
        running[key] = RunningCost(
            key=key, value=float(value), unit=old.unit if old else "", confidence="high",
            source=f"{source}: costs.{key}", as_of=as_of,
            notes=f"user figure; the catalogue has {old.value:g} ({old.source})" if old else "user figure")
    gpu_prices = dict(book.gpu_prices)
    for name, usd in costs.gpu_usd.items():
        gid = gpu_ids[name]
        old_price = gpu_prices.get(gid)
        gpu_prices[gid] = GpuPrice(
            gpu=gid, usd_per_gpu=float(usd), usd_low=None, usd_high=None, condition="user", confidence="high",
            source=f"{source}: costs.gpu_usd.{name}", as_of=as_of,
            notes=f"user figure; the catalogue has {old_price.usd_per_gpu:g}" if old_price else "user figure")
    rent = {gpu_ids[name]: (name, float(usd)) for name, usd in costs.rent_usd_per_gpu_hour.items()}
    offers = tuple(
        replace(o, **{f"{pricing}_usd_per_gpu_hour": rent[o.gpu][1]}, as_of=as_of,
                source=f"{source}: costs.rent_usd_per_gpu_hour.{rent[o.gpu][0]} ({pricing.replace('_', '-')}); "
                       f"instance: {o.source}")
        if o.gpu in rent else o
        for o in book.offers)
    if running == book.running and gpu_prices == book.gpu_prices and offers == book.offers:
        return book
    return replace(book, offers=offers, gpu_prices=gpu_prices, running=running)


def prices_for_spec(book: PriceBook, loaded: LoadedSpec, cat: Catalog, catalog_file: str | Path | None = None,
                    today: _dt.date | None = None) -> PriceBook:
    """The prices a plan uses: `book`, then the rows of `catalog_file` (`--catalog`) merged over it,
    then the workload file's `costs:` applied, dated `today` (default: today).

    Raises:
        CatalogError: a malformed catalogue file, or a GPU name under `costs` that is unknown,
            given twice, or (under rent_usd_per_gpu_hour) has no cloud offer to reprice; located.
    """
    if catalog_file is not None:
        book = merge_catalog_file(book, catalog_file, cat.gpus.rows)
    costs = loaded.spec.costs
    problems: list[Problem] = []
    gpu_ids: dict[str, str] = {}
    for key in ("gpu_usd", "rent_usd_per_gpu_hour"):
        first: dict[str, str] = {}
        for name in getattr(costs, key):
            try:
                gid = cat.gpu(name).id
            except InputError as exc:
                problems += [loaded.problem(("costs", key, name), p.message, p.expected) for p in exc.problems]
                continue
            if gid in first:
                problems.append(loaded.problem(("costs", key, name), f"{name!r} and {first[gid]!r} both name {gid}",
                                               "one entry per GPU"))
            elif key == "rent_usd_per_gpu_hour" and not any(o.gpu == gid for o in book.offers):
                problems.append(loaded.problem(
                    ("costs", key, name), f"no cloud offer of {gid} to reprice",
                    "a GPU with a catalogue offer (add offers with --catalog FILE, cloud_offers:)"))
            first.setdefault(gid, name)
            gpu_ids[name] = gid
    if problems:
        raise CatalogError(problems)
    day = (today or _dt.date.today()).isoformat()
    return apply_overrides(book, costs, gpu_ids, pricing=loaded.spec.rent.pricing,
                           source=f"workload file {loaded.path}", as_of=day)
