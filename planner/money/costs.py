"""Money: what a host (a rented instance, a bought server, a server on hand) costs, per unit.

A *host* is where replicas run: a cloud instance of `slots` GPUs (rent), a server type filled
with GPUs (buy), or a server already owned. Its costs come from the priced catalogue
(`planner.catalog.prices`); every figure keeps the catalogue row's source and date so the bill of
materials can cite it. The formulas:

    rent_usd_per_month        = instance $/h (the pricing tier's $/GPU-h x GPUs) x hours_per_month
    energy_usd_per_month(W)   = W / 1000 x PUE x electricity $/kWh x hours_per_month
    colocation_usd_per_month(W) = W / 1000 x colocation $/kW-month   (IT load, nameplate)
    maintenance_usd_per_month = capex x maintenance fraction per year / 12
    GPU draw while serving    = TDP x gpu_power_utilization; host draw = host_power_w

A bought SXM/OAM baseboard server comes with all its GPUs; a PCIe server is bought empty and
filled with cards bought one by one, as many as it can hold (`card_fit`):

    cards per server = min(GPU bays, slot positions // card width,
                           (usable PSU W - host W) // card TDP)     (0 if TDP > the slot's power)
    usable PSU W     = (PSUs - redundant PSUs) x PSU rating

A baseboard server is offered only where host W + GPUs x TDP fits its usable PSU. Servers on hand
(`owned`) cost no capex; their power, colocation (and nothing else) still counts. Which servers a
plan may buy depends on the site (`planner.money.site`): rack servers at a colocation site, towers
in an office.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.gpus import Gpu
from planner.catalog.price_rows import MODULE_FORMS, CloudOffer, PriceBook, ServerType, card_slot_width, gpu_form
from planner.catalog.spot import SpotRate, SpotRates
from planner.money.spot import interruptions_per_hour, restart_hours, spot_availability


@dataclass(frozen=True)
class HostType:
    """One kind of host the MILP may use, with its per-host costs."""

    id: str
    kind: str
    """instance | server | owned"""
    gpu: str
    slots: int
    """GPUs per host."""
    gpus_included: bool
    """True when the host's price includes its GPUs (instances, baseboard servers, owned servers);
    False for PCIe servers, whose cards are bought separately."""
    capex_usd: float
    monthly_usd: float
    """Per host per month: rent, or energy + colocation + maintenance of what is included."""
    power_w: float
    """Nameplate draw of the host and the GPUs it includes (for the facility power cap)."""
    max_count: int | None
    label: str
    source: str
    as_of: str
    offer: CloudOffer | None = None
    server: ServerType | None = None
    tier: str = ""
    """Rental pricing tier (on_demand, spot, reserved_1y, reserved_3y) of an instance."""
    bays: int | None = None
    """A bought PCIe server: the cards its bays and slot widths take (`slots` is that, or fewer where
    the PSU cannot power more); None for other hosts."""
    spot: SpotRate | None = None
    """A spot instance: the catalogue's interruption rate of its provider (None for other hosts)."""
    availability: float = 1.0
    """Share of its time a replica on this host serves (`money.spot.spot_availability`; 1 unless spot)."""

    @property
    def is_spot(self) -> bool:
        return self.kind == "instance" and self.tier == "spot"


@dataclass(frozen=True)
class CardFit:
    """How many cards of one GPU a PCIe server holds, and what limits it (`card_fit`)."""

    bays: int
    """GPU bays (gpus_per_server)."""
    by_width: int
    """Slot positions // the card's width."""
    by_power: int | None
    """(usable PSU W - host W) // card TDP; None where the server has no PSU figure."""
    slot_power_ok: bool
    """The card's TDP is within what one slot can feed."""

    @property
    def by_slots(self) -> int:
        """Cards the server's bays and slot widths take."""
        return min(self.bays, self.by_width)

    @property
    def cards(self) -> int:
        """Cards the server holds: bays, widths and PSU together (0 if the slot cannot feed one)."""
        if not self.slot_power_ok:
            return 0
        return min(self.by_slots, self.by_power) if self.by_power is not None else self.by_slots


def card_fit(s: ServerType, g: Gpu) -> CardFit:
    """The cards of GPU `g` that one server `s` holds, by bays, slot widths, PSU and slot power."""
    tdp = _tdp(g)
    usable = s.psu_usable_w
    by_power = None
    if usable is not None:
        spare = usable - s.host_power_w
        by_power = max(0, int(spare // tdp)) if tdp > 0 else s.gpus_per_server
    return CardFit(bays=s.gpus_per_server, by_width=s.slot_widths // card_slot_width(g), by_power=by_power,
                   slot_power_ok=s.gpu_slot_power_w is None or tdp <= s.gpu_slot_power_w)


def server_problems(s: ServerType, g: Gpu, n: int) -> list[str]:
    """What is wrong with `n` GPUs of `g` in one server `s`, from the catalogue's figures alone (not
    from the host type's slots): bays, slot widths, slot power and PSU. Empty when it can be built."""
    tdp, bad = _tdp(g), []
    if n > s.gpus_per_server:
        bad.append(f"{n} GPUs in {s.gpus_per_server} bays")
    if gpu_form(g) not in MODULE_FORMS:
        if n * card_slot_width(g) > s.slot_widths:
            bad.append(f"{n} cards {card_slot_width(g)} slots wide in {s.slot_widths} slot positions")
        if n and s.gpu_slot_power_w is not None and tdp > s.gpu_slot_power_w:
            bad.append(f"a {tdp:g} W card in a slot that feeds {s.gpu_slot_power_w:g} W")
    usable = s.psu_usable_w
    if usable is not None and s.host_power_w + n * tdp > usable + 1e-9:
        bad.append(f"host {s.host_power_w:g} W + {n} x {tdp:g} W > {usable:g} W usable PSU "
                   f"({s.psu_count - s.psu_redundant} of {s.psu_count} x {s.psu_w:g} W)")
    return bad


def modules_fit(s: ServerType, g: Gpu) -> bool:
    """A baseboard server of `g`: host W + every GPU's TDP within its usable PSU (True without a PSU figure)."""
    usable = s.psu_usable_w
    return usable is None or s.host_power_w + s.gpus_per_server * _tdp(g) <= usable


@dataclass(frozen=True)
class CardCost:
    """A PCIe card bought to fill a server: its capex and its monthly running cost."""

    gpu: str
    capex_usd: float
    monthly_usd: float
    power_w: float
    source: str
    as_of: str


@dataclass(frozen=True)
class RunningRates:
    """Running-cost rates, from the catalogue (running_costs.csv)."""

    electricity_usd_per_kwh: float
    pue: float
    colocation_usd_per_kw_month: float
    maintenance_fraction_of_capex_per_year: float
    gpu_power_utilization: float
    hours_per_month: float

    @classmethod
    def from_book(cls, book: PriceBook) -> RunningRates:
        return cls(**{k: book.running_value(k) for k in cls.__dataclass_fields__})


def rent_usd_per_month(usd_per_instance_hour: float, hours_per_month: float) -> float:
    """Monthly rent of one instance: $/instance-hour x hours per month."""
    return usd_per_instance_hour * hours_per_month


def energy_usd_per_month(draw_w: float, r: RunningRates) -> float:
    """Energy bill of a mean draw of `draw_w` watts: kW x PUE x $/kWh x hours per month."""
    return draw_w / 1000.0 * r.pue * r.electricity_usd_per_kwh * r.hours_per_month


def colocation_usd_per_month(nameplate_w: float, r: RunningRates) -> float:
    """Colocation of `nameplate_w` watts of IT load: kW x $/kW-month."""
    return nameplate_w / 1000.0 * r.colocation_usd_per_kw_month


def maintenance_usd_per_month(capex_usd: float, r: RunningRates) -> float:
    """Maintenance and support: capex x fraction per year / 12."""
    return capex_usd * r.maintenance_fraction_of_capex_per_year / 12.0


def running_usd_per_month(gpu_tdp_w: float, n_gpus: int, host_power_w: float, capex_usd: float,
                          r: RunningRates) -> float:
    """Energy + colocation + maintenance of a host with `n_gpus` GPUs of `gpu_tdp_w` watts."""
    draw = n_gpus * gpu_tdp_w * r.gpu_power_utilization + host_power_w
    nameplate = n_gpus * gpu_tdp_w + host_power_w
    return energy_usd_per_month(draw, r) + colocation_usd_per_month(nameplate, r) + maintenance_usd_per_month(capex_usd, r)


def _tdp(g: Gpu) -> float:
    return g.tdp_w or 0.0


def rental_hosts(gpus: list[Gpu], book: PriceBook, r: RunningRates, pricing_tier: str,
                 providers: list[str], include_marketplace: bool, market: str = "global",
                 spot_rates: SpotRates | None = None) -> list[HostType]:
    """The cheapest offer per (GPU, GPUs per instance) at `pricing_tier`, from allowed providers, in
    `market` (global, china, or any). Spot hosts (with `spot_rates`) carry their provider's
    interruption rate and availability (`money.spot`) and have ids ending `/spot`.

    Ties go to the provider whose name sorts first, so the choice is deterministic. An offer priced
    in another currency is compared (and billed) at its USD price; its host cites the exchange rate.
    """
    best: dict[tuple[str, int], tuple[float, CloudOffer]] = {}
    for o in usable_offers({g.id for g in gpus}, book, providers, include_marketplace, market):
        price = o.usd_per_instance_hour(pricing_tier)
        if price is None:
            continue
        key = (o.gpu, o.gpus_per_instance)
        if key not in best or (price, o.provider, o.instance_type) < (best[key][0], best[key][1].provider, best[key][1].instance_type):
            best[key] = (price, o)
    hosts = []
    for (gid, slots), (price, o) in sorted(best.items()):
        local = local_price_text(o, pricing_tier)
        source, as_of = o.source, o.as_of
        if o.local is not None and local:
            source, as_of = f"{o.source}; exchange rate: {o.local.rate.source}", min(o.as_of, o.local.rate.as_of)
        rate = spot_rates.rate(o.provider, gid) if spot_rates is not None and pricing_tier == "spot" else None
        avail = 1.0 if rate is None else spot_availability(
            interruptions_per_hour(rate.interruptions_per_instance_month, r.hours_per_month),
            restart_hours(rate.restart_minutes))
        hosts.append(HostType(
            id=f"instance:{o.provider}/{o.instance_type}/{gid}{'/spot' if rate else ''}", kind="instance", gpu=gid, slots=slots, gpus_included=True,
            capex_usd=0.0, monthly_usd=rent_usd_per_month(price, r.hours_per_month), power_w=0.0, max_count=None,
            label=f"{o.provider} {o.instance_type} ({slots}x {gid}, {pricing_tier.replace('_', '-')} ${price:.2f}/h"
                  f"{', ' + local if local else ''})",
            source=source, as_of=as_of, offer=o, tier=pricing_tier, spot=rate, availability=avail,
        ))
    return hosts


def usable_offers(gpu_ids: set[str], book: PriceBook, providers: list[str], include_marketplace: bool,
                  market: str) -> list[CloudOffer]:
    """The offers of the GPUs `gpu_ids` a plan may rent, at any tier: from an allowed provider (`any`
    allows all), marketplace listings only if included, and rented in `market` (`any` for every market)."""
    wanted = {p.strip().lower() for p in providers}
    return [o for o in book.offers
            if o.gpu in gpu_ids
            and (include_marketplace or o.offer_kind != "marketplace")
            and ("any" in wanted or o.provider.lower() in wanted)
            and (market == "any" or o.market == market)]


def local_price_text(offer: CloudOffer, pricing_tier: str) -> str:
    """`CNY 14.4991/h at 6.9858 CNY per USD`: the published instance-hour price of an offer priced in
    another currency, and the rate that converted it; empty for a USD offer or a repriced tier."""
    if offer.local is None:
        return ""
    per_gpu = offer.local.per_gpu_hour(pricing_tier)
    if per_gpu is None:
        return ""
    cur = offer.local.currency
    return f"{cur} {per_gpu * offer.gpus_per_instance:.4f}/h at {offer.local.rate.units_per_usd:g} {cur} per USD"


def purchase_hosts(gpus: list[Gpu], book: PriceBook, r: RunningRates,
                   mounts: tuple[str, ...] = ("rack", "tower")) -> tuple[list[HostType], dict[str, CardCost]]:
    """Server types each GPU can be bought into, and the PCIe cards bought to fill them.

    A GPU is buyable when the catalogue has a card price and a server type of one of `mounts` takes
    its form factor with no more slots than the GPU's `gpus_per_server`, and can hold and power at
    least one of it (`card_fit`, `modules_fit`). A PCIe server's `slots` are the cards it holds.
    """
    hosts: list[HostType] = []
    cards: dict[str, CardCost] = {}
    for g in gpus:
        price = book.gpu_prices.get(g.id)
        if price is None:
            continue
        form = gpu_form(g)
        for s in book.servers:
            if form not in s.gpu_forms or s.gpus_per_server > g.gpus_per_server or s.mount not in mounts \
                    or (s.gpu_vendor is not None and s.gpu_vendor.lower() != (g.vendor or "").lower()):
                continue
            fit = None if form in MODULE_FORMS else card_fit(s, g)
            if (fit is None and not modules_fit(s, g)) or (fit is not None and fit.cards == 0):
                continue
            if form in MODULE_FORMS:
                capex = s.base_usd + s.gpus_per_server * price.usd_per_gpu
                monthly = running_usd_per_month(_tdp(g), s.gpus_per_server, s.host_power_w, capex, r)
                power = s.gpus_per_server * _tdp(g) + s.host_power_w
                label = f"{s.name} with {s.gpus_per_server}x {g.id}"
                included = True
            else:
                capex = s.base_usd
                monthly = running_usd_per_month(0.0, 0, s.host_power_w, capex, r)
                power = s.host_power_w
                label = f"{s.name} for up to {fit.cards}x {g.id}"
                included = False
                cards[g.id] = CardCost(
                    gpu=g.id, capex_usd=price.usd_per_gpu,
                    monthly_usd=running_usd_per_month(_tdp(g), 1, 0.0, price.usd_per_gpu, r),
                    power_w=_tdp(g), source=price.source, as_of=price.as_of,
                )
            hosts.append(HostType(
                id=f"server:{s.id}/{g.id}", kind="server", gpu=g.id, slots=fit.cards if fit else s.gpus_per_server,
                gpus_included=included, capex_usd=capex, monthly_usd=monthly, power_w=power, max_count=None, label=label,
                source=f"{s.source}; GPU: {price.source}", as_of=min(s.as_of, price.as_of), server=s,
                bays=fit.by_slots if fit else None,
            ))
    return hosts, cards


def owned_hosts(gpus: dict[str, Gpu], owned: dict[str, int], book: PriceBook, r: RunningRates) -> list[HostType]:
    """GPUs on hand, as servers of the GPU's server size (the remainder split into powers of two).

    No capex and no maintenance; energy and colocation of the GPUs and a host of the matching
    catalogue server type (or none when no type takes the GPU).
    """
    hosts = []
    for gid in sorted(owned):
        g = gpus[gid]
        size = _pow2_floor(max(1, g.gpus_per_server))
        count = owned[gid]
        pieces: dict[int, int] = {}
        full, rest = divmod(count, size)
        if full:
            pieces[size] = full
        while rest:
            p = _pow2_floor(rest)
            pieces[p] = pieces.get(p, 0) + 1
            rest -= p
        for slots, n in sorted(pieces.items(), reverse=True):
            host_w = _host_power_for(g, slots, book)
            hosts.append(HostType(
                id=f"owned:{gid}/{slots}", kind="owned", gpu=gid, slots=slots, gpus_included=True, capex_usd=0.0,
                monthly_usd=running_usd_per_month(_tdp(g), slots, host_w, 0.0, r),
                power_w=slots * _tdp(g) + host_w, max_count=n,
                label=f"server on hand with {slots}x {gid}", source="workload file (owned)", as_of="",
            ))
    return hosts


def _host_power_for(g: Gpu, slots: int, book: PriceBook) -> float:
    form = gpu_form(g)
    fitting = [s for s in book.servers if (form in s.gpu_forms or (form == "oam" and "baseboard" in s.gpu_forms))
               and s.gpus_per_server >= slots]
    if not fitting:
        return 0.0
    return min(fitting, key=lambda s: (s.gpus_per_server, s.id)).host_power_w


def _pow2_floor(n: int) -> int:
    return 1 << (int(n).bit_length() - 1) if n >= 1 else 0
