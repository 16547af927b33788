"""The slot occupancy axis of a replica, cut into the pieces on which the queueing model is linear,
for many (replica, bucket) pairs side by side (`Table`): what `serving.queueing` evaluates.

A replica holds n in [0, c] sequences. The time a request holds a slot, S(n) (see
`serving.queueing`), is linear in n between breakpoints: where the decode step table changes slope
(`step_kinks`) and where the chunk count of a prompt, ceil(L_in / (B - n)), steps up. On each piece
the least fixed point of Little's law is the root of a linear equation, and at each breakpoint the
largest rate the occupancy allows is the root of a quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SLOPE_REL_TOLERANCE = 1e-9
"""Adjacent pieces of the step table whose slopes differ by no more than this fraction are one
piece (float rounding makes a straight table's slopes differ in the last digits)."""

@dataclass(frozen=True, eq=False)
class Table:
    """N (replica, bucket) pairs side by side, so that one numpy pass evaluates them all.

    Per row, the inputs of `BucketTimes` (as (N, 1) columns) and the cut of the slot occupancy n in
    [0, c] where S(n) changes form: every integer (the step table is linear between them) and every
    n = B - L_in / j where the chunk count ceil(L_in / (B - n)) steps from j to j + 1. Piece i of a
    row is (x[i-1], x[i]]; on it step(n) = step_at_0_s[i] + step_slope_s[i] x n and the chunk count
    is chunks[i] (left-continuous: its value at x[i]). Column 0 is a dummy piece [0, 0]. Rows have
    different numbers of breakpoints; the rest of a row is padding with x = c and reach_qps = inf,
    which no stable rate reaches. Build with `Table.build`.
    """

    input_tokens: np.ndarray
    output_tokens: np.ndarray
    batch_cap: np.ndarray
    chunk_tokens: np.ndarray
    prefill_s: np.ndarray
    cs2: np.ndarray
    step_s: np.ndarray
    """(N, C + 1): step(n) for n = 0..c, index 0 equal to index 1, each row padded with its last value."""
    x: np.ndarray
    step_at_0_s: np.ndarray
    step_slope_s: np.ndarray
    chunks: np.ndarray
    reach_qps: np.ndarray
    """Running maximum over breakpoints of the largest rate with lambda x S(x[i]) <= x[i]."""
    saturation_qps: np.ndarray
    """(N,): the root of lambda x S(c) = c itself (the last breakpoint's rate, not the running maximum)."""

    def __len__(self) -> int:
        return len(self.saturation_qps)

    def rows(self, index: np.ndarray) -> Table:
        """The table of the rows at `index` (integer positions), in that order."""
        return Table(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def build(input_tokens, output_tokens, batch_cap, chunk_tokens, prefill_s, step_s, cs2=1.0,
              kinks: np.ndarray | None = None) -> Table:
        """The table of N rows; every argument a length-N sequence (or a scalar for all rows) except
        `step_s`, an (N, C + 1) array whose row r holds step(n) for n = 0..batch_cap[r] (index 0 is
        replaced by index 1; anything after is ignored), and `kinks`, `step_kinks` of a table whose
        rows begin with those of `step_s` (computed when not given). No validation: `BucketTimes`
        validates one row."""
        l_in = np.asarray(input_tokens, dtype=float).reshape(-1)
        n_rows = len(l_in)
        col = lambda v: np.broadcast_to(np.asarray(v, dtype=float).reshape(-1), (n_rows,)).reshape(-1, 1)
        c_int = np.broadcast_to(np.asarray(batch_cap, dtype=np.intp).reshape(-1), (n_rows,))
        c, b_tok, l_out, pre = col(batch_cap), col(chunk_tokens), col(output_tokens), col(prefill_s)
        width = int(c_int.max()) + 1
        steps = np.array(np.asarray(step_s, dtype=float)[:, :width])
        steps[:, 0] = steps[:, 1]  # step(n) is step_s[1] on [0, 1]
        bends = step_kinks(steps) if kinks is None else np.asarray(kinks, dtype=bool)[:, :width]
        x = _breakpoints(_integer_breakpoints(bends, c_int), l_in[:, None], b_tok, c)
        finite = np.isfinite(x)
        last = finite.sum(axis=1) - 1
        x = np.where(finite, x, c)
        mid = np.concatenate([np.full((n_rows, 1), 0.5), (x[:, :-1] + x[:, 1:]) / 2.0], axis=1)
        k = np.minimum(mid.astype(np.intp), c_int[:, None] - 1)  # floor: each piece lies in [k, k + 1]
        slope_s = np.take_along_axis(steps, k + 1, axis=1) - np.take_along_axis(steps, k, axis=1)
        at_0_s = np.take_along_axis(steps, k, axis=1) - slope_s * k
        chunks = np.ceil(l_in[:, None] / np.maximum(b_tok - mid, 1.0))
        step_at_x_s = at_0_s + slope_s * x
        ttft_s = pre + (chunks + 0.5) * step_at_x_s
        total_s = ttft_s + (l_out - 1) * step_at_x_s + x * pre
        disc_s2 = np.maximum(total_s * total_s - 4.0 * ttft_s * pre * x, 0.0)
        reach_qps = 2.0 * x / (total_s + np.sqrt(disc_s2))
        saturation = reach_qps[np.arange(n_rows), last]
        reach_qps = np.where(finite, np.maximum.accumulate(reach_qps, axis=1), np.inf)
        return Table(input_tokens=l_in[:, None], output_tokens=l_out, batch_cap=c, chunk_tokens=b_tok,
                     prefill_s=pre, cs2=col(cs2), step_s=steps, x=x, step_at_0_s=at_0_s, step_slope_s=slope_s,
                     chunks=chunks, reach_qps=reach_qps, saturation_qps=saturation)


def step_kinks(step_s: np.ndarray) -> np.ndarray:
    """(N, C + 1) bool: where each row's step table changes slope, n in 1..C - 1 (with index 0 equal
    to index 1, n = 1 always does). Between kinks the table is one line (slopes within
    SLOPE_REL_TOLERANCE), so the occupancy axis needs no breakpoint there: a dense model's step
    has a kink or two (1, and where compute overtakes the weight stream), not one per integer.
    Rows that begin alike have kinks that begin alike, so one table's kinks serve its prefixes."""
    steps = np.array(step_s, dtype=float)
    steps[:, 0] = steps[:, 1]
    slope = np.diff(steps, axis=1)
    kink = np.zeros(steps.shape, dtype=bool)
    left, right = slope[:, :-1], slope[:, 1:]
    kink[:, 1:-1] = np.abs(right - left) > SLOPE_REL_TOLERANCE * np.maximum(np.abs(left), np.abs(right))
    return kink


def _integer_breakpoints(kinks: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Per row, 0, the kinks below c and c itself, in order, then inf: (N, most per row)."""
    cols = np.arange(kinks.shape[1])
    keep = (kinks & (cols < c[:, None])) | (cols == c[:, None])
    keep[:, 0] = True
    rank = np.cumsum(keep, axis=1) - 1
    out = np.full((len(c), int(rank[:, -1].max()) + 1), np.inf)
    row, at = np.nonzero(keep)
    out[row, rank[row, at]] = at
    return out


def _breakpoints(ints: np.ndarray, l_in: np.ndarray, b_tok: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Per row, the sorted distinct breakpoints of [0, c] (see Table), then inf: the integers
    `ints` (where the step's slope changes, inf elsewhere) and n = B - L_in / j in (0, c) for j
    from floor(L_in / B) + 1 up to ceil(L_in / (B - c)) (to L_in when B - c < 1), where ceil(L_in
    / (B - n)) steps from j to j + 1."""
    j_lo = np.floor(l_in / b_tok)
    room = b_tok - c
    j_hi = np.where(room < 1, l_in, np.minimum(l_in, np.ceil(l_in / np.maximum(room, 1.0))))
    count = np.where((l_in >= 1) & (j_hi > j_lo), j_hi - j_lo, 0.0)
    n_jumps = int(count.max()) if count.size else 0
    x = ints
    if n_jumps:
        j = j_lo + 1.0 + np.arange(n_jumps, dtype=float)
        jumps = b_tok - l_in / j
        jumps = np.where((np.arange(n_jumps) < count) & (jumps > 0.0) & (jumps < c), jumps, np.inf)
        x = np.concatenate([ints, jumps], axis=1)
    x = np.sort(x, axis=1)
    repeat = np.zeros(x.shape, dtype=bool)
    repeat[:, 1:] = x[:, 1:] == x[:, :-1]
    if repeat.any():
        x = np.sort(np.where(repeat, np.inf, x), axis=1)
    return x[:, : int(np.isfinite(x).sum(axis=1).max())]
