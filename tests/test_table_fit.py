"""Terminal manners: tables fit the width (COLUMNS honoured) without breaking an id mid-word, wide
tables leave out their least important columns with a note, a closed pipe is no error."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from planner.report.table_fit import fit_columns, fitted_table

SEED001 = ["solve", "problems/seed001-qwen7b-50-users.yaml", "--no-timings", "--today", "2026-11-21"]


def _render(table, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, highlight=False, soft_wrap=False).print(table)
    return buf.getvalue().splitlines()


def test_natural_widths_when_they_fit():
    """Headers "id" and "n", cells "abc-def" and "12": natural widths 7 and 2; the table takes
    7 + 2 + 3 x 2 + 1 = 16 characters, so at 16 nothing wraps or is dropped."""
    fit = fit_columns(["id", "n"], [["abc-def", "12"]], 16)
    assert fit == fit.__class__(keep=(0, 1), widths=(7, 2), dropped=())
    assert max(len(line) for line in _render(fitted_table(None, ["id", "n"], [["abc-def", "12"]], 16), 16)) == 16


def test_space_over_the_minimums_is_shared_in_proportion():
    """Columns "memory capacity" (natural 15, minimum 8: "capacity") and "a b c d" (natural 7,
    minimum 1): borders take 2 x 3 + 1 = 7 of 20 characters, the minimums 8 + 1 = 9 of the 13 left;
    the 4 over are shared 7:6
    (what each still wants) = 2.15 and 1.85, floors 2 and 1, the last one to the larger remainder
    (the second column, 0.85 against 0.15): widths 10 and 3."""
    fit = fit_columns(["x", "y"], [["memory capacity", "a b c d"]], 20)
    assert fit.widths == (10, 3) and fit.dropped == ()


def test_columns_are_dropped_in_order_until_the_minimums_fit():
    """Three id columns of 10 characters need 3 x 10 + 3 x 3 + 1 = 40; at 30 the first droppable
    (column 2) goes: 2 x 10 + 2 x 3 + 1 = 27 fits. Column 0 is never in the drop order and stays."""
    rows = [["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"]]
    fit = fit_columns(["a", "b", "c"], rows, 30, drop_order=[2, 1])
    assert fit.keep == (0, 1) and fit.dropped == (2,)
    table = fitted_table("t", ["a", "b", "c"], rows, 30, drop_order=[2, 1])
    assert "left out to fit 30 columns: c (" in " ".join(" ".join(_render(table, 30)).split())


def test_a_table_wider_than_the_terminal_never_breaks_a_word():
    """One 50-character id at width 20 with nothing to drop: the column keeps its 50 characters."""
    fit = fit_columns(["id"], [["x" * 50]], 20)
    assert fit.widths == (50,)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(st.from_regex(r"[a-z0-9.-]{1,12}( [a-z0-9.-]{1,12}){0,2}", fullmatch=True),
                              min_size=4, max_size=4), min_size=1, max_size=4),
       width=st.integers(40, 200))
def test_every_word_prints_whole_and_lines_fit(rows, width):
    """Random cells of words: every word of every kept column appears whole in the rendered table,
    and no line is wider than `width` whenever the kept columns' minimums fit."""
    headers = ["first", "second", "third", "fourth"]
    fit = fit_columns(headers, rows, width, drop_order=[3, 2, 1])
    lines = _render(fitted_table(None, headers, rows, width, drop_order=[3, 2, 1]), max(width, 400))
    text = "\n".join(lines)
    for r in rows:
        for i in fit.keep:
            for word in r[i].split():
                assert re.search(rf"(?<![a-z0-9.-]){re.escape(word)}(?![a-z0-9.-])", text), (word, text)
    if sum(fit.widths) + 3 * len(fit.keep) + 1 <= width:
        assert max(len(line) for line in lines) <= width


def test_columns_env_narrows_the_plan_tables(run_cli, monkeypatch):
    """COLUMNS=80: every line fits 80 characters, ids print whole, and the note names what was left out."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli(SEED001)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "│ qwen7b-chat │" in out and " rtx-3090-24gb " in out
    assert "left out to fit 80 columns:" in out


def test_piped_output_ignores_the_terminal(run_cli):
    """Without COLUMNS, output to a pipe (capsys here) is at the fixed 160 characters: ids whole."""
    code, out, _ = run_cli(SEED001)
    assert code == 0
    assert "│ qwen7b-chat │" in out and "│ rtx-3090-24gb │" in out
