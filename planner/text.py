"""Words and numbers in messages, shared by every layer (errors, diagnoses, reports)."""

from __future__ import annotations


def count_of(n: int, noun: str) -> str:
    """"1 workload", "3 workloads": a count with its noun, plural only when it is not one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def usd(v: float) -> str:
    """Whole US dollars with thousands separators: "$18,399"."""
    return f"${v:,.0f}"
