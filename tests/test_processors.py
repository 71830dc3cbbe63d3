import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refimpl.processors as processors
from refimpl.processors import (
    LogitBiasProcessor,
    LogitsProcessor,
    LogSoftmaxProcessor,
    MinPProcessor,
    PenaltyProcessor,
    ProcessorList,
    TemperatureProcessor,
    TopKProcessor,
    TopPProcessor,
    api_processors,
)
from refimpl.sampling import process_logits

ALL = [
    LogitBiasProcessor({0: 1.5, "2": -100}),
    PenaltyProcessor(frequency_penalty=0.7, presence_penalty=-0.3),
    TemperatureProcessor(0.0),
    TemperatureProcessor(1.3),
    TopPProcessor(0.6, min_tokens_to_keep=2),
    TopKProcessor(2),
    MinPProcessor(0.2),
    LogSoftmaxProcessor(),
    api_processors(temperature=0.8, top_p=0.9, frequency_penalty=1.0, logit_bias={1: 3}),
]


def test_doctests():
    assert doctest.testmod(processors).failed == 0


@pytest.mark.parametrize("proc", ALL, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [False, True])
def test_no_processor_changes_its_input(proc, dtype, batched):
    # Standing check: inputs are read-only arrays, so any in-place write raises; and the output
    # is a new array with the input's shape and dtype.
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(3, 5)).astype(dtype)
    scores[1, 4] = -np.inf
    hist = [[1, 1, 3], [], [0]]
    if not batched:
        scores, hist = scores[0], hist[0]
    before = scores.copy()
    scores.flags.writeable = False
    hist_before = [list(h) for h in hist] if batched else list(hist)
    out = proc(hist, scores)
    np.testing.assert_array_equal(scores, before)
    assert hist == hist_before
    assert out is not scores and out.shape == scores.shape and out.dtype == dtype
    assert isinstance(proc, LogitsProcessor)


@settings(deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=1, max_size=10), st.floats(0, 2), st.floats(0, 1),
       st.floats(-2, 2), st.floats(-2, 2), st.data())
def test_api_processors_equal_process_logits(row, t, top_p, fp, pp, data):
    scores = np.array(row)
    hist = data.draw(st.lists(st.integers(0, len(row) - 1), max_size=5))
    kw = dict(temperature=t, top_p=top_p, frequency_penalty=fp, presence_penalty=pp)
    got = api_processors(**kw)(hist, scores)
    want = process_logits(scores, hist, **kw)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12, atol=1e-12)


def test_list_applies_in_order():
    # top_k before temperature 0 vs after: same here; bias before top_k changes the survivor.
    scores = np.array([3.0, 2.0, 1.0])
    a = ProcessorList([LogitBiasProcessor({2: 5}), TopKProcessor(1)])([], scores)
    b = ProcessorList([TopKProcessor(1), LogitBiasProcessor({2: 5})])([], scores)
    assert np.isfinite(a).tolist() == [False, False, True]
    assert np.isfinite(b).tolist() == [True, False, False]


@pytest.mark.parametrize("make, message", [
    (lambda: TemperatureProcessor(-1), "`temperature` must be >= 0, got -1; use 0 for greedy"),
    (lambda: TopPProcessor(1.5), "`top_p` must be in [0, 1], got 1.5; 1 disables it"),
    (lambda: TopKProcessor(-1), "`top_k` must be an integer >= 0, got -1; use 0 to disable it"),
    (lambda: TopKProcessor(1.5), "`top_k` must be an integer >= 0, got 1.5; use 0 to disable it"),
    (lambda: MinPProcessor(2), "`min_p` must be in [0, 1], got 2; 0 disables it"),
    (lambda: PenaltyProcessor(float("nan")), "`frequency_penalty` must be a finite number, got nan"),
    (lambda: LogitBiasProcessor({1: float("inf")}), "`logit_bias[1]` must be a finite number, got inf"),
    (lambda: TopPProcessor(0.5, min_tokens_to_keep=0), "`min_tokens_to_keep` must be an integer >= 1, got 0; pass 1"),
])
def test_constructor_checks(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert str(e.value).startswith(message)


def test_top_k_and_min_p_extensions():
    scores = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    assert np.isfinite(TopKProcessor(3)([], scores)).tolist() == [True, True, True, False]
    assert np.isfinite(TopKProcessor(0)([], scores)).all()
    assert np.isfinite(MinPProcessor(0.3)([], scores)).tolist() == [True, True, True, False]
    assert np.isfinite(MinPProcessor(1.0)([], scores)).tolist() == [True, False, False, False]
