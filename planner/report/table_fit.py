"""Tables that fit the terminal: column widths chosen here, not by rich, so no id is broken mid-word.

A column's *natural* width is its longest header or cell; its *minimum* is its longest word (cells
and header wrap at spaces, never inside a word: ids such as `qwen7b-chat:qwen-7b@rtx-3090-24gb/int8`
hold no space, so they always print whole). A rich table with n columns adds 3 characters per column
(a border and one space of padding each side) and one closing border.

- The natural widths fit: use them.
- The minimums fit: every column gets its minimum and the space left is shared out in proportion
  to what each column still wants (natural - minimum), remainders to the columns that want most.
- Not even the minimums fit: leave out columns in the table's drop order (least important first),
  until they fit or only the columns that may not be dropped are left; the caption names what was
  left out. If the kept columns still do not fit, the table is wider than the terminal (the
  terminal wraps the line) rather than breaking a word.

Pure: the same rows and width give the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

__all__ = ["FittedColumns", "fit_columns", "fitted_table"]

CHARS_PER_COLUMN = 3
"""A vertical border and one space of padding each side of a rich table column."""
TABLE_CLOSING_CHARS = 1
"""The table's right-hand border."""


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


@dataclass(frozen=True)
class FittedColumns:
    """Which columns to print (indices into the table's columns, in order) and their widths."""

    keep: tuple[int, ...]
    widths: tuple[int, ...]
    dropped: tuple[int, ...]


def fit_columns(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int,
                drop_order: Sequence[int] = ()) -> FittedColumns:
    """Widths for `headers` x `rows` (cells as printed) within `width` characters; `drop_order`:
    column indices that may be left out, least important first."""
    n = len(headers)
    natural = [max([_longest_line(headers[i])] + [_longest_line(r[i]) for r in rows]) for i in range(n)]
    minimum = [max([_longest_word(headers[i])] + [_longest_word(r[i]) for r in rows] + [1]) for i in range(n)]
    natural = [max(a, b) for a, b in zip(natural, minimum)]
    keep = list(range(n))
    dropped: list[int] = []

    def room(cols: list[int]) -> int:
        return width - CHARS_PER_COLUMN * len(cols) - TABLE_CLOSING_CHARS

    for i in drop_order:
        if sum(minimum[k] for k in keep) <= room(keep) or len(keep) == 1:
            break
        if i in keep:
            keep.remove(i)
            dropped.append(i)
    free = room(keep)
    if sum(natural[k] for k in keep) <= free:
        widths = [natural[k] for k in keep]
    elif sum(minimum[k] for k in keep) >= free:
        widths = [minimum[k] for k in keep]
    else:
        widths = _share_out(free, [minimum[k] for k in keep], [natural[k] for k in keep])
    return FittedColumns(tuple(keep), tuple(widths), tuple(sorted(dropped)))


def _share_out(free: int, minimum: list[int], natural: list[int]) -> list[int]:
    """Minimums plus the space over them, shared in proportion to natural - minimum (largest
    remainders method: floors first, then one each to the largest fractional parts, ties to the leftmost)."""
    want = [b - a for a, b in zip(minimum, natural)]
    spare = free - sum(minimum)
    total = sum(want)
    extra = [spare * w // total for w in want]
    left = spare - sum(extra)
    for i in sorted(range(len(want)), key=lambda i: (-(spare * want[i] % total), i))[:left]:
        extra[i] += 1
    return [a + e for a, e in zip(minimum, extra)]


def fitted_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, *,
                 right: Sequence[int] = (), drop_order: Sequence[int] = (), caption: str | None = None) -> Table:
    """A rich table of `rows` (cells as printed) that fits `width` (see the module docstring);
    `right`: indices of right-aligned (numeric) columns."""
    fit = fit_columns(headers, rows, width, drop_order)
    if fit.dropped:
        names = ", ".join(headers[i] for i in fit.dropped)
        note = (f"left out to fit {width} columns: {names} (a wider terminal or COLUMNS, or --format json, "
                "shows them)")
        caption = f"{caption}; {note}" if caption else note
    t = Table(title=title, caption=caption)
    for i, w in zip(fit.keep, fit.widths):
        t.add_column(headers[i], justify="right" if i in right else "left", width=w, overflow="fold")
    for r in rows:
        t.add_row(*(r[i] for i in fit.keep))
    return t
