"""Known answers from the transformers and llama.cpp test suites (tests/data/sampling_known_answers.json,
copied from the project's shared vectors; each entry's `source` names the file and commit).

Every vector is either used below or listed in NOT_USED with the reason; a test checks that
none is forgotten.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from refimpl.logits import apply_logit_bias, apply_min_p, apply_penalties, apply_top_k, apply_top_p, softmax
from refimpl.sampling import process_logits

VECTORS = {v["id"]: v for v in json.loads(
    (Path(__file__).parent / "data" / "sampling_known_answers.json").read_text())}

NOT_USED = {
    "hf_top_k_uniform_min_tokens": "transformers keeps every token tied with the k-th score; we "
                                   "break ties by lower id and keep exactly k (see test below)",
    "hf_typical": "typical_p is not offered (not in the API, not asked as an extension)",
    "hf_epsilon": "epsilon_cutoff is not offered",
    "hf_eta": "eta_cutoff is not offered",
    "hf_repetition_penalty": "multiplicative CTRL-style penalty over prompt+generated tokens: not "
                             "the API's additive frequency/presence penalty",
    "hf_no_bad_words": "multi-token bans have no API equivalent",
    "llamacpp_min_p_1.05": "min_p above 1 is outside our documented range [0, 1] (we raise)",
    "llamacpp_typical_peaked": "typical_p is not offered",
    "llamacpp_typical_flat": "typical_p is not offered",
    "llamacpp_penalties_0": "penalty_repeat=50 is llama.cpp's multiplicative repeat penalty",
    "llamacpp_penalties_1": "penalty_repeat=50 is llama.cpp's multiplicative repeat penalty",
    "llamacpp_penalties_2": "penalty_repeat=50 is llama.cpp's multiplicative repeat penalty",
    "llamacpp_dist_rng_lowbias32": "a different RNG by design (ours is SHA-256 keyed on seed, "
                                   "choice and position); the sequence cannot match",
}


def test_every_vector_is_used_or_explained():
    used = {name for name in VECTORS if name not in NOT_USED}
    assert set(NOT_USED) <= set(VECTORS)
    assert used == set(USED)


USED = [
    "hf_temperature_uniform_and_peaked", "hf_top_k_ramp", "hf_top_k_ramp_min_tokens",
    "hf_top_p_basic_with_exact_threshold_and_ties", "hf_top_p_extreme_logits_min_tokens",
    "hf_min_p_basic", "hf_min_p_extreme_logits_min_tokens", "hf_sequence_bias",
    "llamacpp_temp_1", "llamacpp_temp_0",
    "llamacpp_top_k_1", "llamacpp_top_k_3", "llamacpp_top_k_4", "llamacpp_top_k_0",
    "llamacpp_top_p_0", "llamacpp_top_p_0.7", "llamacpp_top_p_0.8", "llamacpp_top_p_1.0",
    "llamacpp_min_p_0.0", "llamacpp_min_p_0.24", "llamacpp_min_p_0.26", "llamacpp_min_p_0.49",
    "llamacpp_min_p_0.51", "llamacpp_min_p_0.74", "llamacpp_min_p_0.76", "llamacpp_min_p_1.0",
    "llamacpp_penalties_3", "llamacpp_penalties_4", "llamacpp_penalties_5",
]

# -- transformers --------------------------------------------------------------------------------

RAMP = np.stack([np.arange(10) - 5.0, (np.arange(10) - 5.0) * 100])  # the HF "extreme" input


def test_hf_temperature():
    # Source asserts: uniform stays uniform; T<1 sharpens, T>1 flattens. The numbers are the
    # helper-computed float64 values recorded in the vector's note.
    row1 = np.full(20, 0.05)
    row1[5], row1[10] = 0.15, -0.35
    scores = np.stack([np.full(20, 0.05), row1])
    for t, mx, mn in [(1.0, 0.055886, 0.033897), (0.5, 0.062092, 0.022843), (1.3, 0.054502, 0.037100)]:
        p = np.exp(process_logits(scores, temperature=t))
        np.testing.assert_allclose(p[0], 1 / 20, rtol=1e-3)
        assert p[1].max() == pytest.approx(mx, abs=1e-6)
        assert p[1].min() == pytest.approx(mn, abs=1e-6)


def test_hf_top_k_ramp():
    v = VECTORS["hf_top_k_ramp"]
    out = apply_top_k(np.array(v["input_logits"], dtype=np.float32), 3)
    assert np.isinf(out).tolist() == v["expected"]["isinf"]


def test_hf_top_k_min_tokens_to_keep():
    # k=1 but min_tokens_to_keep=3: 3 kept, 2 removed (HF fills them with 0.0; we use -inf).
    out = apply_top_k(np.array(VECTORS["hf_top_k_ramp_min_tokens"]["input_logits"], float), 1,
                      min_tokens_to_keep=3)
    assert np.isneginf(out).sum(axis=1).tolist() == [2, 2]


def test_hf_top_k_uniform_differs_by_tie_rule():
    # Documented difference: HF keeps all 5 tied tokens; we keep exactly 3, the lowest ids.
    out = apply_top_k(np.full((2, 5), 0.2), 1, min_tokens_to_keep=3)
    assert np.isfinite(out).tolist() == [[True, True, True, False, False]] * 2


def test_hf_top_p_exact_threshold_and_ties():
    v = VECTORS["hf_top_p_basic_with_exact_threshold_and_ties"]
    scores = np.log(np.array(v["input_logits"]["probs"], dtype=np.float32))
    # HF's warper does not renormalise, so compare exp of the filtered scores.
    np.testing.assert_allclose(np.exp(apply_top_p(scores, 0.8)), v["expected"]["exp_of_output"],
                               rtol=1e-3, atol=1e-3)


def test_hf_top_p_min_tokens_to_keep():
    out = apply_top_p(RAMP, 0.9, min_tokens_to_keep=2)
    assert np.isfinite(out).sum(axis=1).tolist() == \
        VECTORS["hf_top_p_extreme_logits_min_tokens"]["expected"]["count_nonzero_per_row"]


def test_hf_min_p():
    v = VECTORS["hf_min_p_basic"]
    scores = np.log(np.array(v["input_logits"]["probs"], dtype=np.float32))
    np.testing.assert_allclose(np.exp(apply_min_p(scores, 0.05)), v["expected"]["exp_of_output"],
                               rtol=1e-3, atol=1e-3)


def test_hf_min_p_min_tokens_to_keep():
    out = apply_min_p(RAMP, 0.9, min_tokens_to_keep=2)
    assert np.isfinite(out).sum(axis=1).tolist() == [2, 2]


def test_hf_sequence_bias_single_token_keys():
    # Only the length-1 keys of this vector are a plain logit bias; columns 1 and 4 are
    # touched by nothing else, so they are the part we can check.
    v = VECTORS["hf_sequence_bias"]
    out = apply_logit_bias(np.zeros((2, 5)), {1: 100.0, 4: 100.0})
    expected = np.array(v["expected"]["output"])
    np.testing.assert_array_equal(out[:, [1, 4]], expected[:, [1, 4]])


# -- llama.cpp -----------------------------------------------------------------------------------
# The tester sets logit = logf(p), runs the sampler, then softmax over the survivors; sorting
# samplers list survivors by decreasing p, the others in token order.

P4 = np.log(np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32))


def _survivors(scores):
    p = softmax(scores.astype(np.float64))
    return sorted(p[p > 0].tolist(), reverse=True)


@pytest.mark.parametrize("name", ["llamacpp_temp_1", "llamacpp_temp_0"])
def test_llamacpp_temperature(name):
    v = VECTORS[name]
    p = np.exp(process_logits(P4, temperature=v["params"]["temp"]))
    np.testing.assert_allclose(p, v["expected"]["probs"], atol=1e-5)


@pytest.mark.parametrize("name", ["llamacpp_top_k_1", "llamacpp_top_k_3", "llamacpp_top_k_4", "llamacpp_top_k_0"])
def test_llamacpp_top_k(name):
    v = VECTORS[name]
    got = _survivors(apply_top_k(P4, v["params"]["k"]))
    np.testing.assert_allclose(got, sorted(v["expected"]["probs"], reverse=True), atol=1e-5)


@pytest.mark.parametrize("name", ["llamacpp_top_p_0", "llamacpp_top_p_0.7", "llamacpp_top_p_0.8", "llamacpp_top_p_1.0"])
def test_llamacpp_top_p(name):
    # At temperature 1 llama.cpp's order (top_p before temperature) and ours agree.
    v = VECTORS[name]
    got = _survivors(process_logits(P4, top_p=v["params"]["p"]))
    np.testing.assert_allclose(got, sorted(v["expected"]["probs"], reverse=True), atol=1e-5)


@pytest.mark.parametrize("name", [n for n in USED if n.startswith("llamacpp_min_p")])
def test_llamacpp_min_p(name):
    v = VECTORS[name]
    got = _survivors(apply_min_p(P4, v["params"]["p"]))
    np.testing.assert_allclose(got, sorted(v["expected"]["probs"], reverse=True), atol=1e-5)


@pytest.mark.parametrize("name", ["llamacpp_penalties_3", "llamacpp_penalties_4", "llamacpp_penalties_5"])
def test_llamacpp_frequency_presence(name):
    # With penalty_repeat = 1 llama.cpp's penalty is the API formula. The coefficients (5) are
    # outside the API's [-2, 2], so we call the step function (research range), not
    # process_logits. The window here is all generated tokens, as in the API.
    v = VECTORS[name]
    prm = v["params"]
    scores = np.log(np.array(v["input_logits"]["probs"], dtype=np.float32))
    out = apply_penalties(scores, prm["last_tokens_accepted"], frequency_penalty=prm["penalty_freq"],
                          presence_penalty=prm["penalty_present"])
    np.testing.assert_allclose(softmax(out), v["expected"]["probs"], atol=1e-5)
