"""One decoding step: process the logits, then draw a token per row, in one call.

``sample_step(logits, history, seed=..., **params)`` returns exactly what the two calls give::

    logprobs = process_logits(logits, history, **params)
    tokens = sample(logprobs, seed=seed, choice_index=..., position=...)

(same tokens, same log-probabilities, same errors), with less work. `sample` on its own must
look at every entry of every row to find the tokens that survived top_p, one full read of the
batch; `process_logits` already knows them for every row whose nucleus it settled from a small
candidate set (the "sparse" rows of :mod:`refimpl.sampling_fast`: peaked logits, the common
case with a real model), so the draw of such a row looks at those candidates alone. Other rows
(flat logits, top_p = 1) are drawn exactly as `sample` draws them. ``tests/test_sampling_step.py``
holds the two equal.
"""
from __future__ import annotations

import numpy as np

from .sampling import _process
from .seeded import _draw_ids, _draw_row_fast, _per_row, _row_groups, uniform

__all__ = ["sample_step"]


def sample_step(logits, output_token_ids=(), *, seed, choice_index=0, position=0,
                temperature=1.0, top_p=1.0, frequency_penalty=0.0, presence_penalty=0.0,
                logit_bias=None):
    """(tokens, logprobs) for one decoding step: `process_logits`, then `sample`.

    logits, output_token_ids and the processing parameters are those of
    `refimpl.sampling.process_logits`; seed, choice_index and position those of
    `refimpl.seeded.sample`. Returns (an int, the (V,) log-probabilities) for (V,) logits and
    (an int64 array (B,), the (B, V) log-probabilities) for (B, V). Raises what the two calls
    would raise, in the same order.

    >>> lp = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    >>> token, logprobs = sample_step(lp, seed=0, top_p=0.5)
    >>> token, np.exp(logprobs).round(3).tolist()
    (3, [0.0, 0.0, 0.429, 0.571])
    """
    kept: dict[int, np.ndarray] = {}
    out = _process(logits, output_token_ids, temperature, top_p, frequency_penalty,
                   presence_penalty, logit_bias, kept)
    rows = out[None, :] if out.ndim == 1 else out                   # (B, V)
    B = rows.shape[0]
    seeds, choices, positions = _per_row(seed, choice_index, position, B, out.ndim == 1)
    us = [uniform(seeds[b], choices[b], positions[b]) for b in range(B)]
    tokens = np.empty(B, dtype=np.int64)
    for b in range(B):
        ids = kept.get(b)
        if ids is not None:   # every finite entry of the row is among these ids
            tokens[b] = _draw_ids(rows[b], np.unique(ids), us[b])
        else:  # (no check for a row without a finite entry: process_logits keeps one)
            tokens[b] = _draw_row_fast(rows[b], _row_groups(rows[b:b + 1])[0], us[b])
    return (int(tokens[0]), out) if out.ndim == 1 else (tokens, out)
