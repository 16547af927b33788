"""Catalogue names: one normal form, so `H100 SXM`, `h100_sxm` and `H100-SXM` are the same name."""

from __future__ import annotations

import re


def normalise_name(name: str) -> str:
    """Canonical form for matching names: lower case, runs of spaces/underscores as one hyphen.
    Slashes are kept, so Hugging Face repo ids (`meta-llama/Llama-3.1-8B`) match as written."""
    s = name.strip().lower()
    s = re.sub(r"[\s_]+", "-", s)
    s = re.sub(r"-+", "-", s)
    return s.strip("-")
