"""Reading a user's file as text, with located errors instead of crashes."""

from __future__ import annotations

from pathlib import Path

from planner.errors import InputError, Problem


def read_user_text(path: Path) -> str:
    """A user's file as UTF-8 text; unreadable or non-UTF-8 files are input errors, not crashes.

    A byte that is not UTF-8 is reported at its line and column (characters, 1-based):
    `x.yaml:3:14: not UTF-8 text (byte 0xe9)`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Problem(f"cannot read file: {exc.strerror}", file=str(path))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = byte_position(data, exc.start)
        raise InputError(Problem(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=str(path), line=line,
                                 col=col, expected="a file saved as UTF-8")) from None


def byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of byte `offset` in `data`; the column counts the characters before
    it on its line (undecodable bytes count one each)."""
    start = data.rfind(b"\n", 0, offset) + 1
    before = data[start:offset].decode("utf-8", errors="replace")
    return data.count(b"\n", 0, offset) + 1, len(before) + 1
