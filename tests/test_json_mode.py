import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refimpl.json_mode import START_STATE, JsonObjectFilter, feed, is_complete, is_json_object_prefix

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=5), json_values, max_size=4)


@given(json_objects, st.booleans(), st.booleans())
def test_every_serialised_object_and_each_prefix_is_accepted(obj, ascii_only, indent):
    data = json.dumps(obj, ensure_ascii=ascii_only, indent=2 if indent else None).encode("utf-8")
    assert is_complete(feed(data))
    for i in range(len(data)):
        assert is_json_object_prefix(data[:i])


@given(st.binary(max_size=30) | st.text(alphabet='{}[]",: 0123456789.eE+-tfrunlsa\\\u00e9', max_size=30).map(str.encode))
def test_complete_means_json_loads_gives_an_object(data):
    state = feed(data)
    if is_complete(state):
        assert isinstance(json.loads(data.decode("utf-8")), dict)


@pytest.mark.parametrize("data", [b"[]", b'{"a" 1}', b'{"a": 01}', b"{,}", b'{"a": [1,]}', b'{"a":1}}',
                                  b'{"a": tru ', b'{"a": "\x01"}', b"\xff", b'{"\xc3(', b'{"a": 1.}', b'{"a": -}'])
def test_rejects_non_json(data):
    assert feed(data) is None and not is_json_object_prefix(data)


VOCAB = [bytes([b]) for b in b'{}[]",: 0123456789.abcdefghijklmnopqrstuvwxyz\\\n'] + [
    b'{"', b'":', b'"}', b'}]', b"}}", b"true", b"null", b" false", b"\xc3", b"\xa9", b"\xc3\xa9", b'", "',
    b"]}", b"1.5", b"e+", None,  # None: a special token
]
EOT = len(VOCAB)
VOCAB.append(None)


def brute_force(state):
    allowed = np.zeros(len(VOCAB), dtype=bool)
    for i, b in enumerate(VOCAB):
        if b is not None:
            allowed[i] = feed(b, state) is not None
    if is_complete(state):
        allowed[:] = False
        allowed[EOT] = True
    return allowed


@pytest.mark.parametrize("prefix", [b"", b" ", b"{", b'{"a', b'{"a":', b'{"a": [', b'{"a": [1', b'{"a": "x\xc3',
                                    b'{"a": {"b": 1}', b'{"a": 1}', b'{"a": tr', b'{"a": "\\'])
def test_mask_matches_brute_force(prefix):
    f = JsonObjectFilter(VOCAB, EOT)
    state = feed(prefix)
    np.testing.assert_array_equal(f.mask(state), brute_force(state))


def test_filter_renormalises_and_bans():
    f = JsonObjectFilter(VOCAB, EOT)
    lp = np.full(len(VOCAB), -np.log(len(VOCAB)))
    out = f([], lp)
    assert np.isclose(np.exp(out).sum(), 1.0)
    assert set(np.flatnonzero(np.isfinite(out))) == set(np.flatnonzero(brute_force(START_STATE)))
    done = [VOCAB.index(b"{"), VOCAB.index(b"}")]
    assert np.flatnonzero(np.isfinite(f(done, lp))).tolist() == [EOT]


def test_generation_in_json_mode_always_parses_on_stop():
    from refimpl.generation import generate
    from refimpl.ngram import default_model

    m = default_model("cl100k_base")
    enc = m.encoding
    f = JsonObjectFilter.from_encoding(enc)
    finishes = set()
    for seed in range(4):
        g = generate(m, enc.encode("Here is the record as JSON:\n"), encoding=enc, max_tokens=30,
                     seed=seed, temperature=0.7, token_filter=f)
        finishes.add(g.finish_reason)
        if g.finish_reason == "stop":
            assert isinstance(json.loads(g.text_bytes.decode("utf-8")), dict)
        else:
            assert is_json_object_prefix(g.text_bytes)
    assert "stop" in finishes
