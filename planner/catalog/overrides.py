"""A user's own figures over the shipped prices, in two steps (`prices_for_spec`): a catalogue
file (`--catalog FILE`, `planner.catalog.price_file`), then the workload file's `costs:` section
(`apply_overrides`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from planner.catalog.price_file import merge_catalog_file
from planner.catalog.price_rows import (
    RUNNING_KEYS,
    GpuPrice,
    PriceBook,
    RunningCost,
    check_tier,
)
from planner.catalog.store import Catalog
from planner.errors import CatalogError, InputError, Problem
from planner.spec.loader import LoadedSpec
from planner.spec.schema import Costs


def apply_overrides(book: PriceBook, costs: Costs, gpu_ids: Mapping[str, str], *, pricing: str, source: str,
                    as_of: str) -> PriceBook:
    """A new PriceBook with a workload file's `costs:` applied (`book` itself when there is nothing to apply).

    * Running costs (electricity_usd_per_kwh, pue, colocation_usd_per_kw_month,
      maintenance_fraction_of_capex_per_year, gpu_power_utilization): the row is replaced by one
      with the user's value.
    * `gpu_usd`: the GPU's purchase price is replaced (or added: the GPU becomes buyable) by a
      row of condition `user`.
    * `rent_usd_per_gpu_hour`: the `<pricing>_usd_per_gpu_hour` price of every offer of that GPU
      is replaced (also where the catalogue had none at that tier, and in every market; a
      local-currency offer loses its published price at that tier); no offer is added.

    `gpu_ids` maps each GPU name as written under `costs` to its catalogue id; `source` names the
    workload file (`workload file <path>`), and every replaced row's source is
    `<source>: costs.<key>`; `as_of` (YYYY-MM-DD) dates them (the plan's --today).
    """
    check_tier(pricing)
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
                       f"instance: {o.source}",
                # the user's USD price replaces the published local-currency one at this tier
                local=o.local and replace(o.local, **{f"{pricing}_local_per_gpu_hour": None}))
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
