"""One row of the :func:`refimpl.sampling.process_logits` fast path: the top_p nucleus, certified.

:mod:`refimpl.sampling_fast` prepares a whole batch (group maxima, the modified scores, the exact
row maxima); the functions here finish one row. Each one either gives the reference's exact
kept set or says it cannot be sure, and then the row falls back to something slower but surer:

    `_crossing`        where the running sum of p crosses top_p, from bounds on S, or "doubt"
    `_crossings`       the same verdicts for many rows at once, and the certified rows written
    `_mass_bounds_f32` S_lo <= S <= S_hi from one float32 pass over the row
    `_exact_z`         the reference's own z, e = exp(z) and S, in float64
    `_sparse_row`      the nucleus from a small candidate set {y >= t}
    `_dense_row`       the nucleus of a flat row, from a window around the crossing
    `_write_exact`     the reference algorithm itself (used whenever a bound leaves doubt)

Token groups: a row of V ids is viewed as (64, V // 64); group c < n = V // 64 holds the ids
c, c + n, ..., c + 63n (a column of that view) and the last V % 64 ids are groups of one. The
maximum of every group takes one cheap read of the row, and any question "which ids have
x >= t" then only has to look inside the groups whose maximum is >= t.
"""
from __future__ import annotations

import math

import numpy as np

from .logits import _top_p_keep_row

_STRIPES = 64           # group size of the (B, 64, V // 64) view
_EPS = 2.0 ** -52       # float64 unit roundoff, doubled
_EPS32 = 2.0 ** -24     # float32 unit roundoff
_LOG2E = 1.0 / math.log(2.0)


# -- token groups ---------------------------------------------------------------------------------

def _group_ids(groups, V: int):
    """Token ids of the given groups: group c < n holds c, c + n, ..., c + 63n; group n + r is
    the single id 64n + r."""
    n = V // _STRIPES
    striped = groups[groups < n]
    return np.concatenate([(striped[:, None] + n * np.arange(_STRIPES)).ravel(),
                           groups[groups >= n] + (_STRIPES - 1) * n])


def _group_of(ids, V: int):
    """The group of each token id (the inverse of `_group_ids`)."""
    n = V // _STRIPES
    return np.where(ids < n * _STRIPES, ids % max(n, 1), ids - (_STRIPES - 1) * n)


def _unmodified_at_least(x, g, M, t):
    """Ids j not in M with x[j] >= t, via the group maxima g (t a float64)."""
    ids = _group_ids(np.flatnonzero(g >= t), x.shape[0])
    ids = ids[x[ids] >= t]
    if M.size and ids.size:
        pos = np.minimum(np.searchsorted(M, ids), M.size - 1)
        ids = ids[M[pos] != ids]
    return ids


# -- bounds on S and the crossing -----------------------------------------------------------------

def _mass_bounds_f32(x, M, yM, m: float, T: float, buf):
    """S_lo <= S <= S_hi for S = np.sum(exp((y - m) / T)) (float64), from one float32 pass.

    x: one float32 row (V,); M, yM: the modified ids and their scores y (float64); m: the
    exact row max of y; buf: a float32 (V,) scratch row. Returns None when the bound would be
    too loose to be useful (huge |m| / T, extreme T).

    The pass sums 2**b over the unmodified ids, in float32, with k = float32(log2(e) / T):
    float32 exp2 is about twice as fast as exp, and exp(v) = 2**(v log2(e)). Two ways to b
    (u = 2**-24; z = (x - m) / T <= 0 for every unmodified id):

    * shift-free, when -60 <= m log2(e) / T <= 100 (ordinary logits): b = x * k, one pass
      fewer. b is within 2.01u |x| log2(e) / T of x log2(e) / T, so 2**b is within
      2.02u |x| / T <= 2.02u (|m| / T + |z|) of exp(x / T) (relative), and the sum times
      exp(-m / T) (float64) is the unmodified part of S. The bounds on m keep every 2**b
      below 2**100 (no overflow) and the top token far above float32's underflow.
    * shifted: b = (x - c) * k, c = float32(m). b is within log2(e) (3.01u(|z| + eta) + eta)
      of z log2(e), eta = |c - m| / T, so 2**b is within 3.01u(|z| + eta) + eta of exp(z).

    numpy's float32 exp2 is within 1.8u (measured; we allow 16u). Summing e|z| over the row is
    at most Z0 * S + V * Z0 * exp(-Z0) for any Z0 >= 1 (e^-z z decreases for z >= 1); with
    Z0 = 40 the relative error of the unmodified part is at most 1.01 (2.02u (40 + |m| / T)
    + 16u), or 1.01 (3.01u (40 + eta) + eta + 16u) shifted, plus 64u for the sum: each group of
    64 is summed in float32 (in any order, at most 63u), the group sums in float64. Underflowed
    terms add at most V * 1e-37 (times exp(-m / T) shift-free). The modified ids are summed in
    float64. (Group sums, not one pairwise sum: half the time. subtle: not `ones(64) @ (64, n)`
    either, twice as fast alone but a BLAS call whose threads fight any other busy thread.)
    """
    if not (abs(m) < 1e38 and 1e-37 < 1.0 / T < 1e37):  # e.g. T = 1e-300: 1/T is no float32
        return None
    k = np.float32(_LOG2E / T)
    if -60 <= m * _LOG2E / T <= 100:
        c, scale = None, math.exp(-m / T)
        rel = 1.01 * (2.02 * _EPS32 * (40 + abs(m) / T) + 16 * _EPS32) + 64 * _EPS32
    else:
        c, scale = np.float32(m), 1.0
        eta = abs(float(c) - m) / T
        rel = 1.01 * (3.01 * _EPS32 * (40 + eta) + eta + 16 * _EPS32) + 64 * _EPS32
    if rel > 1e-3:
        return None
    V = x.shape[0]
    n = V // _STRIPES
    with np.errstate(all="ignore"):
        if c is None:
            np.multiply(x, k, out=buf)
        else:
            np.subtract(x, c, out=buf)
            np.multiply(buf, k, out=buf)
        if M.size:
            buf[M] = -np.inf                                # summed exactly below
        np.exp2(buf, out=buf)
        columns = np.add.reduce(buf[:n * _STRIPES].reshape(_STRIPES, n), axis=0)   # (n,) group sums
        s_u = scale * (float(columns.sum(dtype=np.float64)) + float(buf[n * _STRIPES:].sum(dtype=np.float64)))
        s_m = float(np.sum(np.exp((yM - m) / T))) if M.size else 0.0
    if not math.isfinite(s_u + s_m):
        return None
    absolute = V * (1e-37 * scale + 40 * math.exp(-40) * 4 * _EPS32)
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


def _crossings(R, I, Z, E, S_lo, S_hi, top_p: float, out):
    """`_crossing` then `_write_sparse`, for many rows at once.

    R, I, Z, E: the candidates (row, id, z, e = exp(z)) of the rows to settle, any order;
    S_lo, S_hi: (B,) bounds on each row's S; out: the (B, V) output, all -inf. Each row's
    verdict is exactly `_crossing(sorted e descending, 0.0, 0, S_lo, S_hi, top_p)`; certified
    rows are written. Returns status (B,): 1 written, 0 "more", -1 "doubt".

    One sort orders every row's candidates by e descending, then id: the reference's order, so
    a row's first k + 1 candidates are its kept set. The running sums come from one cumsum
    along the rows of a zero-padded (B, L) table: sequential per row, the same floats as
    `_crossing`'s np.cumsum.
    """
    B = S_lo.size
    order = np.lexsort((I, -E, R))
    R, I, Z, E = R[order], I[order], Z[order], E[order]
    n = np.bincount(R, minlength=B)                        # (B,) candidates per row
    pos = np.arange(R.size) - (np.cumsum(n) - n)[R]        # rank within the row
    L = max(int(n.max(initial=0)), 1)
    v = np.zeros((B, L))
    v[R, pos] = E                                          # (B, L) e descending, 0-padded
    cs = np.cumsum(v, axis=1)
    cs[np.arange(L) >= n[:, None]] = np.inf                # padding: never below a target
    tol = (n + 32) * _EPS
    k_hi = (cs < (top_p * S_lo / (1 + tol) * (1 - 1e-15))[:, None]).sum(axis=1)
    k_lo = (cs < (top_p * S_hi / (1 - tol) * (1 + 1e-15))[:, None]).sum(axis=1)
    rows, k = np.arange(B), np.minimum(k_lo, L - 1)
    ec = v[rows, k]                                        # the crossing value
    i0 = (v > ec[:, None]).sum(axis=1)                     # v[i0:i1] == ec
    i1 = (v >= ec[:, None]).sum(axis=1)
    above = v[rows, np.maximum(i0 - 1, 0)]
    below = v[rows, np.minimum(i1, L - 1)]
    status = np.select(
        [k_lo >= n, k_hi != k_lo,
         ~(ec > 0) | ((i0 > 0) & ~(above > ec * (1 + 8 * _EPS))),
         i1 >= n, ~(below < ec * (1 - 8 * _EPS))],
        [0, -1, -1, 0, -1], default=1)
    log_cum = np.array([math.log(c) if s == 1 else 0.0 for c, s in zip(cs[rows, k].tolist(), status)])
    kept = (status[R] == 1) & (pos <= k[R])
    out[R[kept], I[kept]] = Z[kept] - log_cum[R[kept]]
    return status


# -- exact rows -----------------------------------------------------------------------------------

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


# -- the two ways to a row ------------------------------------------------------------------------

def _write_sparse(ids, zc, ec, v, k: int, cum: float, out) -> None:
    """Write a certified crossing: out (already all -inf) gets zc - log(cum) at the kept ids.
    Kept: every candidate with e > v[k], plus the lowest ids among those with e == v[k] (ties
    are by value, then id, like the reference)."""
    sel = ec > v[k]
    tied = np.flatnonzero(ec == v[k])
    n_greater = int(np.count_nonzero(sel))
    sel[tied[np.argsort(ids[tied])][:k + 1 - n_greater]] = True   # lowest ids first
    out[ids[sel]] = zc[sel] - math.log(cum)


def _sparse_row(x, g, M, yM, m, T, top_p, bounds, thresholds, out):
    """Write the row from a small candidate set {y >= t} if the bounds certify it, trying each
    threshold t in turn, and return that set's ids (they hold every kept id); None if no
    threshold is certified. `out` must already be all -inf."""
    limit = max(x.shape[0] // 16, 4096)
    for t in thresholds:
        ids = _unmodified_at_least(x, g, M, t)
        y = x[ids].astype(np.float64)
        if M.size:
            sel = yM >= t
            ids, y = np.concatenate([ids, M[sel]]), np.concatenate([y, yM[sel]])
        if ids.size > limit:
            return None
        with np.errstate(over="ignore"):
            zc = (y - m) / T                                         # (n,) exact, as the reference
        ec = np.exp(zc)
        v = np.sort(ec)[::-1]
        k, cum = _crossing(v, 0.0, 0, bounds[0], bounds[1], top_p)
        if k == "doubt":
            return None
        if k != "more":
            _write_sparse(ids, zc, ec, v, k, cum, out)
            return ids
    return None


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
