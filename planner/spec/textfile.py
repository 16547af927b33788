"""Reading a user's file as text, with located errors instead of crashes."""

from __future__ import annotations

from pathlib import Path

from planner.errors import InputError, Problem


def read_user_text(path: Path) -> str:
    """A user's file as UTF-8 text; unreadable or non-UTF-8 files are input errors, not crashes."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(Problem(f"cannot read file: {exc.strerror}", file=str(path))) from None
    except UnicodeDecodeError as exc:
        raise InputError(Problem(f"not UTF-8 text (byte {exc.start})", file=str(path))) from None
