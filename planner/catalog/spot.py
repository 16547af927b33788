"""Spot interruption rates: `catalog/spot_interruption.csv`, read with the catalogue's CSV reader.

One row per provider (optionally per GPU of it): how often one spot instance is interrupted,
in interruptions per instance-month (730 h), and the minutes a replica is down after one
(replacement instance, boot, weights loaded). Rows are a provider's published band converted by
a stated rule (`basis: band`) or a stated planner assumption (`basis: assumption`). The row of
provider `*` applies to any provider without a row of its own. Every malformed cell is a located
`catalog/spot_interruption.csv:<line>: <column>: what`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from planner.catalog.price_rows import CONFIDENCE
from planner.catalog.store import data_text
from planner.catalog.tables import CsvRow, read_csv
from planner.errors import CatalogError, Problem

SPOT_FILE = "spot_interruption.csv"
SPOT_COLUMNS = ("provider", "gpu", "interruptions_per_instance_month", "published_band", "restart_minutes",
                "basis", "confidence", "source", "as_of", "notes")
BASES = ("band", "published", "assumption")
"""band: a provider's published frequency band converted by the row's stated rule; published: a
published rate; assumption: no published rate, the planner's stated assumption."""
ANY_PROVIDER = "*"
MAX_RESTART_MINUTES = 24 * 60.0


@dataclass(frozen=True)
class SpotRate:
    """How often a provider's spot instances are interrupted, and how long a replica is down after one."""

    provider: str
    gpu: str
    """A GPU id, or empty for every GPU of the provider."""
    interruptions_per_instance_month: float
    """Expected interruptions of one instance in a 730-hour month."""
    published_band: str
    restart_minutes: float
    """Minutes from an interruption until a replacement replica serves again."""
    basis: str
    confidence: str
    source: str
    as_of: str
    notes: str
    line: int = 0

    @property
    def assumed(self) -> bool:
        """Whether the rate is the planner's assumption (no published figure)."""
        return self.basis == "assumption"

    def text(self) -> str:
        """`aws: 0.25 interruptions per instance-month (band >20%), 10 min restart`."""
        band = f" (band {self.published_band})" if self.published_band else ""
        what = f"{self.provider}{'/' + self.gpu if self.gpu else ''}"
        kind = ", a planner assumption" if self.assumed else ""
        return (f"{what}: {self.interruptions_per_instance_month:g} interruptions per instance-month{band}, "
                f"{self.restart_minutes:g} min restart{kind}")


@dataclass(frozen=True)
class SpotRates:
    """The table, and the rate of an offer."""

    rows: tuple[SpotRate, ...]

    def rate(self, provider: str, gpu: str) -> SpotRate | None:
        """The row for (provider, gpu), else the provider's row for every GPU, else the `*` row."""
        p = provider.lower()
        for want_p, want_g in ((p, gpu), (p, ""), (ANY_PROVIDER, "")):
            for r in self.rows:
                if r.provider.lower() == want_p and r.gpu == want_g:
                    return r
        return None


def parse_spot_rates(text: str, path: str) -> SpotRates:
    """Parse the table; CatalogError listing every located problem."""
    problems: list[Problem] = []
    rows = []
    seen: dict[tuple[str, str], int] = {}
    for line, data in read_csv(text, path, SPOT_COLUMNS, columns_hint=", ".join(SPOT_COLUMNS)):
        r = CsvRow(path, line, data, problems)
        provider, gpu = r.str("provider").lower(), r.str("gpu", required=False)
        if (provider, gpu) in seen:
            r._err("provider", f"duplicate row for {provider}{'/' + gpu if gpu else ''} (first at line "
                               f"{seen[provider, gpu]})", "one row per provider and GPU")
        seen.setdefault((provider, gpu), line)
        rate = r.num("interruptions_per_instance_month", positive=False)
        if rate is not None and rate < 0:
            r._err("interruptions_per_instance_month", f"must be >= 0 (got {rate:g})")
        restart = r.num("restart_minutes", positive=False)
        if restart is not None and not 0 <= restart <= MAX_RESTART_MINUTES:
            r._err("restart_minutes", f"must be in [0, {MAX_RESTART_MINUTES:g}] (got {restart:g})")
        rows.append(SpotRate(
            provider=provider, gpu=gpu, interruptions_per_instance_month=rate or 0.0,
            published_band=r.str("published_band", required=False), restart_minutes=restart or 0.0,
            basis=r.choice("basis", BASES), confidence=r.choice("confidence", CONFIDENCE), source=r.str("source"),
            as_of=r.date("as_of"), notes=r.str("notes", required=False), line=line))
    if not any(r.provider == ANY_PROVIDER and not r.gpu for r in rows):
        problems.append(Problem(f"no row for provider {ANY_PROVIDER!r} (the rate of any other provider)", file=path,
                                expected=f"a row with provider {ANY_PROVIDER} and an empty gpu"))
    if problems:
        raise CatalogError(problems)
    return SpotRates(tuple(rows))


@functools.lru_cache(maxsize=1)
def load_spot_rates() -> SpotRates:
    """The shipped table (cached)."""
    return parse_spot_rates(*data_text(SPOT_FILE))
