import numpy as np

from refimpl.ngram import CORPUS_PATH, NGramModel, default_model


def test_bundled_corpus_is_small():
    assert CORPUS_PATH.stat().st_size < 1_000_000


def test_probabilities_are_a_distribution_with_specials_excluded():
    m = default_model("cl100k_base")
    enc = m.encoding
    for ids in [[], enc.encode("The sea"), enc.encode("zzzz qqqq unseen")]:
        p = m.probabilities(ids)
        assert p.shape == (enc.n_vocab,)
        assert abs(p.sum() - 1) < 1e-9
        logits = m(ids)
        assert np.isfinite(logits[enc.eot_token])
        for s in enc.special_tokens_set - {"<|endoftext|>"}:
            assert logits[enc.encode_single_token(s)] == -np.inf


def test_identity_is_stable_and_model_specific():
    a = default_model("cl100k_base")
    doc = [[1, 2, a.encoding.eot_token]]
    b = NGramModel(doc, a.encoding)
    assert b.identity == NGramModel(doc, a.encoding).identity
    assert b.identity != a.identity
    assert default_model("cl100k_base") is a  # cached


def test_learns_its_corpus():
    m = default_model("o200k_base")
    enc = m.encoding
    assert enc.decode([int(np.argmax(m(enc.encode("The sky is blue on a clear"))))]) == " day"
