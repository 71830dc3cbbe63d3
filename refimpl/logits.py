"""Logit-processing steps, one plain function each.

Each step takes scores of shape (V,) or (B, V) and returns a new array of the same shape; none
changes its input. `-inf` is the one marker of a removed token, and every step leaves removed
tokens removed. Arithmetic is done in float64; the result is cast back to the input's dtype
(float16/32/64; anything else, e.g. ints, comes back as float64).

The steps accept the *research* range of their parameter (any finite penalty, any temperature
>= 0, ...). The API's narrower ranges are enforced one level up, by `refimpl.sampling.
process_logits`, with the checks in `refimpl.params`.

    apply_logit_bias   mu[j] += bias[j]
    apply_penalties    mu[j] -= c[j] * frequency_penalty + float(c[j] > 0) * presence_penalty
    apply_temperature  mu / T   (T = 0: greedy, only the first argmax survives)
    apply_top_p        keep the smallest most-probable set whose mass reaches top_p
    apply_top_k        keep the k most probable tokens
    apply_min_p        keep tokens with p >= min_p * max(p)
    log_softmax        renormalise: mu - max - log(sum(exp(mu - max)))

Ties are always broken by the lower token id, so every result is a pure function of the input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "apply_logit_bias",
    "token_counts",
    "apply_penalties",
    "apply_temperature",
    "apply_top_p",
    "apply_top_k",
    "apply_min_p",
    "log_softmax",
    "softmax",
]

_KEPT_DTYPES = (np.float16, np.float32, np.float64)


# -- shape and dtype plumbing ------------------------------------------------------------------

def _to_batch(scores):
    """Return (x, squeeze, dtype): a fresh float64 (B, V) copy, whether the input was (V,),
    and the dtype to hand back."""
    a = np.asarray(scores)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError(f"scores must have shape (V,) or (B, V) with V >= 1, got shape {a.shape}; "
                         f"pass one row of vocabulary scores per sequence")
    dtype = a.dtype.type if a.dtype.type in _KEPT_DTYPES else np.float64
    x = np.array(a, dtype=np.float64, copy=True)  # copy: never alias (or mutate) the caller's array
    squeeze = x.ndim == 1
    return (x[None, :] if squeeze else x), squeeze, dtype


def _from_batch(x, squeeze, dtype):
    x = x[0] if squeeze else x
    return x.astype(dtype, copy=False)


def _history(output_token_ids, batch: int, squeeze: bool, vocab_size: int) -> list[list[int]]:
    """Normalise the generated-token history to one list of ids per row, checking the ids."""
    return [ids.tolist() for ids in _history_arrays(output_token_ids, batch, squeeze, vocab_size)]


def _history_arrays(output_token_ids, batch: int, squeeze: bool, vocab_size: int):
    """The generated-token history as one int64 array of ids per row, checked (no Python loop over
    the ids); `_history` gives the same as lists."""
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


# -- 1. logit bias -----------------------------------------------------------------------------

def _logit_bias(x, logit_bias: Mapping[int, float]):
    out = x.copy()  # (B, V)
    for token, bias in logit_bias.items():
        out[:, int(token)] += float(bias)
    return out


def apply_logit_bias(scores, logit_bias):
    """Add `logit_bias[j]` to the score of each listed token id j, on every row.

    `logit_bias`: {token id (int or decimal str): bias}; the API allows biases in [-100, 100]
    (-100 effectively bans a token, 100 effectively forces it). Raises ValueError for ids
    outside the vocabulary.

    >>> apply_logit_bias(np.zeros(3), {"2": 5.0})
    array([0., 0., 5.])
    """
    x, squeeze, dtype = _to_batch(scores)
    bias = {}
    for token, b in (logit_bias or {}).items():
        t = int(token)
        if not 0 <= t < x.shape[1]:
            raise ValueError(f"logit_bias key must be a token id in [0, {x.shape[1] - 1}], got "
                             f"{token!r}; use ids from the same vocabulary as the logits")
        bias[t] = float(b)
    return _from_batch(_logit_bias(x, bias), squeeze, dtype)


# -- 2. frequency and presence penalties -------------------------------------------------------

def token_counts(output_token_ids: Sequence[Sequence[int]], vocab_size: int):
    """c[b, j] = how many times token j occurs in output_token_ids[b]. Shape (B, V), int64.

    >>> token_counts([[2, 0, 2]], vocab_size=4)
    array([[1, 0, 2, 0]])
    """
    batch = len(output_token_ids)
    rows = [np.full(len(s), b, dtype=np.int64) for b, s in enumerate(output_token_ids)]
    cols = [np.asarray(s, dtype=np.int64).reshape(-1) for s in output_token_ids]
    flat = (np.concatenate(rows + [np.zeros(0, np.int64)]) * vocab_size
            + np.concatenate(cols + [np.zeros(0, np.int64)]))
    return np.bincount(flat, minlength=batch * vocab_size).reshape(batch, vocab_size)


def _penalties(x, counts, frequency_penalty: float, presence_penalty: float):
    # The guide's formula, term by term, in this order (the slow reference does the same
    # float operations, so both give bit-identical results):
    #   mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence
    return x - counts * frequency_penalty - (counts > 0) * presence_penalty  # (B, V)


def apply_penalties(scores, output_token_ids=(), *, frequency_penalty=0.0, presence_penalty=0.0):
    """OpenAI's frequency and presence penalties.

    mu[j] -> mu[j] - c[j] * frequency_penalty - float(c[j] > 0) * presence_penalty, with c[j]
    the number of times token j was *generated* before this position (the prompt does not
    count). `output_token_ids`: one sequence of ids for (V,) scores, one per row for (B, V).
    The API allows penalties in [-2, 2]; this step accepts any finite value. Raises ValueError
    for ids outside the vocabulary or a history whose length does not match the batch.

    >>> apply_penalties(np.zeros(3), [2, 2], frequency_penalty=0.5, presence_penalty=1.0)
    array([ 0.,  0., -2.])
    """
    x, squeeze, dtype = _to_batch(scores)
    hist = _history(output_token_ids, x.shape[0], squeeze, x.shape[1])
    out = _penalties(x, token_counts(hist, x.shape[1]), float(frequency_penalty), float(presence_penalty))
    return _from_batch(out, squeeze, dtype)


# -- 3. temperature ----------------------------------------------------------------------------

def _temperature(x, temperature: float):
    if temperature == 0:
        # Greedy: only the highest score survives; np.argmax returns the first maximum, so ties
        # go to the lowest token id.
        best = np.argmax(x, axis=1)  # (B,)
        out = np.full_like(x, -np.inf)
        out[np.arange(x.shape[0]), best] = 0.0
        return out
    # subtle: we subtract the row max *before* dividing. The distribution is unchanged
    # (softmax is shift-invariant) but (x - max) / T cannot overflow to inf for tiny T, where
    # x / T could (1e3 / 1e-306 = inf).
    m = np.max(x, axis=1, keepdims=True)  # (B, 1), finite: every row has a finite score
    with np.errstate(over="ignore"):
        # A gap so large that (x - m) / T overflows becomes -inf: its probability is 0 anyway.
        return (x - m) / temperature


def apply_temperature(scores, temperature):
    """Divide the scores by `temperature` (T > 0), after shifting each row so its max is 0.

    T = 0 means greedy decoding: the result is 0 for the highest-scoring token (the lowest id
    on ties) and -inf elsewhere. T < 1 sharpens the distribution, T > 1 flattens it. The API
    allows [0, 2]; this step accepts any T >= 0. Raises ValueError for negative T.

    >>> apply_temperature(np.log([0.25, 0.75]), 0.5).round(4)
    array([-2.1972,  0.    ])
    >>> apply_temperature(np.array([1.0, 3.0, 3.0]), 0)
    array([-inf,   0., -inf])
    """
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}; use 0 for greedy decoding")
    x, squeeze, dtype = _to_batch(scores)
    return _from_batch(_temperature(x, float(temperature)), squeeze, dtype)


# -- 4. truncation: top_p (and the top_k / min_p extensions) ------------------------------------

def _softmax_row(z):
    """Probabilities of one row (V,), max subtracted; -inf -> exactly 0."""
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def _by_probability(p, ids):
    """`ids` sorted by decreasing probability, ties by lower id."""
    return ids[np.lexsort((ids, -p[ids]))]


def _top_p_keep_row(z, top_p: float, min_keep: int):
    """Boolean (V,) mask of the nucleus of one row.

    Walk the tokens from most to least probable (ties: lower id first), summing p; stop at the
    first token where the running sum reaches top_p and keep everything walked so far,
    including that crossing token (and at least `min_keep` tokens). If rounding keeps the sum
    from ever reaching top_p, every token is kept.

    To avoid sorting the whole vocabulary when the nucleus is small, we only sort a candidate
    set: all tokens with p >= the k-th largest p, found with np.argpartition in O(V). Taking
    *all* tokens tied at that value makes the candidates exactly a prefix of the full sorted
    order, so their running sum is the same one a full sort would give. If the nucleus is not
    complete inside the candidates, k grows fourfold and we try again.
    """
    V = z.shape[0]
    finite = np.isfinite(z)
    if top_p >= 1:
        return finite
    p = _softmax_row(z)  # (V,)
    k = min(V, max(64, min_keep))
    while True:
        if k < V:
            kth = p[np.argpartition(-p, k - 1)[k - 1]]  # the k-th largest probability
            cand = np.flatnonzero(p >= kth)              # >= k ids, a prefix of the order
        else:
            cand = np.arange(V)
        order = _by_probability(p, cand)
        cum = np.cumsum(p[order])  # sequential sums: same floats as a Python loop
        m = int(np.searchsorted(cum, top_p, side="left"))  # first index with cum >= top_p
        if m < order.size or k >= V:
            n_keep = max(min(m + 1, order.size), min(min_keep, order.size))
            break
        k *= 4
    keep = np.zeros(V, dtype=bool)
    keep[order[:n_keep]] = True
    return keep & finite  # removed tokens stay removed, whatever min_keep says


def apply_top_p(scores, top_p, *, min_tokens_to_keep=1):
    """Nucleus sampling: keep the smallest set of most probable tokens whose total probability
    reaches `top_p`; set the rest to -inf.

    Ties are broken by lower token id; the token whose probability crosses the threshold is
    kept; at least `min_tokens_to_keep` (>= 1) tokens are kept. top_p in [0, 1]; 1 keeps every
    token, 0 keeps only the most probable one. Probabilities are softmax(scores) of each row,
    so apply temperature first if it should affect the nucleus (it does in the API). Raises
    ValueError for top_p outside [0, 1] or min_tokens_to_keep < 1.

    subtle: the running sum is float64 and compared exactly. At an exact threshold (0.5 + 0.3
    with top_p=0.8) rounding of the softmax decides whether the crossing token is 0.3 or the
    next one; transformers' test notes the same fragility. We do not add a tolerance: the rule
    stays a plain comparison anyone can reproduce.

    >>> apply_top_p(np.log([0.1, 0.5, 0.3, 0.1]), 0.75).round(4)
    array([   -inf, -0.6931, -1.204 ,    -inf])
    """
    if not 0 <= top_p <= 1:
        raise ValueError(f"top_p must be in [0, 1], got {top_p!r}; 1 keeps every token")
    if int(min_tokens_to_keep) < 1:
        raise ValueError(f"min_tokens_to_keep must be >= 1, got {min_tokens_to_keep!r}")
    x, squeeze, dtype = _to_batch(scores)
    keep = np.zeros(x.shape, dtype=bool)  # (B, V)
    for b, row in enumerate(x):
        keep[b] = _top_p_keep_row(row, float(top_p), int(min_tokens_to_keep))
    return _from_batch(np.where(keep, x, -np.inf), squeeze, dtype)


def apply_top_k(scores, top_k, *, min_tokens_to_keep=1):
    """Keep the `top_k` highest-scoring tokens of each row (ties: lower id first); -inf the rest.

    top_k >= 0; 0 disables it (keeps everything), as in transformers and llama.cpp. Exactly
    max(top_k, min_tokens_to_keep) tokens survive (fewer if fewer are finite). Note: transformers
    keeps every token tied with the k-th score, so it can keep more than k. Raises ValueError
    for a negative or non-integer top_k.

    >>> apply_top_k(np.array([1.0, 3.0, 2.0, 3.0]), 2)
    array([-inf,   3., -inf,   3.])
    """
    if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}; use 0 to disable it")
    x, squeeze, dtype = _to_batch(scores)
    k = max(int(top_k), int(min_tokens_to_keep))
    if top_k == 0 or k >= x.shape[1]:
        return _from_batch(x, squeeze, dtype)
    out = np.full_like(x, -np.inf)
    for b, row in enumerate(x):
        kth = row[np.argpartition(-row, k - 1)[k - 1]]
        cand = np.flatnonzero(row >= kth)           # all ties at the k-th score
        order = cand[np.lexsort((cand, -row[cand]))][:k]
        out[b, order] = row[order]
    out[~np.isfinite(x)] = -np.inf
    return _from_batch(out, squeeze, dtype)


def apply_min_p(scores, min_p, *, min_tokens_to_keep=1):
    """Keep tokens whose probability is at least `min_p` times the top token's; -inf the rest.

    min_p in [0, 1]; 0 disables it. Computed as exp(score - max) >= min_p, i.e. p_j / p_max >=
    min_p. At least `min_tokens_to_keep` tokens survive (most probable first, ties by lower id).
    Raises ValueError for min_p outside [0, 1].

    >>> apply_min_p(np.log([0.5, 0.3, 0.2]), 0.5).round(4)
    array([-0.6931, -1.204 ,    -inf])
    """
    if not 0 <= min_p <= 1:
        raise ValueError(f"min_p must be in [0, 1], got {min_p!r}; 0 disables it")
    x, squeeze, dtype = _to_batch(scores)
    ratio = np.exp(x - np.max(x, axis=1, keepdims=True))  # (B, V) p_j / p_max
    keep = ratio >= min_p
    if min_tokens_to_keep > 1:
        ids = np.arange(x.shape[1])
        for b in range(x.shape[0]):
            keep[b, _by_probability(ratio[b], ids)[: int(min_tokens_to_keep)]] = True
    keep &= np.isfinite(x)
    return _from_batch(np.where(keep, x, -np.inf), squeeze, dtype)


# -- 5. renormalise ----------------------------------------------------------------------------

def _log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)  # (B, 1)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def log_softmax(scores):
    """Log-probabilities: scores - max - log(sum(exp(scores - max))) per row; -inf stays -inf.

    Raises ValueError for a shape other than (V,) or (B, V).

    >>> np.exp(log_softmax(np.array([0.0, np.log(3.0), -np.inf])))
    array([0.25, 0.75, 0.  ])
    """
    x, squeeze, dtype = _to_batch(scores)
    return _from_batch(_log_softmax(x), squeeze, dtype)


def softmax(scores):
    """Probabilities, the row max subtracted first (so large scores cannot overflow).

    Raises ValueError for a shape other than (V,) or (B, V).

    >>> softmax(np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    """
    x, squeeze, dtype = _to_batch(scores)
    e = np.exp(x - np.max(x, axis=1, keepdims=True))  # (B, V)
    return _from_batch(e / np.sum(e, axis=1, keepdims=True), squeeze, dtype)
