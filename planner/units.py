"""Units shared by every layer: bytes per GiB and per GB, hours in a day."""

from __future__ import annotations

GIB = 1024**3
"""Bytes in a gibibyte (what drivers and engines report)."""
GB = 1e9
"""Bytes in a gigabyte (what datasheets and bandwidth figures use)."""
HOURS_PER_DAY = 24
"""Hours in a day: a `traffic.profile` has one multiplier per hour."""
