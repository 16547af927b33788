"""Rules of the workload file that tie several fields together, checked on the raw input (plain
mappings, before pydantic builds anything) so one pass reports them beside the field checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.names import normalise_name
from planner.spec.values import Loc
from planner.units import HOURS_PER_DAY

MAX_BUCKETS = 32
"""Most length buckets of one workload: each adds a row per deployment to the MILP."""
DEFAULT_TRACE_BUCKETS = 8
"""Length buckets a trace is summarised into unless `trace_buckets` says otherwise."""
SHARE_TOLERANCE = 1e-6
"""Length-bucket shares must sum to 1 within this."""


def get_value(obj: Any, key: str) -> Any:
    """`obj[key]` for raw mappings, `obj.key` for models already built; None when absent."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


MIN_PROFILE_LEVEL = 0.001
"""The smallest non-zero hour of a traffic profile: a thousandth of the peak."""

def profile_rules(profile: Any) -> list[tuple[Loc, str, str | None]]:
    """`traffic.profile` holds one value per hour, not all of them zero (values are checked by type)."""
    if not isinstance(profile, (list, tuple)):
        return []
    if len(profile) != HOURS_PER_DAY:
        return [(("profile",), f"must have exactly {HOURS_PER_DAY} values, one per hour (got {len(profile)})",
                 "24 multipliers of the peak, hour 0 = 00:00-01:00")]
    numbers = [v for v in profile if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(profile) and not any(v > 0 for v in numbers):
        return [(("profile",), "every hour is 0: no demand at all", "at least one value > 0")]
    # A sliver of the peak is below the solver's feasibility tolerance (1e-6 of a replica's share):
    # the solver may serve it with no replica, and the plan would not cover the hour.
    return [(("profile", i), f"must be 0 (an idle hour) or at least {MIN_PROFILE_LEVEL:g} of the peak (got {v:g})",
             f"0, or a value in [{MIN_PROFILE_LEVEL:g}, 1]")
            for i, v in enumerate(profile)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < MIN_PROFILE_LEVEL]


def length_rules(data: Mapping[str, Any]) -> list[tuple[Loc, str, str | None]]:
    """Exactly one way to give request lengths; bucket shares sum to 1."""
    n_in, n_out = data.get("input_tokens") is not None, data.get("output_tokens") is not None
    lengths, trace = data.get("lengths") is not None, data.get("trace") is not None
    ways = (n_in or n_out) + lengths + trace
    out: list[tuple[Loc, str, str | None]] = []
    expected = "input_tokens and output_tokens, or lengths, or trace"
    if ways == 0:
        out.append(((), "missing request lengths: give input_tokens and output_tokens, lengths or trace", None))
    elif ways > 1:
        key = "trace" if trace else "lengths"
        out.append(((key,), "give one of input_tokens/output_tokens, lengths or trace, not several", expected))
    elif n_in != n_out:
        missing = "output_tokens" if n_in else "input_tokens"
        out.append(((), f"missing required key '{missing}' (input_tokens and output_tokens go together)", expected))
    # The default is what a dumped spec holds, so it is not a stray key.
    if data.get("trace_buckets") not in (None, DEFAULT_TRACE_BUCKETS) and not trace:
        out.append((("trace_buckets",), "only allowed with trace", None))
    items = data.get("lengths")
    if isinstance(items, (list, tuple)) and items:
        shares = [get_value(b, "share") for b in items]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in shares):
            total = float(sum(shares))
            if abs(total - 1.0) > SHARE_TOLERANCE:
                out.append((("lengths",), f"shares sum to {total:.6g}, not 1", "shares of all buckets summing to 1"))
        pairs = [(get_value(b, "input_tokens"), get_value(b, "output_tokens")) for b in items]
        seen: dict[Any, int] = {}
        for i, pair in enumerate(pairs):
            if pair in seen and None not in pair:
                out.append((("lengths", i), f"same lengths as lengths[{seen[pair]}] ({pair[0]} in, {pair[1]} out)",
                            "one bucket per length; add the shares"))
            seen.setdefault(pair, i)
    return out


def duplicates(items: Any, key: str | None = None) -> list[tuple[int, int, Any]]:
    """(index, index of first occurrence, value) of each repeated item (names compared normalised)."""
    if not isinstance(items, (list, tuple)):
        return []
    seen: dict[Any, int] = {}
    out = []
    for i, item in enumerate(items):
        value = get_value(item, key) if key else item
        norm = normalise_name(value) if isinstance(value, str) else value
        if isinstance(norm, bool) or not isinstance(norm, (str, int)):
            continue
        if norm in seen:
            out.append((i, seen[norm], value))
        else:
            seen[norm] = i
    return out
