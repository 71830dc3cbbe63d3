"""Getting encodings by name."""
from __future__ import annotations

import pytest

import refimpl
from conftest import ENCODING_NAMES


def test_list_and_cache():
    assert refimpl.list_encoding_names() == ENCODING_NAMES
    assert refimpl.get_encoding("gpt2") is refimpl.get_encoding("gpt2")


def test_same_names_as_tiktoken(tiktoken):
    assert set(refimpl.list_encoding_names()) == set(tiktoken.list_encoding_names())


def test_unknown_encoding_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown encoding 'cl200k'. Known encodings: gpt2, r50k_base.*"
                                         r"refimpl.encoding_for_model"):
        refimpl.get_encoding("cl200k")
    with pytest.raises(ValueError, match=r"Expected a string in get_encoding, got int 5"):
        refimpl.get_encoding(5)


def test_harmony_special_tokens():
    enc = refimpl.get_encoding("o200k_harmony")
    assert enc.encode("<|start|>assistant<|channel|>final<|message|>Hi<|return|>", allowed_special="all") == \
        [200006, 173781, 200005, 17196, 200008, 12194, 200002]
    assert enc.n_vocab == 201088


def test_shared_special_id_decodes_like_tiktoken(encoding_pair):
    ours, theirs = encoding_pair("o200k_harmony")
    assert ours.encode("<|reserved_200018|>", allowed_special="all") == [200018]
    assert ours.encode("<|endofprompt|>", allowed_special="all") == [200018]
    assert ours.decode([200018]) == theirs.decode([200018]) == "<|endofprompt|>"
