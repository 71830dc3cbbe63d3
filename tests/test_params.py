import doctest
import re

import numpy as np
import pytest

import refimpl.params as params
from refimpl.params import (
    InvalidParameterError,
    validate_best_of,
    validate_logit_bias,
    validate_logits,
    validate_logprobs,
    validate_max_tokens,
    validate_n,
    validate_penalty,
    validate_seed,
    validate_stop,
    validate_temperature,
    validate_top_logprobs,
    validate_top_p,
)


def test_doctests():
    assert doctest.testmod(params).failed == 0


@pytest.mark.parametrize("value", [0, 0.0, 1, 2, 2.0])
def test_temperature_ok(value):
    assert validate_temperature(value) == float(value)


@pytest.mark.parametrize("value", [-0.1, 2.0001, float("nan"), float("inf")])
def test_temperature_range(value):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`temperature` must be in [0, 2], got {value!r}; pass a value between 0 (greedy) and 2")) as e:
        validate_temperature(value)
    assert e.value.param == "temperature"


@pytest.mark.parametrize("value", ["1", None, True])
def test_temperature_type(value):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`temperature` must be a number, got {value!r} of type {type(value).__name__}; pass an int or a float")):
        validate_temperature(value)


@pytest.mark.parametrize("value", [-0.01, 1.5])
def test_top_p_range(value):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`top_p` must be in [0, 1], got {value!r}; pass a value between 0 and 1 (1 keeps every token)")):
        validate_top_p(value)


def test_top_p_ok():
    assert validate_top_p(0) == 0.0 and validate_top_p(1) == 1.0


@pytest.mark.parametrize("name", ["frequency_penalty", "presence_penalty"])
@pytest.mark.parametrize("value", [-2.5, 2.01])
def test_penalty_range(name, value):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`{name}` must be in [-2, 2], got {value!r}; pass a value between -2 and 2 (0 disables it)")):
        validate_penalty(name, value)


def test_penalty_ok():
    assert validate_penalty("presence_penalty", -2) == -2.0


def test_logit_bias_ok():
    assert validate_logit_bias(None, 10) == {}
    assert validate_logit_bias({"3": 100, 4: -100.0}, 10) == {3: 100.0, 4: -100.0}


def test_logit_bias_not_a_dict():
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`logit_bias` must be a dict mapping token ids to biases, got [1, 2]")):
        validate_logit_bias([1, 2], 10)


@pytest.mark.parametrize("key", [10, -1, "10"])
def test_logit_bias_key_out_of_vocabulary(key):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`logit_bias` key must be a token id in [0, 9], got {key!r}; use ids from the model's encoding")):
        validate_logit_bias({key: 1}, 10)


@pytest.mark.parametrize("key", ["abc", 1.5, "1.0"])
def test_logit_bias_key_not_an_id(key):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`logit_bias` key must be a token id (an integer or its decimal string), got {key!r}")):
        validate_logit_bias({key: 1}, 10)


@pytest.mark.parametrize("bias", [100.5, -101])
def test_logit_bias_value_range(bias):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`logit_bias['1']` must be in [-100, 100], got {bias!r}; pass a bias between -100 "
            f"(ban the token) and 100 (force it)")):
        validate_logit_bias({"1": bias}, 10)


@pytest.mark.parametrize("value", [-1, 21])
def test_top_logprobs_range(value):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`top_logprobs` must be in [0, 20], got {value}; pass an integer between 0 and 20")):
        validate_top_logprobs(value)


def test_top_logprobs_type():
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`top_logprobs` must be an integer, got 2.0 of type float; pass a whole number")):
        validate_top_logprobs(2.0)


def test_logprobs_range():
    assert validate_logprobs(0) == 0
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`logprobs` must be in [0, 5], got 6; pass an integer between 0 and 5")):
        validate_logprobs(6)


@pytest.mark.parametrize("value", [0, 129])
def test_n_range(value):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`n` must be in [1, 128], got {value}; pass an integer between 1 and 128")):
        validate_n(value)


def test_n_ok():
    assert validate_n(128) == 128


def test_best_of():
    assert validate_best_of(3, n=3) == 3
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`best_of` must be >= `n`, got best_of=2 with n=3; raise best_of or lower n")):
        validate_best_of(2, n=3)
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`best_of` must be in [1, 20], got 21; pass an integer between 1 and 20")):
        validate_best_of(21)


def test_stop_ok():
    assert validate_stop(None) == []
    assert validate_stop("x") == ["x"]
    assert validate_stop(["a", "b", "c", "d"]) == ["a", "b", "c", "d"]


def test_stop_too_many():
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`stop` must have at most 4 sequences, got 5: ['a', 'b', 'c', 'd', 'e']; drop some stop sequences")):
        validate_stop(list("abcde"))


@pytest.mark.parametrize("bad", ["", 3])
def test_stop_bad_item(bad):
    with pytest.raises(InvalidParameterError, match=re.escape(
            f"`stop` sequences must be non-empty strings, got {bad!r}; remove it or use a non-empty string")):
        validate_stop(["ok", bad])


def test_stop_bad_type():
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`stop` must be a string or a list of strings, got 5")):
        validate_stop(5)


def test_max_tokens():
    assert validate_max_tokens(None) is None and validate_max_tokens(1) == 1
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`max_completion_tokens` must be >= 1, got 0; pass a positive integer or omit it")):
        validate_max_tokens(0, "max_completion_tokens")


def test_seed():
    assert validate_seed(-(2**63)) == -(2**63)
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`seed` must be in [-9223372036854775808, 9223372036854775807], got 9223372036854775808")):
        validate_seed(2**63)
    with pytest.raises(InvalidParameterError, match=re.escape(
            "`seed` must be an integer, got 1.5 of type float; pass a whole number")):
        validate_seed(1.5)


def test_logits_nan():
    with pytest.raises(ValueError, match=re.escape(
            "`logits` must not contain NaN, got NaN at index 1; check the model output")):
        validate_logits(np.array([0.0, np.nan]))


def test_logits_posinf():
    with pytest.raises(ValueError, match=re.escape(
            "`logits` must not contain +inf, got +inf at index (0, 2); use a large finite value")):
        validate_logits(np.array([[0.0, 1.0, np.inf]]))


def test_logits_all_removed():
    with pytest.raises(ValueError, match=re.escape(
            "`logits` must leave at least one token with a finite value, got every token -inf in row 1")):
        validate_logits(np.array([[0.0, 1.0], [-np.inf, -np.inf]]))


def test_logits_shape_and_dtype():
    with pytest.raises(ValueError, match=re.escape("`logits` must have shape (V,) or (B, V) with V >= 1, got shape (0,)")):
        validate_logits(np.zeros(0))
    with pytest.raises(ValueError, match=re.escape("`logits` must be a real-valued array, got dtype complex128")):
        validate_logits(np.zeros(2, dtype=complex))
    validate_logits(np.array([-np.inf, 0.0]))  # -inf is allowed
