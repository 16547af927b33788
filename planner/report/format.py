"""Number and text formats shared by every renderer: fixed float digits (so the same input prints
byte-identical output), table cells, dollars, shortened sources.
"""
from __future__ import annotations

import math
from typing import Any

FLOAT_DIGITS = 4


def clean(value: Any) -> Any:
    """Round floats to fixed digits (and NaN/inf to None) recursively, for stable JSON."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, FLOAT_DIGITS)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(clean(v) for v in value)
    return value


def fmt_cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)



def short(s: str, n: int = 48) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def signed_usd(v: float) -> str:
    return f"-${-v:,.0f}" if v < -0.5 else f"${abs(v):,.0f}"
