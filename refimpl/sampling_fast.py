"""The fast path of :func:`refimpl.sampling.process_logits`: the reference's answer on a
(64, 200_019) batch in a few passes over memory.

Read :mod:`refimpl.sampling` first (the order of the steps and the slow reference); this module
only makes the same computation cheap. It works on the whole batch at once wherever the work
is small (a few hundred numbers per row) and row by row only for the passes over a full row,
which then stays in the L2 cache; :mod:`refimpl.sampling_nucleus` holds the row-level pieces.
Every path is held equal to the reference by ``tests/test_sampling_fast.py``.
"""
from __future__ import annotations

import numpy as np

from .sampling_nucleus import (
    _STRIPES,
    _Scratch,
    _crossings,
    _dense_row,
    _exact_z,
    _group_ids,
    _group_of,
    _mass_bounds_f32,
    _sparse_row,
    _unmodified_at_least,
)

__all__: list[str] = []   # private; `_STRIPES` and `_group_ids` are also used by refimpl.seeded

# -- the fast path ------------------------------------------------------------------------------
#
# The values `process_logits` returns are log-probabilities (the tests compare them with the
# same tolerance as ever); the *set* of kept tokens must be exactly the reference's, and that
# set hangs on float64 rounding: top_p compares the running sum of p = fl(e / S) with top_p,
# where S = np.sum(exp(z)) over the whole row. Computing S exactly costs a float64 exp of every
# token. So:
#
#   a. group maxima of the batch, one read (see `refimpl.sampling_nucleus` for the groups).
#      They reveal NaN / +inf / all -inf rows, and any "all ids with x >= t" query touches only
#      the groups whose maximum is >= t.
#   b. the exact row maxima m of the biased, penalised scores y. Only the ~266 ids per row
#      listed in logit_bias or in the history differ from x; their y is computed exactly, as the
#      reference does, in float64 (`_modified`); a group holding one is "spoiled" (`_row_maxima`).
#   c. path: the maxima of clean groups and the modified scores are scores of distinct tokens;
#      if the top few of them already carry top_p of a rough S (those + V times the median of a
#      strided sample), the nucleus is small ("sparse"); otherwise ("dense", e.g. flat logits)
#      go to g. The rough S only chooses the path (`_top_scores`).
#   d. sparse rows, one at a time, while the row is in L2: float32 input -> S in [S_lo, S_hi]
#      from one float32 pass with a proven error bound (`_mass_bounds_f32`); float64 input ->
#      S exactly. A threshold t read off the top scores of c and S_hi; the row's ids with
#      x >= t, found via the group maxima.
#   e. candidates, for the whole batch: those ids, less the modified ones, plus the modified
#      ids with y >= t (`_candidates`). Their e = exp(z) are exact (the reference's float64
#      operations).
#   f. crossings, for the whole batch: sorting the candidates' e and bounding the running sum
#      gives each row's crossing, *if* the bounds leave no doubt; a near-tie at the boundary is
#      doubt too (`_crossings`). Too few candidates -> the next thresholds, one row at a time
#      (`_sparse_row`).
#   g. dense: exact z, e, S; the crossing's rank is estimated from a 4096-value sample and only
#      a window of values around it is sorted and certified (`_dense_row`).
#   h. doubt (rare: the running sum within ~1e-5 of top_p, or an exact tie with it) -> the
#      reference's own arithmetic for that row (`_write_exact`).
#
# Ties are by value then id, like the reference: the kept set is every token with e > e_cross
# plus the lowest ids among those with e == e_cross. Every choice of path or threshold depends
# on the row alone, so a row gives the same bits in any batch.

_K_TOP = 256             # top scores per row kept for choosing paths and thresholds
_SAMPLE_STEP = 389       # stride of the sample for the rough S


def _group_maxima(x):
    """(B, V) -> (B, G) group maxima, same dtype, from one read of the batch."""
    B, V = x.shape
    n = V // _STRIPES
    head = x[:, :n * _STRIPES].reshape(B, _STRIPES, n).max(axis=1)
    return np.concatenate([head, x[:, n * _STRIPES:]], axis=1) if V % _STRIPES else head


def _sorted_unique(a):
    """(values, counts) of an int array, values ascending: np.unique(a, return_counts=True)
    by one sort (np.unique and np.union1d are several times slower on ~16k int64 keys)."""
    a = np.sort(a)
    first = np.flatnonzero(np.concatenate([[a.size > 0], a[1:] != a[:-1]]))
    return a[first], np.diff(np.append(first, a.size))


def _modified(x, hist, fp: float, pp: float, bias: dict):
    """(keys, y, bounds): the sorted keys row * V + id of the tokens whose score is changed by
    logit_bias or the penalties, their new scores y (float64) computed with the reference's
    operations in its order, and row b's slice keys[bounds[b]:bounds[b + 1]]."""
    B, V = x.shape
    bias_ids = np.array(sorted(bias), dtype=np.int64)
    bias_vals = np.array([bias[t] for t in bias_ids], dtype=np.float64)
    rows = np.repeat(np.arange(B, dtype=np.int64), [h.size for h in hist])
    pen = rows * V + (np.concatenate(hist) if B else np.zeros(0, np.int64))
    if fp == 0 and pp == 0:
        pen = pen[:0]  # y - 0.0 - 0.0 == y: no token is changed by the penalties
    pen, counts = _sorted_unique(pen)                                    # (P,) sorted keys
    biased = (np.arange(B, dtype=np.int64)[:, None] * V + bias_ids).ravel()  # (B * nb,) sorted
    keys = _sorted_unique(np.concatenate([pen, biased]))[0]              # (K,) sorted
    y = x.reshape(-1)[keys].astype(np.float64)                           # 1. and 2., as the
    i = np.searchsorted(keys, biased)                                    # reference does them:
    y[i] = y[i] + np.tile(bias_vals, B)                                  # mu + bias
    i = np.searchsorted(keys, pen)
    y[i] = y[i] - counts.astype(np.float64) * fp - pp                    # mu - c*fp - (c>0)*pp
    return keys, y, np.searchsorted(keys, np.arange(B + 1) * V)


def _row_maxima(x, G, keys, y, bounds):
    """(m, Gc, PM): m (B,) the exact max of y per row (float64); Gc (B, G) the group maxima
    with spoiled groups at -inf; PM (B, width) each row's modified scores, padded with -inf."""
    B, V = x.shape
    n = V // _STRIPES
    K = keys.size
    rows = np.repeat(np.arange(B), np.diff(bounds))                      # (K,)
    ids = keys - rows * V
    grp = _group_of(ids, V)
    Gc = G.copy()
    Gc[rows, grp] = -np.inf
    m = Gc.max(axis=1).astype(np.float64)          # unmodified scores only
    # A spoiled group whose maximum beats m may hide a larger unmodified score: look inside
    # those (a handful per row; a spoiled singleton holds nothing unmodified).
    hit = (G[rows, grp] > m[rows]) & (grp < n)
    if hit.any():
        pairs = np.unique(rows[hit] * G.shape[1] + grp[hit])            # (h,) sorted
        hr, hg = np.divmod(pairs, G.shape[1])
        vals = x[hr[:, None], hg[:, None] + n * np.arange(_STRIPES)]    # (h, 64)
        j = np.minimum(np.searchsorted(pairs, rows * G.shape[1] + grp), pairs.size - 1)
        mine = pairs[j] == rows * G.shape[1] + grp                      # keys inside those
        vals[j[mine], ids[mine] // n] = -np.inf                          # modified: not x
        np.maximum.at(m, hr, vals.max(axis=1))
    PM = np.full((B, max(int(np.diff(bounds).max(initial=0)), 1)), -np.inf)
    PM[rows, np.arange(K) - bounds[rows]] = y
    return np.maximum(m, PM.max(axis=1)), Gc, PM


def _top_scores(x, Gc, PM, m, T: float, top_p: float):
    """(top, w, sparse): per row the _K_TOP highest of the clean group maxima and the modified
    scores, descending (padded with -inf), w = cumsum(exp((top - m) / T)), and whether the row
    should try the sparse path. These are scores of distinct tokens, so w bounds from below the
    mass of the tokens at or above each score."""
    B, V = x.shape
    k = _K_TOP
    if Gc.shape[1] > k:
        Gc = np.partition(Gc, Gc.shape[1] - k, axis=1)[:, Gc.shape[1] - k:]
    pad = np.full((B, max(0, k - Gc.shape[1] - PM.shape[1])), -np.inf)
    vals = np.concatenate([Gc.astype(np.float64), PM, pad], axis=1)
    top = np.partition(vals, vals.shape[1] - k, axis=1)[:, vals.shape[1] - k:]
    top = -np.sort(-top, axis=1)                                         # (B, k) descending
    with np.errstate(over="ignore"):
        w = np.cumsum(np.exp((top - m[:, None]) / T), axis=1)
        # rough S: the top scores + V times the median of a strided sample (raw x may be > m)
        e_s = np.exp(np.minimum(x[:, ::_SAMPLE_STEP] - m[:, None], 0.0) / T)
    h = e_s.shape[1] // 2
    s_est = w[:, -1] + V * np.partition(e_s, h, axis=1)[:, h]
    sparse = (w < (top_p * s_est * (1 + 1e-9))[:, None]).sum(axis=1) < k
    return top, w, sparse


def _candidate_thresholds(g_sorted, w, S: float, top_p: float):
    """Score thresholds t whose candidate sets {y >= t} probably hold the nucleus, smallest first.

    w = cumsum(exp((g_sorted - m) / T)): the i highest group maxima are i tokens, so once w[i]
    reaches top_p * S, every token at least as likely as the i-th group maximum makes a set
    that holds the nucleus (up to the modified ids, which the certification catches).
    Returns [] when the group maxima given fall short."""
    i = int(np.searchsorted(w, top_p * S * (1 + 1e-9)))
    if i >= g_sorted.size:
        return []
    return [np.float64(g_sorted[min(j, g_sorted.size - 1)]) for j in (i + 2, 2 * i + 8, 4 * i + 64)]


def _thresholds(scores, w, g, S: float, top_p: float):
    """The candidate thresholds to try in turn: from the top scores, then deeper group maxima
    (for when many likely tokens share a group)."""
    yield from _candidate_thresholds(scores, w, S, top_p)
    for j in (64, 256):
        if j < g.size:
            yield np.float64(np.partition(g, g.size - 1 - j)[g.size - 1 - j])


def _at_least(x, g_head, t, offsets, tail):
    """(ids, x[ids]) of every id with x >= t (t a float64) in one row x (V,), ascending within
    the striped groups, then the tail: the groups whose maximum g_head is >= t, and the tail
    ids (the groups of one), are the only places to look."""
    ids = (np.flatnonzero(g_head >= t)[:, None] + offsets).ravel()
    ids = np.concatenate([ids, tail]) if tail.size else ids
    xv = x[ids]
    keep = xv >= t
    return ids[keep], xv[keep]


def _candidates(t, parts, keys, y, bounds, V: int):
    """(R, I, Y): every (row, id) with y >= t[row] (t (B,) float64, +inf for none), with its
    score y (float64), sorted by row. parts[b] = (ids, x[ids]): row b's ids with x >= t[b]
    (found via the group maxima while the row was in cache); the modified ones among them are
    replaced by those with y >= t[b]."""
    B = t.size
    K = keys.size
    rows_m = np.repeat(np.arange(B), np.diff(bounds))
    if parts:
        rr = np.concatenate([np.full(ids.size, b) for b, (ids, _) in parts.items()])
        ii = np.concatenate([ids for ids, _ in parts.values()])
        xv = np.concatenate([v for _, v in parts.values()]).astype(np.float64)
        if K and rr.size:                             # modified ids: their score is y, not x
            kk = rr * V + ii
            unmod = keys[np.minimum(np.searchsorted(keys, kk), K - 1)] != kk
            rr, ii, xv = rr[unmod], ii[unmod], xv[unmod]
    else:
        rr = ii = np.zeros(0, np.int64)
        xv = np.zeros(0)
    sel = y >= t[rows_m]
    R = np.concatenate([rr, rows_m[sel]])
    order = np.argsort(R, kind="stable")
    return (R[order], np.concatenate([ii, keys[sel] - rows_m[sel] * V])[order],
            np.concatenate([xv, y[sel]])[order])


def _row_modified(keys, y, bounds, b: int, V: int):
    """(M, yM): row b's modified ids (sorted) and their scores."""
    return keys[bounds[b]:bounds[b + 1]] - b * V, y[bounds[b]:bounds[b + 1]]


def _greedy_row(x, g, M, yM, m: float, out) -> int:
    """T = 0: the lowest id whose score is the max m gets 0, every other -inf; returns it."""
    V = x.shape[0]
    ids = _unmodified_at_least(x, g, M, np.float64(m))
    out.fill(-np.inf)
    j = min(ids.min(initial=V), M[yM == m].min(initial=V))
    out[j] = 0.0
    return int(j)


def _process_fast(x, hist, T: float, top_p: float, fp: float, pp: float, bias: dict, invalid,
                  kept=None):
    """(B, V) float32/float64 logits (read only) -> (B, V) log-probabilities, same dtype.
    `invalid()` raises the reference's error; it is called when a row has NaN, +inf or no
    finite score (seen in the group maxima). If `kept` is a dict, kept[b] is set, for the rows
    whose nucleus came out of a small candidate set, to an int64 array of ids that holds
    every id row b keeps (any order, maybe more): what a draw needs to look at."""
    B, V = x.shape
    out = np.empty((B, V), dtype=x.dtype)
    if B == 0:
        return out
    G = _group_maxima(x)                                                  # a.
    top_g = G.max(axis=1)
    if not ((-np.inf < top_g) & (top_g < np.inf)).all():                 # NaN, +inf, all -inf
        invalid()
    keys, y, bounds = _modified(x, hist, fp, pp, bias)                    # b.
    m, Gc, PM = _row_maxima(x, G, keys, y, bounds)
    if T == 0:
        for b in range(B):
            M, yM = _row_modified(keys, y, bounds, b, V)
            j = _greedy_row(x[b], G[b], M, yM, float(m[b]), out[b])
            if kept is not None:
                kept[b] = np.array([j], dtype=np.int64)
        return out
    scratch = _Scratch(V)
    dense = range(B)
    if top_p < 1:
        top, w, sparse = _top_scores(x, Gc, PM, m, T, top_p)              # c.
        # subtle: the sparse rows' output is filled first, in one sweep. Filling each row after
        # its pass would keep three rows (x, scratch, out) in L2 at once.
        for b in np.flatnonzero(sparse):
            out[b].fill(-np.inf)
        dense = sorted(_sparse_rows(x, G, keys, y, bounds, m, top, w, np.flatnonzero(sparse),
                                    T, top_p, out, scratch, kept) + np.flatnonzero(~sparse).tolist())
    for b in dense:                                                        # g.
        M, yM = _row_modified(keys, y, bounds, b, V)
        z, e, S = _exact_z(x[b], M, yM, float(m[b]), T, scratch)
        _dense_row(z, e, S, top_p, out[b])
    return out


def _sparse_rows(x, G, keys, y, bounds, m, top, w, rows, T: float, top_p: float, out, scratch,
                 kept=None):
    """Steps d to f for the given rows (out all -inf); returns the rows left for the dense path.
    Rows settled here get their candidate ids in `kept` (a dict, if given; see _process_fast)."""
    B, V = x.shape
    n = V // _STRIPES
    offsets = n * np.arange(_STRIPES)                                     # group c: c + offsets
    tail = np.arange(n * _STRIPES, V)                                     # the groups of one
    buf = np.empty(V, dtype=x.dtype)                                      # float32 scratch row
    t = np.full(B, np.inf)                                                # no threshold: +inf
    S_lo, S_hi = np.ones(B), np.ones(B)
    more, parts = {}, {}
    for b in rows:                                                        # d.
        M, yM = _row_modified(keys, y, bounds, b, V)
        S = _mass_bounds_f32(x[b], M, yM, float(m[b]), T, buf) if x.dtype == np.float32 else None
        if S is None:
            S = (_exact_z(x[b], M, yM, float(m[b]), T, scratch)[2],) * 2
        S_lo[b], S_hi[b] = S
        more[b] = _thresholds(top[b], w[b], G[b], S[1], top_p)
        t[b] = next(more[b], np.inf)
        if t[b] < np.inf:                                                 # the row is in cache
            parts[b] = _at_least(x[b], G[b, :n], t[b], offsets, tail)
    R, I, Y = _candidates(t, parts, keys, y, bounds, V)                   # e.
    settle = (t < np.inf) & (np.bincount(R, minlength=B) <= max(V // 16, 4096))
    keep = settle[R]
    R, I, Y = R[keep], I[keep], Y[keep]
    with np.errstate(over="ignore"):
        Z = (Y - m[R]) / T                                                # exact, as the reference
    status = _crossings(R, I, Z, np.exp(Z), S_lo, S_hi, top_p, out)      # f.
    if kept is not None:
        starts = np.searchsorted(R, np.arange(B + 1))                     # R is sorted by row
    dense = []
    for b in rows:
        if not settle[b] or status[b] == -1:
            dense.append(int(b))
        elif status[b] == 0:                                              # more thresholds
            M, yM = _row_modified(keys, y, bounds, b, V)
            ids = _sparse_row(x[b], G[b], M, yM, float(m[b]), T, top_p, (S_lo[b], S_hi[b]),
                              more[b], out[b])
            if ids is None:
                dense.append(int(b))
            elif kept is not None:
                kept[int(b)] = ids
        elif kept is not None:                                            # written by _crossings
            kept[int(b)] = I[starts[b]:starts[b + 1]]
    return dense
