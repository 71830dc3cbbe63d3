import doctest
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refimpl.sampling as sampling
from refimpl.params import InvalidParameterError
from refimpl.sampling import process_logits, process_logits_reference

NEG = -np.inf

# -- strategies: small vocabularies with ties and removed tokens --------------------------------

score = st.one_of(st.sampled_from([NEG, -1.0, 0.0, 0.5, 1.0, 2.0]),
                  st.floats(-30, 30, allow_nan=False, allow_infinity=False))


@st.composite
def batches(draw, max_vocab=12, max_batch=3):
    V = draw(st.integers(1, max_vocab))
    B = draw(st.integers(1, max_batch))
    rows = []
    for _ in range(B):
        row = draw(st.lists(score, min_size=V, max_size=V))
        if all(s == NEG for s in row):
            row[draw(st.integers(0, V - 1))] = 0.0
        rows.append(row)
    hist = [draw(st.lists(st.integers(0, V - 1), max_size=6)) for _ in range(B)]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return np.array(rows, dtype=dtype), hist


api_kwargs = st.fixed_dictionaries({
    "temperature": st.one_of(st.sampled_from([0.0, 1.0, 2.0]), st.floats(0.05, 2)),
    "top_p": st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1)),
    "frequency_penalty": st.one_of(st.just(0.0), st.floats(-2, 2)),
    "presence_penalty": st.one_of(st.just(0.0), st.floats(-2, 2)),
})


def assert_same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b))
    tol = 1e-5 if a.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=tol, atol=tol)


def test_doctests():
    assert doctest.testmod(sampling).failed == 0


# -- the slow reference holds the vectorised code to account ------------------------------------

@settings(deadline=None)
@given(batches(), api_kwargs, st.data())
def test_reference_equals_vectorised(batch, kwargs, data):
    logits, hist = batch
    V = logits.shape[1]
    bias = data.draw(st.dictionaries(st.integers(0, V - 1), st.floats(-100, 100), max_size=3))
    before = logits.copy()
    fast = process_logits(logits, hist, logit_bias=bias, **kwargs)
    slow = process_logits_reference(logits, hist, logit_bias=bias, **kwargs)
    assert_same(fast, slow)
    np.testing.assert_array_equal(logits, before)  # inputs untouched


def test_reference_equals_vectorised_large_vocab():
    # V > 64 exercises the growing candidate set of top_p (argpartition, then sort only those);
    # rounding logits to 0.5 makes many ties cross the candidate boundary.
    rng = np.random.default_rng(0)
    for V, spread in [(300, 1.0), (2000, 3.0), (500, 0.0)]:
        logits = np.round(rng.normal(0, spread, size=(2, V)) * 2) / 2
        hist = [list(rng.integers(0, V, size=10)), []]
        for top_p in [0.0, 0.3, 0.9, 0.999, 1.0]:
            for t in [0.0, 0.7, 1.5]:
                kw = dict(top_p=top_p, temperature=t, frequency_penalty=0.3, presence_penalty=0.4)
                assert_same(process_logits(logits, hist, **kw), process_logits_reference(logits, hist, **kw))


@settings(deadline=None)
@given(batches(), api_kwargs)
def test_batch_rows_are_independent(batch, kwargs):
    logits, hist = batch
    whole = process_logits(logits, hist, **kwargs)
    for b in range(logits.shape[0]):
        np.testing.assert_array_equal(whole[b], process_logits(logits[b], hist[b], **kwargs))


@settings(deadline=None)
@given(batches(), api_kwargs)
def test_output_is_a_distribution(batch, kwargs):
    logits, hist = batch
    out = process_logits(logits, hist, **kwargs)
    p = np.exp(out.astype(np.float64))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.isnan(out).any() and not np.isposinf(out).any()
    assert (np.isfinite(out) <= np.isfinite(logits)).all()  # removed tokens stay removed


# -- metamorphic --------------------------------------------------------------------------------

def entropy(logprobs):
    p = np.exp(logprobs)
    with np.errstate(invalid="ignore"):  # 0 * -inf for removed tokens, masked out below
        return -np.sum(np.where(p > 0, p * logprobs, 0.0), axis=-1)


@settings(deadline=None)
@given(batches(), st.floats(0, 2), st.floats(0, 2))
def test_raising_temperature_never_lowers_entropy(batch, t1, t2):
    logits, _ = batch
    logits = logits.astype(np.float64)
    lo, hi = sorted([t1, t2])
    h_lo = entropy(process_logits(logits, temperature=lo))
    h_hi = entropy(process_logits(logits, temperature=hi))
    assert (h_lo <= h_hi + 1e-9).all()


@settings(deadline=None)
@given(batches(), st.floats(0, 1), st.floats(0, 1), st.sampled_from([0.0, 0.6, 1.0, 1.9]))
def test_shrinking_top_p_never_grows_the_kept_set(batch, p1, p2, t):
    logits, hist = batch
    small, large = sorted([p1, p2])
    kept_small = np.isfinite(process_logits(logits, hist, top_p=small, temperature=t))
    kept_large = np.isfinite(process_logits(logits, hist, top_p=large, temperature=t))
    assert (kept_small <= kept_large).all()


# -- the documented rules, on hand-written distributions ----------------------------------------

def test_greedy_lowest_id_on_ties():
    out = process_logits(np.array([[1.0, 5.0, 5.0], [7.0, 7.0, 7.0]]), temperature=0)
    np.testing.assert_array_equal(out, [[NEG, 0.0, NEG], [0.0, NEG, NEG]])


def test_greedy_sees_bias_and_penalties():
    # token 0 leads, but it was generated twice: 3 - 2*1 - 0.5 = 0.5 < 1, so token 1 wins.
    out = process_logits(np.array([3.0, 1.0]), [0, 0], temperature=0, frequency_penalty=1,
                         presence_penalty=0.5)
    assert out.tolist() == [NEG, 0.0]
    assert process_logits(np.array([3.0, 1.0]), temperature=0, logit_bias={1: 5}).tolist() == [NEG, 0.0]


def test_top_p_ties_by_lower_id_and_crossing_token_kept():
    # p = [0.25, 0.25, 0.25, 0.25]: top_p=0.3 walks 0 (0.25), then 1 (0.5 >= 0.3, crossing).
    out = process_logits(np.zeros(4), top_p=0.3)
    np.testing.assert_allclose(np.exp(out), [0.5, 0.5, 0.0, 0.0])
    assert np.isfinite(process_logits(np.zeros(4), top_p=0.0)).tolist() == [True, False, False, False]


def test_top_p_applies_after_temperature():
    # p = [0.6, 0.4] at T=1: top_p=0.5 keeps token 0 only. At T=2 p ~ [0.55, 0.45], still 1;
    # at T=0.1 the first token has ~0.98: still 1. A case where temperature changes the set:
    logits = np.log(np.array([0.45, 0.35, 0.2]))
    assert np.isfinite(process_logits(logits, top_p=0.75)).sum() == 2  # 0.45 + 0.35 = 0.8
    assert np.isfinite(process_logits(logits, top_p=0.75, temperature=2.0)).sum() == 3


def test_penalties_count_generated_tokens():
    out = process_logits(np.zeros(3), [2, 2, 2], frequency_penalty=0.5, presence_penalty=1.0,
                         temperature=1.0)
    # token 2: 0 - 3*0.5 - 1 = -2.5
    scores = np.array([0.0, 0.0, -2.5])
    np.testing.assert_allclose(out, scores - np.log(np.exp(scores).sum()))


def test_minus_inf_is_respected_by_logit_bias():
    out = process_logits(np.array([0.0, NEG]), logit_bias={1: 100})
    assert out.tolist() == [0.0, NEG]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_in_equals_dtype_out(dtype):
    assert process_logits(np.zeros(3, dtype=dtype)).dtype == dtype
    assert process_logits_reference(np.zeros((2, 3), dtype=dtype)).dtype == dtype


def test_ints_and_lists_come_back_float64():
    assert process_logits([1, 2, 3]).dtype == np.float64


def test_tiny_temperature_does_not_overflow():
    out = process_logits(np.array([1000.0, 999.0, 0.0]), temperature=1e-300)
    assert np.exp(out).tolist() == [1.0, 0.0, 0.0] and not np.isnan(out).any()


# -- errors ---------------------------------------------------------------------------------------

def test_rejects_nan_logits():
    with pytest.raises(ValueError, match=re.escape("`logits` must not contain NaN, got NaN at index (0, 1)")):
        process_logits(np.array([[0.0, np.nan]]))


def test_rejects_parameters_outside_api_range():
    with pytest.raises(InvalidParameterError, match=re.escape("`top_p` must be in [0, 1], got 1.1")):
        process_logits(np.zeros(2), top_p=1.1)
    with pytest.raises(InvalidParameterError, match=re.escape("`logit_bias` key must be a token id in [0, 1], got 2")):
        process_logits(np.zeros(2), logit_bias={2: 1})
    with pytest.raises(InvalidParameterError, match=re.escape("`presence_penalty` must be in [-2, 2], got 5")):
        process_logits_reference(np.zeros(2), presence_penalty=5)


def test_rejects_bad_history():
    with pytest.raises(ValueError, match=re.escape("output_token_ids[0] must hold token ids in [0, 1], got 7")):
        process_logits(np.zeros(2), [7])
    with pytest.raises(ValueError, match=re.escape("output_token_ids must have one sequence per row, got 1 sequences for 2 rows")):
        process_logits(np.zeros((2, 2)), [[0]])


@settings(deadline=None)
@given(batches(), st.floats(0, 2), st.floats(0, 2))
def test_more_presence_penalty_never_raises_a_generated_token(batch, a, b):
    logits, hist = batch
    logits = logits.astype(np.float64)
    lo, hi = sorted([a, b])
    p_lo = np.exp(process_logits(logits, hist, presence_penalty=lo))
    p_hi = np.exp(process_logits(logits, hist, presence_penalty=hi))
    for row, seq in enumerate(hist):
        for t in set(seq):
            assert p_hi[row, t] <= p_lo[row, t] + 1e-12


def test_logit_bias_extremes_ban_and_force():
    logits = np.array([3.0, 0.0, -1.0])
    p = np.exp(process_logits(logits, logit_bias={"0": -100, 2: 100}))
    assert p[0] < 1e-40 and p[2] > 0.9999


def test_empty_batch():
    out = process_logits(np.zeros((0, 4), dtype=np.float32), top_p=0.5)
    assert out.shape == (0, 4) and out.dtype == np.float32
    assert process_logits_reference(np.zeros((0, 4))).shape == (0, 4)
