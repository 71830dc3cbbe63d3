"""Checks on what callers pass to encode (the messages are tested in test_core.py too)."""
from __future__ import annotations

import pytest

from refimpl.inputs import check_text, fix_surrogates, literal_alternation, token_set


def test_fix_surrogates_joins_pairs_and_replaces_lone_ones():
    assert fix_surrogates("a\ud83d\ude00b") == "a\U0001F600b"
    assert fix_surrogates("\ud800x") == "\ufffdx"


def test_token_set():
    assert token_set("allowed_special", "all") == "all"
    assert token_set("allowed_special", ["<|a|>"]) == frozenset({"<|a|>"})
    with pytest.raises(TypeError, match=r"`allowed_special` must be \"all\" or a set of special-token strings, "
                                        r"got the string '<\|a\|>'; wrap it in a set: allowed_special=\{'<\|a\|>'\}"):
        token_set("allowed_special", "<|a|>")


def test_check_text():
    check_text("ok")
    with pytest.raises(TypeError, match=r"text must be a str, got bytearray: decode bytes first"):
        check_text(bytearray(b"x"))


def test_longest_special_token_wins():
    assert literal_alternation(frozenset({"<|a", "<|a|>"})).search("x<|a|>").group() == "<|a|>"
