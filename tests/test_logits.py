import doctest
import math

import numpy as np
import pytest

import refimpl.logits as logits
from refimpl.logits import (
    apply_logit_bias,
    apply_min_p,
    apply_penalties,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    log_softmax,
    softmax,
    token_counts,
)


def test_doctests():
    assert doctest.testmod(logits).failed == 0


def test_softmax_matches_math():
    x = np.array([1.0, -2.0, 0.5, 700.0, 699.0])
    e = [math.exp(v - 700.0) for v in x]
    np.testing.assert_allclose(softmax(x), [v / math.fsum(e) for v in e], rtol=1e-15)
    np.testing.assert_allclose(log_softmax(x), np.log(softmax(x)), rtol=1e-12)


def test_token_counts_batch():
    c = token_counts([[0, 0, 2], [], [1]], vocab_size=3)
    assert c.tolist() == [[2, 0, 1], [0, 0, 0], [0, 1, 0]]


def test_penalties_batch_per_row_history():
    out = apply_penalties(np.zeros((2, 3)), [[0], [1, 1]], frequency_penalty=1.0, presence_penalty=0.5)
    assert out.tolist() == [[-1.5, 0.0, 0.0], [0.0, -2.5, 0.0]]


def test_step_errors():
    with pytest.raises(ValueError, match=r"temperature must be >= 0, got -1"):
        apply_temperature(np.zeros(2), -1)
    with pytest.raises(ValueError, match=r"top_p must be in \[0, 1\], got 2"):
        apply_top_p(np.zeros(2), 2)
    with pytest.raises(ValueError, match=r"min_tokens_to_keep must be >= 1, got 0"):
        apply_top_p(np.zeros(2), 0.5, min_tokens_to_keep=0)
    with pytest.raises(ValueError, match=r"top_k must be an integer >= 0, got -2"):
        apply_top_k(np.zeros(2), -2)
    with pytest.raises(ValueError, match=r"min_p must be in \[0, 1\], got 1.05"):
        apply_min_p(np.zeros(2), 1.05)
    with pytest.raises(ValueError, match=r"logit_bias key must be a token id in \[0, 1\], got 5"):
        apply_logit_bias(np.zeros(2), {5: 1.0})
    with pytest.raises(ValueError, match=r"scores must have shape \(V,\) or \(B, V\) with V >= 1, got shape \(1, 1, 1\)"):
        log_softmax(np.zeros((1, 1, 1)))


def test_top_p_large_vocab_small_nucleus_matches_full_sort():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 4, size=50_000)
    for top_p in [0.1, 0.5, 0.95]:
        kept = np.isfinite(apply_top_p(x, top_p))
        p = softmax(x)
        order = np.lexsort((np.arange(x.size), -p))
        n = int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1
        assert set(np.flatnonzero(kept)) == set(order[:n].tolist())


def test_removed_tokens_stay_removed():
    x = np.array([-np.inf, 0.0, 1.0])
    for out in [apply_top_k(x, 3), apply_min_p(x, 0.0), apply_top_p(x, 1.0),
                apply_top_p(x, 0.99, min_tokens_to_keep=3), apply_temperature(x, 2.0)]:
        assert out[0] == -np.inf
