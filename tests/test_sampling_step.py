"""`sample_step` against the two calls it fuses: `process_logits`, then `sample`.

The tokens and the log-probabilities must be identical (not close: the same bits), the errors
the same, and the shortcut real: rows whose nucleus came from a small candidate set are drawn
from those candidates, which must hold every token the row keeps.
"""
import re

import numpy as np
import pytest

import refimpl
import refimpl.sampling_step as sampling_step
from refimpl.params import InvalidParameterError
from refimpl.sampling import _process, process_logits
from refimpl.sampling_step import sample_step
from refimpl.seeded import sample

from test_sampling_fast import PROFILES, make

SETTINGS = [dict(temperature=0.8, top_p=0.9), dict(temperature=0.0, top_p=0.9),
            dict(temperature=1.7, top_p=0.5), dict(temperature=0.3, top_p=0.0),
            dict(temperature=1.0, top_p=1.0), dict(temperature=0.8, top_p=0.999)]


def two_calls(x, hist=(), *, seed, choice_index=0, position=0, **kw):
    lp = process_logits(x, hist, **kw)
    return sample(lp, seed=seed, choice_index=choice_index, position=position), lp


def assert_identical(got, want):
    (tokens, lp), (want_tokens, want_lp) = got, want
    np.testing.assert_array_equal(tokens, want_tokens)
    assert type(tokens) is type(want_tokens)
    assert lp.dtype == want_lp.dtype and lp.shape == want_lp.shape
    np.testing.assert_array_equal(lp, want_lp)  # NaN-free; -inf == -inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("profile", PROFILES)
def test_equals_process_logits_then_sample(profile, dtype):
    rng = np.random.default_rng(PROFILES.index(profile) + 10 * (dtype == np.float64))
    for trial in range(3):
        x = make(profile, rng, B=4, V=20_000, dtype=dtype)
        B, V = x.shape
        hist = [list(rng.integers(0, V, 40)) + [int(np.argmax(x[b]))] * 3 for b in range(B)]
        bias = {int(t): float(v) for t, v in zip(rng.integers(0, V, 8), rng.uniform(-5, 5, 8))}
        bias[int(np.argmax(x[1]))] = -100.0
        for kw in SETTINGS:
            kw = dict(kw, frequency_penalty=rng.uniform(-2, 2), presence_penalty=rng.uniform(-2, 2),
                      logit_bias=bias)
            seeds = rng.integers(-(2**63), 2**63 - 1, size=B, dtype=np.int64)
            for position in (0, 7):
                assert_identical(sample_step(x, hist, seed=seeds, position=position, **kw),
                                 two_calls(x, hist, seed=seeds, position=position, **kw))


def test_many_draws_on_the_issue_shape_of_row():
    # the benchmark's kind of row (Zipf logits, V = 200,019), many seeds: the shortcut draws
    # must match sample's on every one, including near the ends of the CDF
    rng = np.random.default_rng(9)
    x = make("peaked", rng, B=2, V=200_019)
    for kw in SETTINGS[:3]:
        seeds = rng.integers(0, 2**62, size=2)
        for position in range(20):
            assert_identical(sample_step(x, seed=seeds, position=position, **kw),
                             two_calls(x, seed=seeds, position=position, **kw))


@pytest.mark.parametrize("profile", PROFILES)
def test_candidates_hold_every_kept_token(profile):
    rng = np.random.default_rng(4)
    x = make(profile, rng, B=6, V=20_000)
    for kw in SETTINGS:
        kept = {}
        out = _process(x, (), kw["temperature"], kw["top_p"], 0.0, 0.0, None, kept)
        for b, ids in kept.items():
            finite = np.flatnonzero(np.isfinite(out[b]))
            assert np.isin(finite, ids).all(), (profile, kw, b)
        if profile == "peaked" and kw["temperature"] <= 1 and kw["top_p"] <= 0.9:
            assert len(kept) == x.shape[0]  # every row settled from candidates: the shortcut


def test_single_row_and_other_dtypes():
    lp = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    for x in [lp, lp.astype(np.float32), lp.astype(np.float16), [1, 2, 3, 4]]:
        for kw in SETTINGS:
            got = sample_step(x, seed=3, choice_index=2, position=5, **kw)
            assert isinstance(got[0], int)
            assert_identical(got, two_calls(x, seed=3, choice_index=2, position=5, **kw))


def test_rows_without_candidates_are_drawn_like_sample(monkeypatch):
    # with no candidates passed on, every row takes sample's own path
    x = make("peaked", np.random.default_rng(1), B=3, V=20_000)
    want = two_calls(x, seed=[1, 2, 3], temperature=0.8, top_p=0.9)
    monkeypatch.setattr(sampling_step, "_process", lambda *args: _process(*args[:-1]))
    assert_identical(sample_step(x, seed=[1, 2, 3], temperature=0.8, top_p=0.9), want)


def test_errors_are_those_of_the_two_calls():
    x = np.zeros((2, 5))
    with pytest.raises(InvalidParameterError, match="top_p"):
        sample_step(x, seed=0, top_p=1.5)
    with pytest.raises(ValueError, match=re.escape("NaN")):
        sample_step(np.array([0.0, np.nan]), seed=0)
    with pytest.raises(InvalidParameterError, match="seed"):
        sample_step(x, seed="zero")
    with pytest.raises(InvalidParameterError, match="one entry per row"):
        sample_step(x, seed=[1, 2, 3])
    with pytest.raises(InvalidParameterError, match="position"):
        sample_step(x, seed=0, position=-1)
    # the logits are checked before the seed, as process_logits runs before sample
    with pytest.raises(ValueError, match="NaN"):
        sample_step(np.array([0.0, np.nan]), seed="zero")


def test_exported():
    assert refimpl.sample_step is sample_step
