"""Reading the priced tables: eight CSV files under `catalog/` (shipped in the wheel as
`planner._catalog`): `cloud_offers.csv`, `cloud_offers_local.csv` (offers priced in another currency,
stored as published), `exchange_rates.csv`, `gpu_prices.csv`, `servers.csv`, `server_parts.csv`,
`network.csv` and `running_costs.csv`.

Rows are validated on load with the catalogue's CSV reader (`planner.catalog.tables`): every
malformed cell is reported as `catalog/<file>.csv:<line>: <column>: what`, and all problems of all
files are raised together as one `CatalogError`. GPU ids must be ids of `catalog/gpus.csv`
(an unknown id gets a did-you-mean). Local-currency offers are converted to USD on load, each with
its currency's exchange rate: usd = published price / units_per_usd.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterable
from dataclasses import replace

from planner.catalog.price_rows import (
    CONFIDENCE,
    GPU_CONDITIONS,
    GPU_FORMS,
    GPU_PRICE_COLUMNS,
    GPUS_PER_INSTANCE,
    LOCAL_OFFER_COLUMNS,
    MARKETS,
    NETWORK_COLUMNS,
    NETWORK_KINDS,
    OFFER_COLUMNS,
    OFFER_KINDS,
    OFFER_OPTIONAL_COLUMNS,
    PART_CATEGORIES,
    PART_COLUMNS,
    PRICE_FILES,
    PRICING_TIERS,
    RATE_COLUMNS,
    RUNNING_COLUMNS,
    RUNNING_KEYS,
    SERVER_COLUMNS,
    SERVER_OPTIONAL_COLUMNS,
    MOUNTS,
    CloudOffer,
    ExchangeRate,
    GpuPrice,
    LocalPrice,
    NetworkItem,
    PriceBook,
    RunningCost,
    ServerPart,
    ServerType,
    did_you_mean,
)
from planner.catalog.store import data_text, load_catalog
from planner.catalog.tables import CsvRow, read_csv, unique_ids
from planner.errors import CatalogError, Problem


def _full_date(r: CsvRow, col: str = "as_of") -> str:
    """A required calendar date in full YYYY-MM-DD form (stricter than `CsvRow.date`)."""
    value = r.str(col)
    if value:
        try:
            if len(value) != 10:
                raise ValueError
            _dt.date.fromisoformat(value)
        except ValueError:
            r._err(col, f"not a date (got {value!r})", "YYYY-MM-DD")
    return value


def _provenance(r: CsvRow) -> dict[str, str]:
    return {
        "confidence": r.choice("confidence", CONFIDENCE),
        "source": r.str("source"),
        "as_of": _full_date(r),
        "notes": r.str("notes", required=False),
    }


def _gpu_id(r: CsvRow, col: str, gpu_ids: set[str]) -> str:
    value = r.str(col)
    if value and value not in gpu_ids:
        r._err(col, f"unknown gpu {value!r}.{did_you_mean(value, gpu_ids)} "
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
        return path, read_csv(text, path, columns)
    except CatalogError as exc:
        problems.extend(exc.problems)
        return path, []


def _shape(r: CsvRow, data: dict[str, str], tiers_col: str) -> tuple[int, dict[str, float | None]]:
    """(gpus_per_instance, price by tier) of an offer row; the tier columns are `tiers_col` with
    `{t}` for the tier (`{t}_usd_per_gpu_hour`); a row with no price in any tier is a problem."""
    n = r.int("gpus_per_instance")
    if n and n not in GPUS_PER_INSTANCE:
        r._err("gpus_per_instance", f"must be a power of two up to 8 (got {n})", "1, 2, 4 or 8")
    cols = {t: tiers_col.format(t=t) for t in PRICING_TIERS}
    prices = {t: r.num(c, required=False) for t, c in cols.items()}
    if not any((data.get(c) or "").strip() for c in cols.values()):
        r._err(cols["on_demand"], "no price in any tier", "at least one of " + ", ".join(cols.values()))
    return n, prices


def _market(r: CsvRow, data: dict[str, str], required: bool) -> str:
    if not required and not (data.get("market") or "").strip():
        return "global"
    return r.choice("market", MARKETS)


def parse_offers(path: str, rows, gpu_ids: set[str], problems: list[Problem]) -> tuple[CloudOffer, ...]:
    out = []
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
        n, prices = _shape(r, data, "{t}_usd_per_gpu_hour")
        out.append(CloudOffer(
            provider=r.str("provider"), gpu=_gpu_id(r, "gpu", gpu_ids), instance_type=r.str("instance_type"),
            gpus_per_instance=n, region=r.str("region"), offer_kind=r.choice("offer_kind", OFFER_KINDS),
            on_demand_usd_per_gpu_hour=prices["on_demand"], spot_usd_per_gpu_hour=prices["spot"],
            reserved_1y_usd_per_gpu_hour=prices["reserved_1y"], reserved_3y_usd_per_gpu_hour=prices["reserved_3y"],
            **_provenance(r), market=_market(r, data, required=False),
        ))
    return tuple(out)


def parse_rates(path: str, rows, problems: list[Problem]) -> dict[str, ExchangeRate]:
    """Exchange rates by currency (an ISO 4217 code other than USD), one row per currency."""
    out: dict[str, ExchangeRate] = {}
    first: dict[str, int] = {}
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
        currency = r.str("currency")
        if currency and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            r._err("currency", f"not a currency code (got {currency!r})", "an ISO 4217 code such as CNY")
        elif currency == "USD":
            r._err("currency", "USD needs no exchange rate", "another currency")
        if currency in first:
            r._err("currency", f"duplicate currency {currency!r} (first at line {first[currency]})",
                   "one row per currency")
        first.setdefault(currency, line)
        out.setdefault(currency, ExchangeRate(currency=currency, units_per_usd=r.num("units_per_usd") or 1.0,
                                              **_provenance(r)))
    return out


def to_usd(offer: CloudOffer, rate: ExchangeRate) -> CloudOffer:
    """`offer` (with local prices) with its USD prices recomputed at `rate`: usd = local / units_per_usd."""
    local = replace(offer.local, rate=rate)
    usd = {f"{t}_usd_per_gpu_hour": None if (p := local.per_gpu_hour(t)) is None else rate.to_usd(p)
           for t in PRICING_TIERS}
    return replace(offer, local=local, **usd)


def parse_local_offers(path: str, rows, gpu_ids: set[str], rates: dict[str, ExchangeRate],
                       problems: list[Problem]) -> tuple[CloudOffer, ...]:
    """Offers priced in another currency: published prices kept in `local`, USD prices converted with
    the currency's rate of `rates` (a currency without a rate is a problem at the row)."""
    out = []
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
        n, prices = _shape(r, data, "{t}_local_per_gpu_hour")
        currency = r.str("currency")
        rate = rates.get(currency)
        if currency and rate is None:
            r._err("currency", f"no exchange rate for {currency!r}",
                   "a currency of catalog/exchange_rates.csv: " + (", ".join(sorted(rates)) or "none"))
            rate = ExchangeRate(currency=currency, units_per_usd=1.0, confidence="low", source="", as_of="")
        local = LocalPrice(currency=currency, rate=rate,
                           **{f"{t}_local_per_gpu_hour": prices[t] for t in PRICING_TIERS})
        offer = CloudOffer(
            provider=r.str("provider"), gpu=_gpu_id(r, "gpu", gpu_ids), instance_type=r.str("instance_type"),
            gpus_per_instance=n, region=r.str("region"), offer_kind=r.choice("offer_kind", OFFER_KINDS),
            on_demand_usd_per_gpu_hour=None, spot_usd_per_gpu_hour=None, reserved_1y_usd_per_gpu_hour=None,
            reserved_3y_usd_per_gpu_hour=None, **_provenance(r), market=_market(r, data, required=True), local=local,
        )
        out.append(to_usd(offer, rate))
    return tuple(out)


def parse_gpu_prices(path: str, rows, gpu_ids: set[str], problems: list[Problem]) -> dict[str, GpuPrice]:
    out: dict[str, GpuPrice] = {}
    first: dict[str, int] = {}
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
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


def parse_parts(path: str, rows, server_ids: list[str], problems: list[Problem]) -> list[ServerPart]:
    out = []
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
        server = r.str("server")
        if server and server not in server_ids:
            r._err("server", f"unknown server {server!r}.{did_you_mean(server, server_ids)}",
                   "an id of catalog/servers.csv")
        quantity = r.int("quantity")
        if quantity <= 0 and (data.get("quantity") or "").strip():
            r._err("quantity", f"must be > 0 (got {quantity})")
        out.append(ServerPart(
            server=server, item=r.str("item"), category=r.choice("category", PART_CATEGORIES),
            quantity=quantity, unit_usd=r.num("unit_usd") or 0.0, **_provenance(r),
        ))
    return out


def parse_servers(path: str, rows, parts: list[ServerPart], problems: list[Problem]) -> tuple[ServerType, ...]:
    out = []
    ids = []
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
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
        if counts["gpus_per_server"] > 0 and counts["gpus_per_server"] not in GPUS_PER_INSTANCE:
            # TP groups are powers of two; the packing rows and the placement are exact only for hosts
            # of power-of-two size (a 6-slot server would hold one TP4 group, not 6/4 of one).
            r._err("gpus_per_server", f"must be a power of two up to 8 (got {counts['gpus_per_server']})",
                   "1, 2, 4 or 8")
        sid = r.str("id")
        mine = tuple(p for p in parts if p.server == sid)
        if sid and not mine:
            r._err("id", f"server {sid!r} has no parts", "at least one row in catalog/server_parts.csv")
        ids.append((line, sid))
        out.append(ServerType(
            id=sid, name=r.str("name"), gpu_forms=forms, gpus_per_server=counts["gpus_per_server"],
            host_power_w=r.num("host_power_w") or 0.0, rack_units=counts["rack_units"], parts=mine,
            **_provenance(r), **_server_fit(r, data),
        ))
    problems += unique_ids(path, ids)
    return tuple(out)


def _server_fit(r: CsvRow, data: dict[str, str]) -> dict:
    """The optional physical columns of a server row (SERVER_OPTIONAL_COLUMNS), checked."""
    def given(col: str) -> bool:
        return bool((data.get(col) or "").strip())

    out: dict = {"mount": r.choice("mount", MOUNTS) if given("mount") else "rack"}
    for col in ("psu_w", "gpu_slot_power_w"):
        if given(col):
            value = r.num(col)
            if value is not None and value <= 0:
                r._err(col, f"must be > 0 (got {data.get(col)})")
            out[col] = value
    if given("gpu_vendor"):
        out["gpu_vendor"] = r.str("gpu_vendor")
    for col in ("psu_count", "psu_redundant", "gpu_slot_widths"):
        if given(col):
            out[col] = r.int(col)
    count, spare = out.get("psu_count", 1), out.get("psu_redundant", 0)
    if count < 1 or spare < 0 or spare >= count:
        r._err("psu_redundant", f"{spare} redundant of {count} PSUs leaves none to carry the load",
               "psu_count >= 1 and 0 <= psu_redundant < psu_count")
    if out.get("gpu_slot_widths", 1) < 1:
        r._err("gpu_slot_widths", f"must be > 0 (got {data.get('gpu_slot_widths')})")
    return out


def parse_network(path: str, rows, problems: list[Problem]) -> tuple[NetworkItem, ...]:
    out = []
    ids = []
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
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
    problems += unique_ids(path, ids)
    return tuple(out)


_RUNNING_BOUNDS = {
    # key: (lowest allowed, highest allowed, what it is)
    "pue": (1.0, 3.0, "a PUE between 1 and 3"),
    "maintenance_fraction_of_capex_per_year": (0.0, 1.0, "a fraction in (0, 1]"),
    "gpu_power_utilization": (0.0, 1.0, "a fraction of TDP in (0, 1]"),
}


def parse_running(path: str, rows, problems: list[Problem], complete: bool = True) -> dict[str, RunningCost]:
    """Running-cost rows by key; `complete` requires one row for every key of RUNNING_KEYS."""
    out: dict[str, RunningCost] = {}
    first: dict[str, int] = {}
    for line, data in rows:
        r = CsvRow(path, line, data, problems)
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
    """Parse and validate the priced tables.

    `texts` maps each file name of PRICE_FILES to `(text, path label)`; `gpu_ids` are the valid GPU
    ids. Every problem in every file is collected and raised at once as a `CatalogError`.
    """
    problems: list[Problem] = []
    gpu_ids = set(gpu_ids)
    path, rows = _rows(texts, "cloud_offers.csv", OFFER_COLUMNS, problems)
    offers = parse_offers(path, rows, gpu_ids, problems)
    path, rows = _rows(texts, "exchange_rates.csv", RATE_COLUMNS, problems)
    rates = parse_rates(path, rows, problems)
    path, rows = _rows(texts, "cloud_offers_local.csv", LOCAL_OFFER_COLUMNS, problems)
    offers += parse_local_offers(path, rows, gpu_ids, rates, problems)
    path, rows = _rows(texts, "gpu_prices.csv", GPU_PRICE_COLUMNS, problems)
    gpu_prices = parse_gpu_prices(path, rows, gpu_ids, problems)

    server_path, server_rows = _rows(texts, "servers.csv", SERVER_COLUMNS, problems)
    server_ids = [(d.get("id") or "").strip() for _, d in server_rows]
    path, rows = _rows(texts, "server_parts.csv", PART_COLUMNS, problems)
    parts = parse_parts(path, rows, server_ids, problems)
    servers = parse_servers(server_path, server_rows, parts, problems)

    path, rows = _rows(texts, "network.csv", NETWORK_COLUMNS, problems)
    network = parse_network(path, rows, problems)
    path, rows = _rows(texts, "running_costs.csv", RUNNING_COLUMNS, problems)
    running = parse_running(path, rows, problems)
    if not rows and "running_costs.csv" in texts:
        problems.append(Problem("no rows", file=path, expected="one row for each of " + ", ".join(RUNNING_KEYS)))
    if problems:
        raise CatalogError(problems)
    return PriceBook(offers=offers, gpu_prices=gpu_prices, servers=servers, network=network, running=running,
                     rates=rates)


@functools.lru_cache(maxsize=1)
def load_prices() -> PriceBook:
    """The shipped price tables (cached), validated against the GPU catalogue's ids."""
    texts = {name: data_text(name) for name in PRICE_FILES}
    return parse_prices(texts, set(load_catalog().gpus.rows))


CATALOG_SECTIONS: dict[str, tuple[str, ...]] = {
    "cloud_offers": OFFER_COLUMNS + OFFER_OPTIONAL_COLUMNS,
    "cloud_offers_local": LOCAL_OFFER_COLUMNS,
    "exchange_rates": RATE_COLUMNS,
    "gpu_prices": GPU_PRICE_COLUMNS,
    "servers": SERVER_COLUMNS + SERVER_OPTIONAL_COLUMNS,
    "server_parts": PART_COLUMNS,
    "network": NETWORK_COLUMNS,
    "running_costs": RUNNING_COLUMNS,
}
"""Top-level lists of a user catalogue file (`--catalog`), each item with the columns of the CSV
file of the same name."""
