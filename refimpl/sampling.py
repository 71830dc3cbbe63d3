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
    _history_arrays,
    _softmax_row,
    _to_batch,
)
from .params import (
    validate_logit_bias,
    validate_logits,
    validate_penalty,
    validate_temperature,
    validate_top_p,
)

from .sampling_fast import _process_fast

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
    return _process(logits, output_token_ids, temperature, top_p, frequency_penalty,
                    presence_penalty, logit_bias)


def _process(logits, output_token_ids, temperature, top_p, frequency_penalty, presence_penalty,
             logit_bias, kept=None):
    """`process_logits`; if `kept` is a dict, it also receives, for some rows b (of the (B, V)
    view), an int64 array of ids that holds every id row b keeps (see
    refimpl.sampling_fast._process_fast): refimpl.sampling_step draws from those alone."""
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
    out = _process_fast(x, hist, temperature, top_p, fp, pp, bias, lambda: validate_logits(a),
                        kept)
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
