"""Request-parameter checks with the API's ranges and API-like error messages.

Every check raises `InvalidParameterError` (a `ValueError`) whose message has one shape:
what was wrong, the value received, what is allowed, and the fix. The `param` attribute names
the request field, like the `param` field of the API's error object.

Ranges (OpenAI Chat Completions / legacy Completions reference):

    temperature        0..2        top_p            0..1
    frequency_penalty -2..2        presence_penalty -2..2
    logit_bias      -100..100, keys are token ids in the vocabulary
    top_logprobs       0..20       logprobs (legacy) 0..5
    n                  1..128      best_of (legacy) 1..20 and >= n
    stop           a string or a list of at most 4 non-empty strings
    max_tokens         >= 1

Logits are checked too (`validate_logits`): NaN or +inf is an error (they would turn every
probability into NaN); -inf is allowed and means "this token is already excluded", the one
marker of a removed token in this package; a row with no finite logit is an error.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "InvalidParameterError",
    "validate_temperature",
    "validate_top_p",
    "validate_penalty",
    "validate_logit_bias",
    "validate_top_logprobs",
    "validate_logprobs",
    "validate_n",
    "validate_best_of",
    "validate_stop",
    "validate_max_tokens",
    "validate_seed",
    "validate_logits",
]


class InvalidParameterError(ValueError):
    """A request parameter is outside what the API accepts. `param` names the field."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def _number(name: str, value) -> float:
    # bool is an int subclass in Python; the API rejects true/false for numeric fields.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(
            f"`{name}` must be a number, got {value!r} of type {type(value).__name__}; "
            f"pass an int or a float",
            name,
        )
    return float(value)


def _integer(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(
            f"`{name}` must be an integer, got {value!r} of type {type(value).__name__}; "
            f"pass a whole number",
            name,
        )
    return int(value)


def _in_range(name: str, value: float, lo: float, hi: float, fix: str, received=None) -> None:
    # Written so that NaN fails (every comparison with NaN is False). `received` is what the
    # caller passed, shown as given (3, not 3.0).
    if not (lo <= value <= hi):
        shown = value if received is None else received
        raise InvalidParameterError(f"`{name}` must be in [{lo:g}, {hi:g}], got {shown!r}; {fix}", name)


def validate_temperature(temperature) -> float:
    """Check `temperature` (0..2; 0 means greedy) and return it as a float.

    Raises InvalidParameterError outside [0, 2], for NaN, and for non-numbers.

    >>> validate_temperature(0.7)
    0.7
    >>> validate_temperature(2.5)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `temperature` must be in [0, 2], got 2.5; pass a value between 0 (greedy) and 2
    """
    t = _number("temperature", temperature)
    _in_range("temperature", t, 0, 2, "pass a value between 0 (greedy) and 2", temperature)
    return t


def validate_top_p(top_p) -> float:
    """Check `top_p` (nucleus mass, 0..1; 1 disables it) and return it as a float.

    >>> validate_top_p(1)
    1.0
    >>> validate_top_p(-0.1)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `top_p` must be in [0, 1], got -0.1; pass a value between 0 and 1 (1 keeps every token)
    """
    p = _number("top_p", top_p)
    _in_range("top_p", p, 0, 1, "pass a value between 0 and 1 (1 keeps every token)", top_p)
    return p


def validate_penalty(name: str, value) -> float:
    """Check `frequency_penalty` or `presence_penalty` (-2..2) and return it as a float.

    >>> validate_penalty("presence_penalty", 0.5)
    0.5
    >>> validate_penalty("frequency_penalty", 3)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `frequency_penalty` must be in [-2, 2], got 3; pass a value between -2 and 2 (0 disables it)
    """
    v = _number(name, value)
    _in_range(name, v, -2, 2, "pass a value between -2 and 2 (0 disables it)", value)
    return v


def validate_logit_bias(logit_bias, vocab_size: int) -> dict[int, float]:
    """Check `logit_bias` ({token id: bias}) and return it with int keys and float values.

    Keys may be ints or decimal strings (JSON objects have string keys); each must be a token
    id in [0, vocab_size). Values must be in [-100, 100]. None means no bias.

    >>> validate_logit_bias({"50256": -100}, vocab_size=50257)
    {50256: -100.0}
    >>> validate_logit_bias({50257: 5}, vocab_size=50257)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `logit_bias` key must be a token id in [0, 50256], got 50257; use ids from the model's encoding
    """
    if logit_bias is None:
        return {}
    if not isinstance(logit_bias, dict):
        raise InvalidParameterError(
            f"`logit_bias` must be a dict mapping token ids to biases, got {logit_bias!r}; "
            f'pass e.g. {{"50256": -100}}',
            "logit_bias",
        )
    out: dict[int, float] = {}
    for key, bias in logit_bias.items():
        token = key
        if isinstance(key, str):
            try:
                token = int(key, 10)
            except ValueError:
                token = None
        if isinstance(token, bool) or not isinstance(token, numbers.Integral):
            raise InvalidParameterError(
                f"`logit_bias` key must be a token id (an integer or its decimal string), "
                f"got {key!r}; use ids from the model's encoding",
                "logit_bias",
            )
        if not 0 <= token < vocab_size:
            raise InvalidParameterError(
                f"`logit_bias` key must be a token id in [0, {vocab_size - 1}], got {key!r}; "
                f"use ids from the model's encoding",
                "logit_bias",
            )
        b = _number(f"logit_bias[{key!r}]", bias)
        _in_range(f"logit_bias[{key!r}]", b, -100, 100,
                  "pass a bias between -100 (ban the token) and 100 (force it)", bias)
        out[int(token)] = b
    return out


def validate_top_logprobs(top_logprobs) -> int:
    """Check chat `top_logprobs` (0..20) and return it.

    >>> validate_top_logprobs(21)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `top_logprobs` must be in [0, 20], got 21; pass an integer between 0 and 20
    """
    k = _integer("top_logprobs", top_logprobs)
    _in_range("top_logprobs", k, 0, 20, "pass an integer between 0 and 20")
    return k


def validate_logprobs(logprobs) -> int:
    """Check legacy Completions `logprobs` (0..5) and return it.

    >>> validate_logprobs(5)
    5
    """
    k = _integer("logprobs", logprobs)
    _in_range("logprobs", k, 0, 5, "pass an integer between 0 and 5")
    return k


def validate_n(n) -> int:
    """Check `n`, the number of choices (1..128), and return it.

    >>> validate_n(0)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `n` must be in [1, 128], got 0; pass an integer between 1 and 128
    """
    k = _integer("n", n)
    _in_range("n", k, 1, 128, "pass an integer between 1 and 128")
    return k


def validate_best_of(best_of, n=1) -> int:
    """Check legacy `best_of` (1..20 and >= n) and return it.

    >>> validate_best_of(2, n=3)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `best_of` must be >= `n`, got best_of=2 with n=3; raise best_of or lower n
    """
    k = _integer("best_of", best_of)
    _in_range("best_of", k, 1, 20, "pass an integer between 1 and 20")
    if k < n:
        raise InvalidParameterError(
            f"`best_of` must be >= `n`, got best_of={k!r} with n={n!r}; raise best_of or lower n",
            "best_of",
        )
    return k


def validate_stop(stop) -> list[str]:
    """Check `stop` (None, a string, or a list of at most 4 non-empty strings); return a list.

    >>> validate_stop("\\n")
    ['\\n']
    >>> validate_stop(["a", "b", "c", "d", "e"])
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `stop` must have at most 4 sequences, got 5: ['a', 'b', 'c', 'd', 'e']; drop some stop sequences
    """
    if stop is None:
        return []
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, (list, tuple)):
        raise InvalidParameterError(
            f"`stop` must be a string or a list of strings, got {stop!r}; pass e.g. [\"\\n\"]", "stop"
        )
    if len(items) > 4:
        raise InvalidParameterError(
            f"`stop` must have at most 4 sequences, got {len(items)}: {list(items)!r}; "
            f"drop some stop sequences",
            "stop",
        )
    for s in items:
        if not isinstance(s, str) or s == "":
            raise InvalidParameterError(
                f"`stop` sequences must be non-empty strings, got {s!r}; remove it or use a "
                f"non-empty string",
                "stop",
            )
    return list(items)


def validate_max_tokens(max_tokens, name: str = "max_tokens") -> int | None:
    """Check `max_tokens` / `max_completion_tokens` (None or >= 1) and return it.

    >>> validate_max_tokens(0)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `max_tokens` must be >= 1, got 0; pass a positive integer or omit it
    """
    if max_tokens is None:
        return None
    k = _integer(name, max_tokens)
    if k < 1:
        raise InvalidParameterError(
            f"`{name}` must be >= 1, got {k!r}; pass a positive integer or omit it", name
        )
    return k


def validate_seed(seed) -> int:
    """Check `seed` (an integer in the signed 64-bit range) and return it.

    >>> validate_seed(2**63)
    Traceback (most recent call last):
    ...
    refimpl.params.InvalidParameterError: `seed` must be in [-9223372036854775808, 9223372036854775807], got 9223372036854775808; pass a 64-bit signed integer
    """
    s = _integer("seed", seed)
    if not -(2**63) <= s < 2**63:
        raise InvalidParameterError(
            f"`seed` must be in [{-(2**63)}, {2**63 - 1}], got {s!r}; pass a 64-bit signed integer",
            "seed",
        )
    return s


def validate_logits(logits, name: str = "logits") -> None:
    """Reject NaN and +inf logits and rows where every token is -inf.

    Accepts a (V,) or (B, V) array. -inf is allowed: it marks an excluded token.

    >>> validate_logits(np.array([0.0, -np.inf]))
    >>> validate_logits(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    Traceback (most recent call last):
    ...
    ValueError: `logits` must not contain NaN, got NaN at index (1, 0); check the model output (NaN usually means an overflow upstream)
    """
    a = np.asarray(logits)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError(f"`{name}` must have shape (V,) or (B, V) with V >= 1, got shape {a.shape}; "
                         f"pass one row of vocabulary scores per sequence")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"`{name}` must be a real-valued array, got dtype {a.dtype}; pass floats")
    if np.issubdtype(a.dtype, np.integer):
        return
    nan = np.isnan(a)
    if nan.any():
        where = tuple(int(i) for i in np.argwhere(nan)[0])
        where = where[0] if len(where) == 1 else where
        raise ValueError(f"`{name}` must not contain NaN, got NaN at index {where}; check the model "
                         f"output (NaN usually means an overflow upstream)")
    pos = np.isposinf(a)
    if pos.any():
        where = tuple(int(i) for i in np.argwhere(pos)[0])
        where = where[0] if len(where) == 1 else where
        raise ValueError(f"`{name}` must not contain +inf, got +inf at index {where}; use a large "
                         f"finite value, or -inf on the other tokens to force one")
    dead = ~np.isfinite(a).any(axis=-1)
    if np.any(dead):
        row = int(np.argwhere(np.atleast_1d(dead))[0][0])
        raise ValueError(f"`{name}` must leave at least one token with a finite value, got every "
                         f"token -inf in row {row}; do not exclude every token")
