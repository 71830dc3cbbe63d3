"""From a model's logits to the distribution the API samples the next token from.

`process_logits` applies, in this order (the order is part of the contract; the
`system_fingerprint` of `refimpl.seeded` covers it through `PROCESSING_VERSION`):

    1. logit_bias   mu[j] += logit_bias[j]                     (-100..100)
    2. penalties    mu[j] -= c[j] * frequency_penalty          (-2..2 each; c[j] counts the
                             + float(c[j] > 0) * presence_penalty   *generated* tokens only)
    3. temperature  mu /= T                                    (0..2; T = 0 is greedy: the
                                                                highest token, lowest id on ties)
    4. top_p        keep the smallest most-probable set whose mass reaches top_p (0..1; ties by
                    lower id; the crossing token is kept; at least one token)
    5. renormalise  log-softmax with the row max subtracted

Worked micro-example: logits [2, 1, 0], generated so far [0, 0], frequency_penalty=0.5:
token 0 was generated twice, so 2 - 2*0.5 = 1; the scores [1, 1, 0] give probabilities
[0.42, 0.42, 0.16]; with top_p=0.5 the walk keeps token 0 (0.42 < 0.5), then token 1
(0.84 >= 0.5, the crossing token), and renormalises to [0.5, 0.5, 0].

How others order the same steps (they differ, which is why we write ours down):

* vLLM (v1 `Sampler`, vllm/v1/sample/sampler.py docstring): logit bias (with the other
  "non-argmax-invariant" processors) -> repetition/frequency/presence penalties (frequency and
  presence count output tokens only, as here) -> greedy if T == 0 -> temperature -> min_p ->
  top_k/top_p. Same order as ours for the API parameters.
* transformers (`GenerationMixin._get_logits_processor`, generation/utils.py): processors
  (repetition_penalty, CTRL-style and multiplicative, counting prompt *and* generated tokens;
  `sequence_bias` for biases) then warpers temperature -> top_k -> top_p -> min_p -> typical
  -> epsilon/eta. No frequency/presence penalty. `TemperatureLogitsWarper` rejects T = 0
  (greedy is `do_sample=False`). top_p removes tokens whose ascending cumulative mass is
  <= 1 - top_p (equivalent to ours up to rounding at the exact threshold).
* llama.cpp (`common_params_sampling::samplers`, common/common.h; `common_sampler_init`):
  logit_bias first, then penalties -> dry -> top_n_sigma -> top_k -> typical_p -> top_p ->
  min_p -> xtc -> temperature -> dist. So top_p/top_k/min_p see the *untempered*
  distribution, unlike the API. Its penalties count the last `penalty_last_n` tokens
  including the prompt, and add a multiplicative repeat penalty before freq/presence.

NaN or +inf logits raise ValueError; -inf marks a token the caller already excluded.
"""

from __future__ import annotations

import math

import numpy as np

from .logits import (
    _from_batch,
    _history,
    _softmax_row,
    _to_batch,
    _top_p_keep_row,
)
from .params import (
    validate_logit_bias,
    validate_logits,
    validate_penalty,
    validate_temperature,
    validate_top_p,
)

__all__ = ["process_logits", "process_logits_reference", "PROCESSING_VERSION"]

#: Names the steps, their order and their arithmetic. Change it whenever a change to this
#: module could change a processed distribution (and so a seeded draw).
#: v2: the fast path renormalises with the sum of the kept tokens' exp in decreasing order
#: (v1 summed the whole row); kept sets are unchanged, values may differ in the last bit.
PROCESSING_VERSION = "logit_bias>penalties>temperature>top_p>log_softmax;float64;v2"


def _validated(logits, temperature, top_p, frequency_penalty, presence_penalty, logit_bias,
               vocab_size=None):
    if logits is not None:  # the fast path checks the logits itself (see process_logits)
        validate_logits(logits)
        vocab_size = np.asarray(logits).shape[-1]
    return (
        validate_temperature(temperature),
        validate_top_p(top_p),
        validate_penalty("frequency_penalty", frequency_penalty),
        validate_penalty("presence_penalty", presence_penalty),
        validate_logit_bias(logit_bias, vocab_size),
    )


def process_logits(logits, output_token_ids=(), *, temperature=1.0, top_p=1.0,
                   frequency_penalty=0.0, presence_penalty=0.0, logit_bias=None):
    """Log-probabilities of the distribution the API draws the next token from.

    logits: (V,) for one sequence, with `output_token_ids` the ids generated so far; or (B, V)
    with `output_token_ids` a list of B such sequences (or () for none). Parameters and ranges
    as in the API: temperature 0..2 (0 = greedy), top_p 0..1, penalties -2..2, logit_bias
    {token id: -100..100}. Returns a new array of the input's shape and float dtype (float32
    in, float32 out; ints come back float64): log-probabilities summing to 1 per row, -inf for
    excluded tokens. The input is never modified.

    Raises `refimpl.params.InvalidParameterError` (a ValueError) for a parameter outside its
    range and ValueError for NaN/+inf logits, an all -inf row, or out-of-vocabulary ids.

    >>> out = process_logits(np.array([2.0, 1.0, 0.0]), [0, 0], frequency_penalty=0.5, top_p=0.5)
    >>> np.exp(out)
    array([0.5, 0.5, 0. ])
    >>> process_logits(np.array([1.0, 3.0, 3.0], dtype=np.float32), temperature=0)
    array([-inf,   0., -inf], dtype=float32)
    """
    a = np.asarray(logits)
    if a.dtype.kind != "f" or a.ndim not in (1, 2) or a.shape[-1] == 0:
        validate_logits(a)                                  # raises for a bad shape or dtype
    x = a[None, :] if a.ndim == 1 else a                    # (B, V), a view: never written
    dtype = a.dtype.type if a.dtype.type in (np.float16, np.float32, np.float64) else np.float64
    if x.dtype not in (np.float32, np.float64) or dtype == np.float16:
        x = x.astype(np.float64)                            # ints, float16: exact in float64
    try:
        temperature, top_p, fp, pp, bias = _validated(
            None, temperature, top_p, frequency_penalty, presence_penalty, logit_bias,
            vocab_size=x.shape[1])
        hist = _history_arrays(output_token_ids, x.shape[0], a.ndim == 1, x.shape[1])
    except ValueError:
        validate_logits(a)  # the reference checks the logits first: same error, same precedence
        raise
    out = _process_fast(x, hist, temperature, top_p, fp, pp, bias, lambda: validate_logits(a))
    out = out[0] if a.ndim == 1 else out
    return out.astype(dtype, copy=False)


def process_logits_reference(logits, output_token_ids=(), *, temperature=1.0, top_p=1.0,
                             frequency_penalty=0.0, presence_penalty=0.0, logit_bias=None):
    """The same function as `process_logits`, written token by token in plain Python.

    Slow (O(V log V) per row with Python objects); it exists to be read and to hold the
    vectorised version to account in the tests. Same arguments, result, and errors.

    >>> out = process_logits_reference([2.0, 1.0, 0.0], [0, 0], frequency_penalty=0.5, top_p=0.5)
    >>> np.exp(out)
    array([0.5, 0.5, 0. ])
    """
    temperature, top_p, fp, pp, bias = _validated(
        logits, temperature, top_p, frequency_penalty, presence_penalty, logit_bias)
    x, squeeze, dtype = _to_batch(logits)
    V = x.shape[1]
    hist = _history(output_token_ids, x.shape[0], squeeze, V)
    out_rows = []
    for b in range(x.shape[0]):
        mu = [float(v) for v in x[b]]

        # 1. logit bias
        for token, bias_j in bias.items():
            mu[token] = mu[token] + bias_j

        # 2. penalties: count the generated tokens, then the guide's formula term by term
        counts = {}
        for token in hist[b]:
            counts[token] = counts.get(token, 0) + 1
        for j, c in counts.items():
            mu[j] = mu[j] - c * fp - float(c > 0) * pp

        # 3. temperature (greedy: first maximum wins)
        top = max(mu)
        if temperature == 0:
            best = mu.index(top)
            z = [0.0 if j == best else -math.inf for j in range(V)]
        else:
            z = [(v - top) / temperature for v in mu]

        # 4. top_p: walk tokens by decreasing probability (ties: lower id), keep until the
        # running total reaches top_p. Probabilities come from the same softmax primitive as
        # the fast path so that both compare identical floats with top_p.
        p = _softmax_row(np.array(z))
        kept = set()
        if top_p >= 1:
            kept = {j for j in range(V) if z[j] > -math.inf}
        else:
            total = 0.0
            for j in sorted(range(V), key=lambda j: (-p[j], j)):
                if z[j] == -math.inf:
                    break
                kept.add(j)
                total += float(p[j])
                if total >= top_p:
                    break

        # 5. log-softmax over the kept tokens
        m = max(z[j] for j in kept)
        log_total = m + math.log(math.fsum(math.exp(z[j] - m) for j in kept))
        out_rows.append([z[j] - log_total if j in kept else -math.inf for j in range(V)])
    return _from_batch(np.array(out_rows, dtype=np.float64).reshape(x.shape), squeeze, dtype)


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


def _history_arrays(output_token_ids, batch: int, squeeze: bool, vocab_size: int):
    """`logits._history` with one int64 array per row and no Python loop over the ids."""
    if output_token_ids is None:
        output_token_ids = ()
    seqs = [output_token_ids] if squeeze else list(output_token_ids)
    if not squeeze and len(seqs) == 0:
        seqs = [()] * batch
    if len(seqs) != batch:
        raise ValueError(f"output_token_ids must have one sequence per row, got {len(seqs)} "
                         f"sequences for {batch} rows; pass a list of {batch} lists of token ids")
    out = []
    for row, seq in enumerate(seqs):
        ids = np.asarray(seq, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= vocab_size)
        if bad.any():
            raise ValueError(f"output_token_ids[{row}] must hold token ids in [0, {vocab_size - 1}], "
                             f"got {int(ids[bad][0])}; pass ids from the same vocabulary as the logits")
        out.append(ids)
    return out


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
