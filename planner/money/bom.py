"""Bill of materials for a solved plan: what to rent or buy, line by line, each with its quantity,
unit price, total and the catalogue row (source and date) it came from.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from planner.catalog.price_rows import PriceBook
from planner.catalog.store import Catalog
from planner.money.costs import (
    CardCost,
    HostType,
    RunningRates,
    colocation_usd_per_month,
    energy_usd_per_month,
    local_price_text,
    maintenance_usd_per_month,
)


@dataclass(frozen=True)
class BomLine:
    item: str
    category: str
    quantity: float
    unit: str
    unit_usd: float
    total_usd: float
    cost_kind: str
    """capex | monthly"""
    source: str
    as_of: str


def bill_of_materials(pricing: str, hosts: list[tuple[HostType, int]], cards: list[tuple[CardCost, int]],
                      racks: int, book: PriceBook, cat: Catalog,
                      hourly_instances: dict[str, list[int]] | None = None) -> tuple[list[BomLine], float, float, float]:
    """(lines, capex USD, monthly USD, facility kW) of a plan.

    `hourly_instances` (instance id → instances rented in each hour) bills instances that scale
    with the traffic profile by their mean count over the day: instance-months = sum / 24.
    """
    hourly_instances = hourly_instances or {}

    r = RunningRates.from_book(book)
    merged: OrderedDict[tuple, list] = OrderedDict()

    def add(item, category, quantity, unit, unit_usd, cost_kind, source, as_of):
        key = (item, category, unit, round(unit_usd, 6), cost_kind, source, as_of)
        if key in merged:
            merged[key][0] += quantity
        else:
            merged[key] = [quantity]

    draw_w = nameplate_w = 0.0
    for h, n in hosts:
        g = cat.gpus.rows[h.gpu]
        tdp = g.tdp_w or 0.0
        if h.kind == "instance":
            label = f"Cloud instance {h.offer.provider} {h.offer.instance_type} ({h.slots}x {g.name}), {h.tier.replace('_', '-')}"
            local = local_price_text(h.offer, h.tier)
            if local:
                label += f", published {local}"
            quantity: float = n
            if h.id in hourly_instances:
                by_hour = hourly_instances[h.id]
                quantity = sum(by_hour) / len(by_hour)
                label += f", scaled by hour: {min(by_hour)}-{max(by_hour)} instances, {sum(by_hour)} instance-hours a day"
            add(label, "cloud instance", quantity, "instance-month", h.monthly_usd, "monthly", h.source, h.as_of)
            continue
        if h.kind == "owned":
            add(f"Server on hand with {h.slots}x {g.name} (no capex)", "owned", n, "server", 0.0, "capex",
                "workload file: owned", "")
            draw_w += n * (h.slots * tdp * r.gpu_power_utilization + (h.power_w - h.slots * tdp))
            nameplate_w += n * h.power_w
            continue
        s = h.server
        if h.gpus_included:
            price = book.gpu_prices[g.id]
            add(f"GPU {g.name} (on an {s.id} baseboard)", "gpu", n * h.slots, "card", price.usd_per_gpu, "capex",
                price.source, price.as_of)
            draw_w += n * h.slots * tdp * r.gpu_power_utilization
            nameplate_w += n * h.slots * tdp
        for part in s.parts:
            add(f"{s.id} server: {part.item}", part.category, n * part.quantity, "unit", part.unit_usd, "capex",
                part.source, part.as_of)
        draw_w += n * s.host_power_w
        nameplate_w += n * s.host_power_w
    for c, n in cards:
        g = cat.gpus.rows[c.gpu]
        add(f"GPU {g.name} (PCIe card)", "gpu", n, "card", c.capex_usd, "capex", c.source, c.as_of)
        draw_w += n * c.power_w * r.gpu_power_utilization
        nameplate_w += n * c.power_w

    rack, tor = book.rack(), book.tor()
    if racks and rack is not None:
        add(f"{rack.item} (42U; holds the bought servers)", "rack", racks, "rack", rack.unit_usd, "capex",
            rack.source, rack.as_of)
        if tor is not None:
            add(f"{tor.item} (serving network of the rack's servers)", "network", racks, "switch", tor.unit_usd,
                "capex", tor.source, tor.as_of)
    lines = [BomLine(item=k[0], category=k[1], quantity=v[0], unit=k[2], unit_usd=k[3], total_usd=v[0] * k[3],
                     cost_kind=k[4], source=k[5], as_of=k[6]) for k, v in merged.items()]
    capex = sum(line.total_usd for line in lines if line.cost_kind == "capex")
    monthly = sum(line.total_usd for line in lines if line.cost_kind == "monthly")
    if nameplate_w > 0:
        run = book.running
        e = energy_usd_per_month(draw_w, r)
        lines.append(BomLine(
            f"Energy: {draw_w / 1000:.2f} kW mean draw x PUE {r.pue:g} x ${r.electricity_usd_per_kwh:g}/kWh x "
            f"{r.hours_per_month:g} h", "power", draw_w / 1000, "kW mean draw", e / (draw_w / 1000) if draw_w else 0.0, e,
            "monthly", f"{run['electricity_usd_per_kwh'].source}; PUE: {run['pue'].source}",
            min(run['electricity_usd_per_kwh'].as_of, run['pue'].as_of)))
        co = colocation_usd_per_month(nameplate_w, r)
        if r.colocation_usd_per_kw_month > 0:  # none on your own premises (site: office, or a rate of 0)
            lines.append(BomLine(
                f"Colocation: {nameplate_w / 1000:.2f} kW nameplate x ${r.colocation_usd_per_kw_month:g}/kW-month",
                "power", nameplate_w / 1000, "kW nameplate", r.colocation_usd_per_kw_month, co, "monthly",
                run['colocation_usd_per_kw_month'].source, run['colocation_usd_per_kw_month'].as_of))
        monthly += e + co
        if capex > 0:
            m = maintenance_usd_per_month(capex, r)
            lines.append(BomLine(
                f"Maintenance and support: {r.maintenance_fraction_of_capex_per_year:.1%} of capex per year",
                "maintenance", capex, "USD of capex", r.maintenance_fraction_of_capex_per_year / 12.0, m, "monthly",
                run['maintenance_fraction_of_capex_per_year'].source,
                run['maintenance_fraction_of_capex_per_year'].as_of))
            monthly += m
    return lines, capex, monthly, nameplate_w * r.pue / 1000.0



def run_bom_lines(runs: dict, hosts: dict[str, HostType], cat: Catalog) -> list[BomLine]:
    """Lines for the instances rented for batch runs (`optimize.batch_runs.JobRun`, read by
    attribute: money sits below optimize): instance-hours x the instance's $/h. A daily or weekly
    job's line is monthly (instance-hours a run x runs a month); a once-job's line is `once`: paid
    once, in neither the capex nor the monthly cost."""
    lines = []
    for name, run in runs.items():
        w = run.window
        for hid, by_slot in sorted(run.run_hosts.items()):
            h = hosts[hid]
            g = cat.gpus.rows[h.gpu]
            rate = run.hourly_usd[hid]
            per_run = sum(by_slot)
            where = f"{h.offer.provider} {h.offer.instance_type}" if h.offer is not None else h.id
            item = (f"Batch {name} ({w.schedule}, {w.hours:g} h from {w.start_hour:02d}:00): cloud instance {where} "
                    f"({h.slots}x {g.name}), {h.tier.replace('_', '-')}, {per_run} instance-hours a run")
            if w.schedule == "once":
                lines.append(BomLine(item, "batch run", per_run, "instance-hour", rate, per_run * rate, "once",
                                     h.source, h.as_of))
            else:
                qty = per_run * w.runs_per_month
                lines.append(BomLine(item + f" x {w.runs_per_month:.4g} runs a month", "batch run", qty,
                                     "instance-hour", rate, qty * rate, "monthly", h.source, h.as_of))
    return lines
