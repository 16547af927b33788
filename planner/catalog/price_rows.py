"""Priced rows: cloud offers, GPU purchase prices, server types and their parts, network items and
running costs, and the `PriceBook` that holds them.

Every row carries a `source`, an `as_of` date (YYYY-MM-DD) and a `confidence` (high|medium|low);
`catalog/README-prices.md` says where each group of figures came from. Prices go stale:
`PriceBook.oldest_as_of()` gives the oldest date a plan may rest on.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from planner.errors import CatalogError, InputError, Problem
from planner.names import normalise_name

PRICING_TIERS = ("on_demand", "spot", "reserved_1y", "reserved_3y")
"""How a cloud GPU-hour is bought; each tier has a `<tier>_usd_per_gpu_hour` column."""


CONFIDENCE = ("high", "medium", "low")


OFFER_KINDS = ("cloud", "marketplace")


MARKETS = ("global", "china")
"""Where an offer can be rented (`gpus.market` in a workload file picks one, or `any`)."""


GPU_CONDITIONS = ("new", "used", "msrp")


GPU_FORMS = ("baseboard", "oam", "pcie", "consumer", "superchip")
"""`baseboard`: SXM modules on an HGX/DGX-style board; `oam`: OCP accelerator modules (MI300X, Gaudi 3)."""


PART_CATEGORIES = (
    "cpu", "ram", "motherboard", "nic", "storage", "chassis", "psu", "cooling", "assembly", "other",
)


NETWORK_KINDS = ("switch", "tor", "rack", "other")
"""`tor`: the top-of-rack Ethernet switch priced once per rack of bought servers."""


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
    "cloud_offers.csv", "cloud_offers_local.csv", "exchange_rates.csv", "gpu_prices.csv", "servers.csv",
    "server_parts.csv", "network.csv", "running_costs.csv",
)


OFFER_COLUMNS = (
    "provider", "gpu", "instance_type", "gpus_per_instance", "region", "offer_kind",
    "on_demand_usd_per_gpu_hour", "spot_usd_per_gpu_hour", "reserved_1y_usd_per_gpu_hour",
    "reserved_3y_usd_per_gpu_hour", "confidence", "source", "as_of", "notes",
)


OFFER_OPTIONAL_COLUMNS = ("market",)
"""Columns an offer row may leave out: `market` (global when absent or empty)."""


LOCAL_OFFER_COLUMNS = (
    "provider", "gpu", "instance_type", "gpus_per_instance", "region", "offer_kind", "market", "currency",
    "on_demand_local_per_gpu_hour", "spot_local_per_gpu_hour", "reserved_1y_local_per_gpu_hour",
    "reserved_3y_local_per_gpu_hour", "confidence", "source", "as_of", "notes",
)
"""`cloud_offers_local.csv`: offers priced in another currency than USD, prices as published (per GPU-hour,
in `currency`), converted to USD on load with the currency's row of `exchange_rates.csv`."""


RATE_COLUMNS = ("currency", "units_per_usd", "confidence", "source", "as_of", "notes")


GPU_PRICE_COLUMNS = (
    "gpu", "usd_per_gpu", "usd_low", "usd_high", "condition", "confidence", "source", "as_of", "notes",
)


SERVER_COLUMNS = (
    "id", "name", "gpu_forms", "gpus_per_server", "host_power_w", "rack_units", "confidence", "source",
    "as_of", "notes",
)


SERVER_OPTIONAL_COLUMNS = ("mount", "psu_w", "psu_count", "psu_redundant", "gpu_slot_widths", "gpu_slot_power_w",
                           "gpu_vendor")
"""What a server can physically hold (every shipped row has them; a row of a user's `--catalog` file
may leave them out): `mount` rack (default) or tower; `psu_w` one PSU's rating, `psu_count` PSUs fitted,
`psu_redundant` of them held in reserve (usable W = (count - redundant) x psu_w; empty: no PSU limit);
`gpu_slot_widths` slot positions for GPUs (a double-width card takes 2; empty: 2 per GPU);
`gpu_slot_power_w` the most one GPU slot can feed (empty: no limit); `gpu_vendor` the only GPU vendor
the server takes (a baseboard is one vendor's: an AMD OAM board takes no Gaudi; empty: any)."""

MOUNTS = ("rack", "tower")


PART_COLUMNS = (
    "server", "item", "category", "quantity", "unit_usd", "confidence", "source", "as_of", "notes",
)


NETWORK_COLUMNS = ("id", "item", "kind", "ports", "unit_usd", "confidence", "source", "as_of", "notes")


RUNNING_COLUMNS = ("key", "value", "unit", "confidence", "source", "as_of", "notes")


def check_tier(pricing: str) -> None:
    if pricing not in PRICING_TIERS:
        raise InputError(
            Problem(f"unknown pricing {pricing!r}", key="pricing", expected="one of " + ", ".join(PRICING_TIERS))
        )


@dataclass(frozen=True)
class ExchangeRate:
    """How many units of `currency` one US dollar buys (CNY: 6.9858 means 100 USD = 698.58 CNY);
    a price of p in that currency is p / units_per_usd dollars."""

    currency: str
    units_per_usd: float
    confidence: str
    source: str
    as_of: str
    notes: str = ""

    def to_usd(self, amount: float) -> float:
        """`amount` in `currency`, in US dollars."""
        return amount / self.units_per_usd


@dataclass(frozen=True)
class LocalPrice:
    """An offer's prices as published in a currency other than USD (per GPU-hour, `None` where the
    source publishes none) and the exchange rate that turned them into the offer's USD prices."""

    currency: str
    on_demand_local_per_gpu_hour: float | None
    spot_local_per_gpu_hour: float | None
    reserved_1y_local_per_gpu_hour: float | None
    reserved_3y_local_per_gpu_hour: float | None
    rate: ExchangeRate

    def per_gpu_hour(self, pricing: str) -> float | None:
        """The published price of one GPU-hour under `pricing`, in `currency`; None if not published."""
        check_tier(pricing)
        return getattr(self, f"{pricing}_local_per_gpu_hour")


@dataclass(frozen=True)
class CloudOffer:
    """One rentable instance shape. Prices are per GPU-hour (instance price / GPUs) in US dollars;
    `None` where the source publishes no price for that tier. `market` is where it is rented
    (global or china); an offer published in another currency keeps the published prices and the
    exchange rate used in `local`."""

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
    market: str = "global"
    local: LocalPrice | None = None

    def usd_per_gpu_hour(self, pricing: str) -> float | None:
        """Price of one GPU-hour under `pricing` (one of PRICING_TIERS); None if not published."""
        check_tier(pricing)
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
    mount: str = "rack"
    """rack (racked at a colocation site) or tower (an office site)."""
    psu_w: float | None = None
    psu_count: int = 1
    psu_redundant: int = 0
    gpu_slot_widths: int | None = None
    gpu_slot_power_w: float | None = None
    gpu_vendor: str | None = None

    @property
    def psu_usable_w(self) -> float | None:
        """What the PSUs deliver with the redundancy the server is sold with: (count - redundant) x rating
        (2+2 x 3,000 W gives 6,000 W); None where the catalogue gives no PSU."""
        return None if self.psu_w is None else (self.psu_count - self.psu_redundant) * self.psu_w

    @property
    def slot_widths(self) -> int:
        """GPU slot positions: the catalogue's, else two per GPU (every GPU bay double-width)."""
        return self.gpu_slot_widths if self.gpu_slot_widths is not None else 2 * self.gpus_per_server

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
    rates: dict[str, ExchangeRate] = field(default_factory=dict)
    """Exchange rates by currency (`exchange_rates.csv`), used for the offers of `cloud_offers_local.csv`."""

    def rack(self) -> NetworkItem | None:
        """The rack the planner prices bought servers into (the first `kind=rack` row), if any."""
        return next((n for n in self.network if n.kind == "rack"), None)

    def tor(self) -> NetworkItem | None:
        """The top-of-rack switch priced once per rack of bought servers (the first `kind=tor` row), if any."""
        return next((n for n in self.network if n.kind == "tor"), None)

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
            Problem(f"unknown server {server_id!r}.{did_you_mean(server_id, [s.id for s in self.servers])}",
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
        dates += [r.as_of for r in self.rates.values()]
        return min(d for d in dates if d)


def gpu_form(gpu) -> str:
    """'baseboard' (form_factor mentions SXM), 'oam' (mentions OAM), 'consumer' (geforce_eula),
    'superchip' (form_factor mentions Superchip: GH200/GB200, not buyable as cards), else 'pcie'."""
    form = (gpu.form_factor or "").lower()
    if "superchip" in form:
        return "superchip"
    if "oam" in form:
        return "oam"
    if "sxm" in form:
        return "baseboard"
    if gpu.geforce_eula:
        return "consumer"
    return "pcie"


MODULE_FORMS = ("baseboard", "oam")
"""Forms whose GPUs come on the server's board (bought with it, all slots filled), not as cards."""


def card_slot_width(gpu) -> int:
    """PCIe slot positions one card takes, from its form factor: single-slot 1, triple-slot 3, else 2
    (dual-slot, and consumer cards whose width the catalogue does not state)."""
    form = (gpu.form_factor or "").lower()
    if "single-slot" in form:
        return 1
    if "triple-slot" in form:
        return 3
    return 2


def did_you_mean(name: str, known: Iterable[str]) -> str:
    known = list(known)
    by_norm = {normalise_name(k): k for k in known}
    close = difflib.get_close_matches(normalise_name(name), list(by_norm), n=3, cutoff=0.55)
    return f" Did you mean: {', '.join(by_norm[c] for c in close)}?" if close else ""
