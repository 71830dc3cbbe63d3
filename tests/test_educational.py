"""The educational view agrees with the real encoder."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import get_encoding
from refimpl.bpe import byte_pair_encode
from refimpl.educational import bpe_train, colour_spans, format_steps, merge_steps, token_spans


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
@given(text=st.text(max_size=30))
def test_last_step_is_the_encoders_answer(name, text):
    enc = get_encoding(name)
    for piece in enc._split.findall(text):
        steps = merge_steps(piece, enc._mergeable_ranks)
        assert [enc._mergeable_ranks[p] for p in steps[-1].parts] == \
            byte_pair_encode(piece.encode(), enc._mergeable_ranks)


def test_steps_record_rank_and_merge():
    steps = merge_steps(b"aab", {b"a": 0, b"b": 1, b"ab": 2, b"aa": 3, b"aab": 4})
    assert [(s.parts, s.merged, s.rank) for s in steps] == [
        ([b"a", b"a", b"b"], None, None),
        ([b"a", b"ab"], b"ab", 2),
        ([b"aab"], b"aab", 4),
    ]
    assert "<- b'aab' (rank 4)" in format_steps(steps, colour=False)
    assert "\x1b[48;5;" in format_steps(steps)


def test_spans():
    assert token_spans(get_encoding("cl100k_base"), "camelCase", colour=False) == "camel|Case"
    assert token_spans(get_encoding("o200k_base"), "camelCase", colour=False) == "camel|Case"
    assert colour_spans([b"a\n"], colour=False) == "a\\n"
    assert colour_spans([b"a"]).endswith("\x1b[0m")


def test_training_is_deterministic_and_learns_frequent_pairs():
    text = "low lower lowest " * 20
    ranks = bpe_train(text, 262, r" ?\S+|\s+")
    assert ranks == bpe_train(text, 262, r" ?\S+|\s+")
    learned = [t for t, r in sorted(ranks.items(), key=lambda kv: kv[1])][256:]
    assert learned[0] in (b"lo", b" l") and len(learned) == 6
    with pytest.raises(ValueError, match=r"`vocab_size` must be at least 256 \(the single bytes\), got 10"):
        bpe_train(text, 10, r"\S+")
