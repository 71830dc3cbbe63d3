"""The fast path of :func:`refimpl.sampling.process_logits`: the reference's answer on a
(64, 200_019) batch in a few passes over memory.

Read :mod:`refimpl.sampling` first (the order of the steps and the slow reference); this module
only makes the same computation cheap, and every path here is held equal to the reference by
``tests/test_sampling_fast.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .logits import _top_p_keep_row

# -- the fast path ------------------------------------------------------------------------------
#
# `process_logits` must give the reference's answer on a (64, 200_019) batch in a few passes over
# memory. The values it returns are log-probabilities (the tests compare them with the same
# tolerance as ever); the *set* of kept tokens must be exactly the reference's, and that set
# hangs on float64 rounding: top_p compares the running sum of p = fl(e / S) with top_p, where
# S = np.sum(exp(z)) over the whole row. Computing S exactly costs a float64 exp of every token.
# So, for each row:
#
#   a. group maxima. A row is viewed as (64, V // 64) and maxed over the 64: group c holds the
#      ids c, c + n, ..., c + 63n (n = V // 64; the last V % 64 ids are groups of one). One read
#      of the row gives them; they also reveal NaN / +inf / all -inf rows, and any "all ids with
#      x >= t" query touches only the groups whose maximum is >= t.
#   b. the exact row max m of the biased, penalised scores y. Only the ~266 ids listed in
#      logit_bias or in the history differ from x; their y is computed exactly, as the
#      reference does, in float64 (`_modified`).
#   c. path: the group maxima (of groups without a modified id) and the modified scores are
#      scores of distinct tokens; if the top few of them already carry top_p of a rough S
#      (group maxima + the median of a strided sample), the nucleus is small ("sparse" path);
#      otherwise ("dense", e.g. flat logits) go to f. The rough S only chooses the path.
#   d. sparse: float32 input -> S in [S_lo, S_hi] from one float32 pass over the (L2-resident)
#      row with a proven error bound (`_mass_bounds_f32`); float64 input -> S exactly.
#   e. candidates: every token with y >= t, t read off those top scores. Their e = exp(z) are
#      exact (the reference's float64 operations). Sorting their values and bounding the running
#      sum (`_crossing`) gives the crossing, *if* the bounds leave no doubt; a near-tie at the
#      boundary is doubt too. No candidate set is ever the whole vocabulary.
#   f. dense: exact z, e, S; the crossing's rank is estimated from a 4096-value sample and only
#      a window of values around it is sorted and certified (`_dense_row`).
#   g. doubt (rare: the running sum within ~1e-5 of top_p, or an exact tie with it) -> the
#      reference's own arithmetic for that row (`_write_exact`).
#
# Ties are by value then id, like the reference: the kept set is every token with e > e_cross
# plus the lowest ids among those with e == e_cross.

_STRIPES = 64           # group size of the (B, 64, V // 64) view
_EPS = 2.0 ** -52       # float64 unit roundoff, doubled
_EPS32 = 2.0 ** -24     # float32 unit roundoff


def _group_ids(groups, V: int):
    """Token ids of the given groups: group c < n holds c, c + n, ..., c + 63n; group n + r is
    the single id 64n + r."""
    n = V // _STRIPES
    striped = groups[groups < n]
    return np.concatenate([(striped[:, None] + n * np.arange(_STRIPES)).ravel(),
                           groups[groups >= n] + (_STRIPES - 1) * n])


def _modified(x, hist, fp: float, pp: float, bias: dict):
    """Per row: the sorted ids M whose score is changed by logit_bias or the penalties, and their
    new scores y[M] (float64), computed with the reference's operations in its order. One
    sort of (row * V + id) keys serves the whole batch."""
    B, V = x.shape
    bias_ids = np.array(sorted(bias), dtype=np.int64)
    bias_vals = np.array([bias[t] for t in bias_ids], dtype=np.float64)
    rows = np.repeat(np.arange(B, dtype=np.int64), [h.size for h in hist])
    pen = rows * V + (np.concatenate(hist) if B else np.zeros(0, np.int64))
    if fp == 0 and pp == 0:
        pen = pen[:0]  # y - 0.0 - 0.0 == y: no token is changed by the penalties
    pen, counts = np.unique(pen, return_counts=True)                     # (P,) sorted keys
    biased = (np.arange(B, dtype=np.int64)[:, None] * V + bias_ids).ravel()  # (B * nb,)
    keys = np.union1d(pen, biased)                                       # (K,) sorted
    y = x.reshape(-1)[keys].astype(np.float64)                           # 1. and 2., as the
    i = np.searchsorted(keys, biased)                                    # reference does them:
    y[i] = y[i] + np.tile(bias_vals, B)                                  # mu + bias
    i = np.searchsorted(keys, pen)
    y[i] = y[i] - counts.astype(np.float64) * fp - pp                    # mu - c*fp - (c>0)*pp
    bounds = np.searchsorted(keys, np.arange(B + 1) * V)
    return [(keys[bounds[b]:bounds[b + 1]] - b * V, y[bounds[b]:bounds[b + 1]]) for b in range(B)]


def _unmodified_at_least(x, g, M, t):
    """Ids j not in M with x[j] >= t, via the group maxima g (t a float64)."""
    ids = _group_ids(np.flatnonzero(g >= t), x.shape[0])
    ids = ids[x[ids] >= t]
    if M.size and ids.size:
        pos = np.minimum(np.searchsorted(M, ids), M.size - 1)
        ids = ids[M[pos] != ids]
    return ids


def _row_max(x, g, clean, M, yM) -> float:
    """The exact max of y over the row. `clean` marks the groups without a modified id: their
    maxima are unmodified scores; the few other groups are searched id by id."""
    m = float(g[clean].max(initial=-np.inf))
    if not clean.all():
        hit = np.flatnonzero(~clean & (g > m))                     # spoiled groups that could beat m
        ids = _group_ids(hit, x.shape[0])
        pos = np.minimum(np.searchsorted(M, ids), M.size - 1)
        ids = ids[M[pos] != ids]
        if ids.size:
            m = max(m, float(x[ids].max()))
    return max(m, float(yM.max())) if M.size else m


def _mass_bounds_f32(x, M, yM, m: float, T: float, buf):
    """S_lo <= S <= S_hi for S = np.sum(exp((y - m) / T)) (float64), from one float32 pass.

    Error analysis (u = 2**-24): with c = float32(m), k = float32(1 / T), the float32 argument
    b = (x - c) * k differs from z = (x - m) / T by at most 3.01u(|z| + eta) + eta, where
    eta = |c - m| / T; numpy's float32 exp is within 3.4u (measured; we allow 16u). Summing
    e|z| over the row is at most Z0 * S + V * Z0 * exp(-Z0) for any Z0 >= 1 (e^-z z decreases
    for z >= 1), so with Z0 = 40 the relative error of the unmodified part is at most
    1.01 (3.01u (40 + eta) + eta + 16u) plus 64u for the float32 pairwise sum; underflowed
    terms add at most V * 1e-37. The modified ids are summed exactly in float64.
    Returns None when the bound is too loose to be useful (huge |m|).
    """
    if not (abs(m) < 1e38 and 1e-37 < 1.0 / T < 1e38):  # e.g. T = 1e-300: 1/T is no float32
        return None
    c, k = np.float32(m), np.float32(1.0 / T)
    eta = abs(float(c) - m) / T
    rel = 1.01 * (3.01 * _EPS32 * (40 + eta) + eta + 16 * _EPS32) + 64 * _EPS32
    if rel > 1e-3:
        return None
    with np.errstate(all="ignore"):
        np.subtract(x, c, out=buf)
        np.multiply(buf, k, out=buf)
        if M.size:
            buf[M] = -np.inf
        np.exp(buf, out=buf)
        s_u = float(np.add.reduce(buf))
        s_m = float(np.sum(np.exp((yM - m) / T))) if M.size else 0.0
    if not math.isfinite(s_u + s_m):
        return None
    absolute = x.shape[0] * (1e-37 + 40 * math.exp(-40) * 4 * _EPS32)
    lo = (max(s_u - absolute, 0.0) / (1 + rel) + s_m) * (1 - 1e-12)
    hi = ((s_u + absolute) / (1 - rel) + s_m) * (1 + 1e-12)
    return max(lo, 1.0 - 1e-12), hi   # S >= 1: the top token has e = exp(0) = 1


def _crossing(v, base: float, n_above: int, S_lo: float, S_hi: float, top_p: float, slack=0.0):
    """Where the reference's running sum of p crosses top_p, or why that is not certain.

    v: e-values sorted descending, following `n_above` larger ones summing to `base` (+- slack).
    Returns (k, cum_k) with k the index in v of the crossing token, or (status, None) with
    status "more" (the sum does not surely reach top_p inside v) or "doubt".

    The reference sums fl(e / S) one by one in sorted order; whatever that order among near
    ties, its running sum after j terms is within (j + 32) * 2**-52 (relative) of the exact
    sum, and so is ours: with tol for the longest prefix, every reference running sum lies in
    [(cs - slack)(1 - tol) / S_hi, (cs + slack)(1 + tol) / S_lo]. The first index where the
    upper bound reaches top_p and the first where the lower one does must agree.
    """
    cs = np.cumsum(v)
    if base:
        cs += base
    tol = (n_above + v.size + 32) * _EPS
    if n_above and (base + slack) * (1 + tol) / S_lo >= top_p * (1 - 1e-15):
        return "doubt", None                 # the crossing may lie above the window
    k_hi = int(np.searchsorted(cs, top_p * S_lo / (1 + tol) * (1 - 1e-15) - slack, side="left"))
    k_lo = int(np.searchsorted(cs, top_p * S_hi / (1 - tol) * (1 + 1e-15) + slack, side="left"))
    if k_lo >= v.size:
        return "more", None
    if k_hi != k_lo:
        return "doubt", None
    k = k_lo
    # near ties at the boundary: distinct e within a few ulps may round to equal p (then the
    # reference orders them by id), so the boundary must fall between clearly distinct values.
    ec = v[k]
    i0 = int(np.searchsorted(-v, -ec, side="left"))
    i1 = int(np.searchsorted(-v, -ec, side="right"))   # v[i0:i1] == ec
    if not ec > 0 or (i0 == 0 and n_above) or (i0 > 0 and not v[i0 - 1] > ec * (1 + 8 * _EPS)):
        return "doubt", None
    if i1 >= v.size:
        return "more", None                  # the tokens below v might tie with ec
    if not v[i1] < ec * (1 - 8 * _EPS):
        return "doubt", None
    return k, float(cs[k])


class _Scratch:
    """Per-call float64 row buffers (V,), made on first use."""

    def __init__(self, V):
        self.V, self._z, self._e = V, None, None

    def z(self):
        if self._z is None:
            self._z, self._e = np.empty(self.V), np.empty(self.V)
        return self._z, self._e


def _exact_z(x, M, yM, m: float, T: float, scratch):
    """z = (y - m) / T and e = exp(z) for the whole row, with the reference's operations:
    float64(x) - m (float64(x) is exact), then / T; the modified ids get (yM - m) / T."""
    z, e = scratch.z()
    np.subtract(x, np.float64(m), out=z)
    if M.size:
        z[M] = yM - m
    if T != 1:                                   # x / 1.0 == x: skip the pass
        with np.errstate(over="ignore"):
            np.divide(z, T, out=z)
    np.exp(z, out=e)
    return z, e, float(np.sum(e))


def _write_exact(z, e, top_p: float, out):
    """The reference algorithm on an exact row (z, e): used whenever a bound leaves doubt."""
    keep = _top_p_keep_row(z, top_p, 1)
    kept = np.flatnonzero(keep)
    out.fill(-np.inf)
    out[kept] = z[kept] - math.log(float(np.sum(e[kept])))


def _dense_row(z, e, S: float, top_p: float, out):
    """Exact z, e, S of a row whose nucleus is large: locate the crossing from a sample, sort
    only a window of values around it, certify, and write the row."""
    V = z.shape[0]
    if top_p >= 1:                                   # every finite token, renormalised
        np.subtract(z, math.log(S), out=out, casting="same_kind")
        return
    step = max(1, V // 4096)
    sub = np.sort(e[::step])[::-1]                   # (~4096,) descending
    cs = np.cumsum(sub)
    i = int(np.searchsorted(cs, top_p * cs[-1]))
    w = int(4 * math.sqrt(i * (1 - i / sub.size) + 1)) + 16   # ~4 sd of the crossing's rank
    e_hi = sub[i - w] if i - w >= 0 else np.inf
    e_lo = sub[i + w] if i + w < sub.size else 0.0
    low = np.flatnonzero(e <= e_hi)                  # the window and below: (n_low,) ascending
    vals = e[low]
    n_above = V - low.size
    if n_above < low.size:                           # few tokens above the window: sum them
        base = float(np.sum(e[np.flatnonzero(e > e_hi)])) if n_above else 0.0
    else:                                            # few below: S minus them
        base = S - float(np.sum(vals))
    vs = np.sort(vals[vals >= e_lo])[::-1]
    k, cum = _crossing(vs, base, n_above, S, S, top_p, 1e-13 * S)
    if isinstance(k, str):
        _write_exact(z, e, top_p, out)
        return
    ec = vs[k]
    np.subtract(z, math.log(cum), out=out, casting="same_kind")
    out[low[vals < ec]] = -np.inf                    # below the crossing value
    tied = low[vals == ec]                           # ascending ids
    out[tied[k + 1 - int(np.searchsorted(-vs, -ec, side="left")):]] = -np.inf


def _top_scores(g, clean, yM, m: float, T: float, k: int = 256):
    """(scores, w): the k highest of {maxima of clean groups} + {modified scores}, descending,
    and w = cumsum(exp((scores - m) / T)). These are scores of distinct tokens, so w bounds
    from below the mass of the tokens at or above each score."""
    vals = np.concatenate([g[clean].astype(np.float64), yM])
    if vals.size > k:
        vals = np.partition(vals, vals.size - k)[vals.size - k:]
    vals = np.sort(vals)[::-1]
    with np.errstate(over="ignore"):
        return vals, np.cumsum(np.exp((vals - m) / T))


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


def _sparse_row(x, g, M, yM, m, T, top_p, bounds, thresholds, out) -> bool:
    """Write the row from a small candidate set if the bounds certify it; False otherwise."""
    limit = max(x.shape[0] // 16, 4096)
    for t in thresholds:
        ids = _unmodified_at_least(x, g, M, t)
        y = x[ids].astype(np.float64)
        if M.size:
            sel = yM >= t
            ids, y = np.concatenate([ids, M[sel]]), np.concatenate([y, yM[sel]])
        if ids.size > limit:
            return False
        with np.errstate(over="ignore"):
            zc = (y - m) / T                                         # (n,) exact, as the reference
        ec = np.exp(zc)
        v = np.sort(ec)[::-1]
        k, cum = _crossing(v, 0.0, 0, bounds[0], bounds[1], top_p)
        if k == "doubt":
            return False
        if k != "more":
            sel = ec > v[k]
            tied = np.flatnonzero(ec == v[k])
            n_greater = int(np.count_nonzero(sel))
            sel[tied[np.argsort(ids[tied])][:k + 1 - n_greater]] = True   # lowest ids first
            out.fill(-np.inf)
            out[ids[sel]] = zc[sel] - math.log(cum)
            return True
    return False


def _process_row(x, g, M, yM, T: float, top_p: float, out, scratch, sample):
    """One row of `process_logits` (x read only, out written; `sample` = x[::389] in float64)."""
    V = x.shape[0]
    n = V // _STRIPES
    clean = np.ones(g.size, dtype=bool)              # groups without a modified id
    clean[np.where(M < n * _STRIPES, M % max(n, 1), M - (_STRIPES - 1) * n)] = False
    m = _row_max(x, g, clean, M, yM)
    if T == 0:                                       # greedy: the lowest id at the max
        ids = _unmodified_at_least(x, g, M, np.float64(m))
        out.fill(-np.inf)
        out[min(ids.min(initial=V), M[yM == m].min(initial=V))] = 0.0
        return
    z = None
    if top_p < 1:
        scores, w = _top_scores(g, clean, yM, m, T)
        with np.errstate(over="ignore"):
            # A rough S (the top group maxima + the median of a strided sample for the rest),
            # only to choose the path, never to decide a token.
            e_sample = np.exp(np.minimum(sample - m, 0.0) / T)  # (raw modified scores may be > m)
            s_est = w[-1] + V * float(np.partition(e_sample, e_sample.size // 2)[e_sample.size // 2])
        if _candidate_thresholds(scores, w, s_est, top_p):
            bounds = None
            if x.dtype == np.float32 and out.dtype == np.float32:
                bounds = _mass_bounds_f32(x, M, yM, m, T, out)      # out is scratch here
            if bounds is None:
                z, e, S = _exact_z(x, M, yM, m, T, scratch)
                bounds = (S, S)
            if _sparse_row(x, g, M, yM, m, T, top_p, bounds,
                           _thresholds(scores, w, g, bounds[1], top_p), out):
                return
    if z is None:
        z, e, S = _exact_z(x, M, yM, m, T, scratch)
    _dense_row(z, e, S, top_p, out)


def _process_fast(x, hist, T: float, top_p: float, fp: float, pp: float, bias: dict, invalid):
    """(B, V) float32/float64 logits (read only) -> (B, V) log-probabilities, same dtype.
    `invalid()` raises the reference's error; it is called when a row has NaN, +inf or no
    finite score (seen in the group maxima)."""
    B, V = x.shape
    out = np.empty((B, V), dtype=x.dtype)
    scratch = _Scratch(V)
    n = V // _STRIPES
    samples = x[:, ::389].astype(np.float64)                         # (B, ~V / 389)
    for b, (M, yM) in enumerate(_modified(x, hist, fp, pp, bias)):
        row = x[b]
        g = np.concatenate([row[:n * _STRIPES].reshape(_STRIPES, n).max(axis=0), row[n * _STRIPES:]])
        top = g.max()
        if not (-np.inf < top < np.inf):                             # NaN, +inf or all -inf
            invalid()
        _process_row(row, g, M, yM, T, top_p, out[b], scratch, samples[b])
    return out
