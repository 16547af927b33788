"""Where bought hardware lives (`site:` in the workload file), and what that changes in a plan.

| site | servers bought | rack, top-of-rack switch | colocation | PUE | GeForce cards bought |
|---|---|---|---|---|---|
| colocation (default) | rack-mounted | per 42U rack | catalogue rate | catalogue | only with gpus.datacenter_only: false |
| office | towers | none | none ($0) | 1 (the office's own cooling) | yes (unless datacenter_only: true) |

`costs.pue` and `costs.colocation_usd_per_kw_month` in the workload file win over the site's values.
An office's servers draw no more than its circuits give (`office.circuits` x `office.circuit_w`,
the MILP's `site_power_max`). Renting is the same at either site: GeForce cards rented from a cloud
are the provider's licence question, and `gpus.datacenter_only: true` drops them everywhere.
"""

from __future__ import annotations

from dataclasses import replace

from planner.catalog.price_rows import PriceBook, RunningCost

GEFORCE_LICENCE = ("NVIDIA's GeForce driver licence (License For Customer Use of NVIDIA GeForce Software, "
                   "§2.1.3 'No Datacenter Deployment') forbids datacentre deployment")
"""Why a GeForce card is not bought into a colocation site (https://www.nvidia.com/en-us/drivers/geforce-license/)."""

GEFORCE_FIX = "set site: office, or gpus.datacenter_only: false to buy them into colocation anyway"

OFFICE_PUE_SOURCE = ("site: office: PUE 1, no datacentre cooling overhead counted (set costs.pue for the office's "
                     "air conditioning)")
OFFICE_COLOCATION_SOURCE = "site: office: no colocation fee (own premises)"


def mounts(spec) -> tuple[str, ...]:
    """Server mounts a plan may buy: rack servers at a colocation site, towers in an office."""
    return ("tower",) if spec.site == "office" else ("rack",)


def buys_geforce(spec) -> bool:
    """Whether GeForce cards may be bought: in an office, or at colocation only when the user says
    `gpus.datacenter_only: false` (true has dropped them before the plan starts)."""
    return spec.site == "office" or spec.gpus.datacenter_only is False


def site_power_w(spec) -> float | None:
    """Watts an office's circuits give (circuits x circuit_w); None at a colocation site."""
    return spec.office.circuits * spec.office.circuit_w if spec.site == "office" else None


def racks_priced(spec) -> bool:
    """Racks (and their top-of-rack switch) are bought at a colocation site only."""
    return spec.site != "office"


def site_book(book: PriceBook, spec, as_of: str) -> PriceBook:
    """`book` with the site's running costs: in an office, PUE 1 and no colocation fee, unless the
    workload file's `costs:` set them (dated `as_of`); at a colocation site, `book` itself."""
    if spec.site != "office":
        return book
    running = dict(book.running)
    for key, value, source in (("pue", 1.0, OFFICE_PUE_SOURCE),
                               ("colocation_usd_per_kw_month", 0.0, OFFICE_COLOCATION_SOURCE)):
        if getattr(spec.costs, key) is None and key in running:
            old = running[key]
            running[key] = RunningCost(key=key, value=value, unit=old.unit, confidence="high", source=source,
                                       as_of=as_of, notes=f"the catalogue's datacentre figure is {old.value:g}")
    return replace(book, running=running)
