"""Seed-stable sampling: the token drawn depends only on (seed, choice_index, position) and the
distribution.

The algorithm (version `SAMPLER_VERSION`), for one row of log-probabilities lp (V,):

    1. key   = b"refimpl-sample-v1\\x00" + seed (8 bytes, big-endian, signed)
                                         + choice_index (8 bytes, big-endian, unsigned)
                                         + position (8 bytes, big-endian, unsigned)
    2. u     = (first 8 bytes of SHA-256(key), as a big-endian integer >> 11) / 2**53
               -> a uniform float64 in [0, 1) with 53 random bits
    3. p     = exp(lp - max(lp))               (float64; -inf -> exactly 0)
       cdf   = running sum of p in token-id order (sequential, left to right)
    4. token = the first id j with cdf[j] > u * cdf[V-1]

Step 4 is the inverse CDF: token j is drawn for u in [cdf[j-1], cdf[j]) / cdf[V-1], an interval
of length p_j / sum(p), so the draw is exact up to float64 rounding. A token with p = 0 has an
empty interval and is never drawn.

Why a hash and not a stateful generator: SHA-256 is a counter-based generator keyed on the three
numbers, so each draw is a pure function. Nothing depends on how many draws happened before,
on the batch size, on the row order or on other rows, and hashlib gives the same bytes on every
machine and Python version. (numpy's `Philox` would also do; its raw stream is stable, but the
float conversion of `Generator.random` is not promised across numpy versions.)

What is *not* covered: rounding in exp/cumsum can differ between platforms by an ulp, which
moves a draw only when u lands within ~1e-16 of a CDF boundary.

`system_fingerprint(...)` hashes everything that determines draws: `SAMPLER_VERSION`, the
logit-processing order and arithmetic (`refimpl.sampling.PROCESSING_VERSION`) and whatever
identifies the model (passed in by the caller).
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

from .params import InvalidParameterError, validate_logits, validate_seed
from .sampling import PROCESSING_VERSION
from .sampling_fast import _STRIPES, _group_ids

__all__ = ["SAMPLER_VERSION", "uniform", "sample", "sample_reference", "system_fingerprint"]

SAMPLER_VERSION = "refimpl-sample-v1"
_PREFIX = SAMPLER_VERSION.encode("ascii") + b"\x00"


def _index(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**64:
        raise InvalidParameterError(
            f"`{name}` must be an integer in [0, 2**64), got {value!r}; pass a non-negative int", name)
    return int(value)


def uniform(seed: int, choice_index: int = 0, position: int = 0) -> float:
    """The uniform number in [0, 1) for (seed, choice_index, position): steps 1-2 above.

    seed: signed 64-bit integer; choice_index, position: integers in [0, 2**64). Raises
    InvalidParameterError otherwise.

    >>> uniform(0)
    0.9603701663486476
    >>> uniform(0) == uniform(0, 0, 0) != uniform(0, 0, 1)
    True
    """
    key = (_PREFIX + validate_seed(seed).to_bytes(8, "big", signed=True)
           + _index("choice_index", choice_index).to_bytes(8, "big")
           + _index("position", position).to_bytes(8, "big"))
    return (int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 11) / 2.0**53


def _draw_row(lp, u: float) -> int:
    p = np.exp(lp - np.max(lp))  # (V,) unnormalised probabilities
    cdf = np.cumsum(p)           # (V,) sequential sums, token-id order
    j = int(np.searchsorted(cdf, u * cdf[-1], side="right"))  # first j with cdf[j] > u * total
    # subtle: u * total may round up to total itself; then fall back to the last token that
    # has any probability (never a removed one).
    return j if j < lp.shape[0] else int(np.flatnonzero(p > 0)[-1])


# -- the fast path of `sample` ------------------------------------------------------------------
#
# `_draw_row` converts the whole row to float64, exponentiates it and runs a sequential cumsum
# over all V tokens. The same token comes out of less work:
#
# * sparse rows (process_logits after a small top_p: a few finite tokens): the group maxima
#   (see refimpl.sampling) find the finite tokens; exp and cumsum run over those alone, in id
#   order. Removed tokens add exactly 0.0 to the reference's cumsum, so its values at the
#   finite ids are the very same floats, and so is the drawn token.
# * dense rows: exp over the row, then block sums (pairwise, fast) locate the block where the
#   CDF crosses u * total; a sequential cumsum of that block alone finds the token. The
#   reference's sequential sums differ from ours by at most ~V * 2**-52 of the total, so the
#   token is certain unless u * total falls that close to a CDF step; then (about once in
#   10**5 draws on flat rows) the reference's full cumsum decides.

_BLOCK = 2048


def _row_groups(rows):
    """(B, V) -> (B, G) group maxima (the groups of `refimpl.sampling_fast._group_ids`)."""
    B, V = rows.shape
    n = V // _STRIPES
    head = rows[:, :n * _STRIPES].reshape(B, _STRIPES, n).max(axis=1)
    return np.concatenate([head, rows[:, n * _STRIPES:]], axis=1)


def _draw_ids(row, ids, u: float) -> int:
    """The token `_draw_row(row.astype(float64), u)` draws, given ids (ascending) that hold
    every finite entry of the row: exp and cumsum run over those alone (see above)."""
    vals = row[ids]
    finite = vals > -np.inf
    ids, vals = ids[finite], vals[finite]
    top = np.float64(vals.max())                # subtle: float64, so float32 rows promote
    p = np.exp(vals - top)                      # (n,) float64, as in the reference
    cdf = np.cumsum(p)
    j = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    return int(ids[j]) if j < ids.size else int(ids[np.flatnonzero(p > 0)[-1]])


def _draw_row_fast(row, g, u: float) -> int:
    """The token `_draw_row(row.astype(float64), u)` draws, with less work (see above)."""
    V = row.shape[0]
    groups = np.flatnonzero(g > -np.inf)
    if groups.size * _STRIPES <= V // 8:        # sparse: exp and cumsum over finite ids only
        return _draw_ids(row, np.sort(_group_ids(groups, V)), u)
    top = np.float64(g.max())                   # subtle: float64, so float32 rows promote
    p = np.subtract(row, top, dtype=np.float64)  # (V,)
    # subtle: numpy's exp is ~3x slower on vectors holding -inf or underflowing inputs. Clipping
    # at -700 makes removed tokens exp(-700) ~ 1e-304 instead of 0: below half an ulp of any
    # CDF value past the first real token, so it can only matter when u * total < 1e-280,
    # i.e. u == 0, which takes the exact path below.
    np.maximum(p, -700.0, out=p)
    np.exp(p, out=p)
    n = V // _BLOCK
    sums = np.append(p[:n * _BLOCK].reshape(n, _BLOCK).sum(axis=1), p[n * _BLOCK:].sum())
    ends = np.cumsum(sums)                      # ~ the CDF at each block's end
    total = float(ends[-1])
    tol = 4 * (V + 64) * 2.0**-52 * total       # |ours - reference| on any CDF value, and on t
    t = u * total
    q = int(np.searchsorted(ends, t, side="right"))
    if q < ends.size and u > 0:
        start = q * _BLOCK
        base = float(ends[q - 1]) if q else 0.0
        local = np.cumsum(p[start:start + _BLOCK]) + base
        j = int(np.searchsorted(local, t, side="right"))
        before = float(local[j - 1]) if j else base
        if j < local.size and local[j] > t + 2 * tol and before < t - 2 * tol:
            return start + j
    return _draw_row(row.astype(np.float64), u)  # doubt: the reference's own arithmetic


def _per_row(seed, choice_index, position, B: int, single: bool):
    """(seeds, choice indexes, positions), one of each per row: scalars are broadcast; a
    sequence must have one entry per row of a (B, V) input."""
    def per_row(name, value):
        if isinstance(value, (numbers.Integral, bool)) or np.ndim(value) == 0:
            return [value] * B
        values = list(value)
        if len(values) != B or single:
            raise InvalidParameterError(
                f"`{name}` must be a scalar or have one entry per row, got {len(values)} entries "
                f"for {B} row(s); pass a scalar or a list of length {B}", name)
        return values

    return per_row("seed", seed), per_row("choice_index", choice_index), per_row("position", position)


def sample(logprobs, *, seed, choice_index=0, position=0):
    """Draw one token id per row from log-probabilities, reproducibly.

    logprobs: (V,) or (B, V) log-probabilities (e.g. from `process_logits`; they need not be
    normalised, only exp(logprobs) proportional to the distribution; -inf = excluded).
    seed, choice_index, position: ints, or for (B, V) sequences of length B (scalars are
    broadcast to every row). Returns an int for (V,) and an int64 array (B,) for (B, V).

    Raises ValueError for NaN/+inf or an all -inf row, InvalidParameterError for a bad seed,
    index, or per-row sequence of the wrong length.

    >>> lp = np.log([0.1, 0.2, 0.3, 0.4])
    >>> sample(lp, seed=0)
    3
    >>> sample(np.stack([lp, lp]), seed=[0, 4])
    array([3, 1])
    """
    a = np.asarray(logprobs)
    if a.dtype.kind != "f" or a.ndim not in (1, 2) or a.shape[-1] == 0:
        validate_logits(a, "logprobs")
        a = a.astype(np.float64)
    rows = a[None, :] if a.ndim == 1 else a  # (B, V), never written
    B = rows.shape[0]

    seeds, choices, positions = _per_row(seed, choice_index, position, B, a.ndim == 1)
    groups = _row_groups(rows)                                      # (B, G)
    if B and not np.isfinite(groups.max(axis=1)).all():             # NaN, +inf or all -inf
        validate_logits(a, "logprobs")
    us = [uniform(seeds[b], choices[b], positions[b]) for b in range(B)]
    tokens = np.array([_draw_row_fast(rows[b], groups[b], us[b]) for b in range(B)],
                      dtype=np.int64)  # (B,)
    return int(tokens[0]) if a.ndim == 1 else tokens


def sample_reference(logprobs, *, seed, choice_index=0, position=0):
    """`sample`, one row at a time with `_draw_row`: the readable version of steps 3-4 that the
    tests hold `sample` equal to. Same arguments, result and errors (see `sample`).

    >>> lp = np.log([0.1, 0.2, 0.3, 0.4])
    >>> sample_reference(lp, seed=0)
    3
    """
    validate_logits(logprobs, "logprobs")
    a = np.asarray(logprobs, dtype=np.float64)
    rows = a[None, :] if a.ndim == 1 else a  # (B, V)
    B = rows.shape[0]

    seeds, choices, positions = _per_row(seed, choice_index, position, B, a.ndim == 1)
    tokens = np.array([_draw_row(rows[b], uniform(seeds[b], choices[b], positions[b]))
                       for b in range(B)], dtype=np.int64)  # (B,)
    return int(tokens[0]) if a.ndim == 1 else tokens


def system_fingerprint(*model_identity: str) -> str:
    """A fingerprint of everything that determines the tokens drawn for a given request.

    Hashes `SAMPLER_VERSION`, `PROCESSING_VERSION` and the strings passed in, which should
    identify the model (its name, a hash of its weights or tables, its encoding). Same inputs,
    same fingerprint; if it changes, seeded outputs may change. Format: "fp_" + 10 hex digits,
    like the API's.

    >>> system_fingerprint("ngram-demo") == system_fingerprint("ngram-demo")
    True
    >>> system_fingerprint("ngram-demo").startswith("fp_")
    True
    """
    parts = [SAMPLER_VERSION, PROCESSING_VERSION, *[str(x) for x in model_identity]]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return "fp_" + digest[:10]
