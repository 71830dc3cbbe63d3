"""The shortcuts of refimpl.pattern_o200k match what o200k's official pattern matches."""
from __future__ import annotations

import random

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from refimpl.pattern import SplitPattern
from refimpl.pattern_o200k import SHORTCUTS, faster_equivalent
from refimpl.registry import O200K_PAT_STR

# Every kind of character the proofs tell apart: lowercase (l), upper and title case (u),
# modifier and other letters (b), marks (m), numbers, whitespace with and without newlines,
# punctuation including ' and /, and the letters of the contractions (with the long s, U+017F,
# which (?i) matches as s).
ALPHABET = ("azs\u00e9\u017f\u00df" "AZS\u00c9\u01c5" "\u00aa\u02b0\u4e2d\u0e01" "\u0301\u0903"
            "09\u00b2\u0663" " \t\n\r\u00a0\u3000" "'/.-_(\u2019" "tTlLvVeErRdDmM")
texts = st.text(st.sampled_from(ALPHABET), max_size=40)
OFFICIAL = regex.compile(O200K_PAT_STR)


def _check_shortcuts_on(text: str) -> None:
    for number, shortcut in enumerate(SHORTCUTS, 1):
        program = regex.compile(shortcut)
        for pos in range(len(text)):
            m = program.match(text, pos)
            if m:
                assert OFFICIAL.match(text, pos).span() == m.span(), (f"S{number}", text, pos)


@given(text=texts)
def test_each_shortcut_matches_what_the_official_pattern_matches(text):
    _check_shortcuts_on(text)


def test_each_shortcut_on_many_random_texts():
    rng = random.Random(200)
    for _ in range(1500):
        _check_shortcuts_on("".join(rng.choice(ALPHABET) for _ in range(rng.randrange(30))))


def test_every_shortcut_is_used_on_the_alphabet():
    # A shortcut that never matched would prove nothing above.
    rng = random.Random(201)
    text = "".join(rng.choice(ALPHABET) for _ in range(5000))
    for number, shortcut in enumerate(SHORTCUTS, 1):
        program = regex.compile(shortcut)
        assert any(program.match(text, pos) for pos in range(len(text))), f"S{number}"


@given(text=texts)
def test_the_faster_pattern_splits_like_the_official_one(text):
    split = SplitPattern(O200K_PAT_STR)
    assert split.findall(text) == split.exact_findall(text)
    assert regex.findall(faster_equivalent(O200K_PAT_STR), text) == OFFICIAL.findall(text)


@given(text=st.text(st.characters(max_codepoint=127), max_size=60))
def test_the_ascii_program_of_the_faster_pattern_is_exact(text):
    split = SplitPattern(O200K_PAT_STR)
    assert split.program_for(text) is split._ascii
    assert split._ascii.findall(text) == split.exact_findall(text)


@pytest.mark.parametrize("name", ["gpt2", "r50k_base", "cl100k_base"])
def test_other_patterns_are_left_as_they_are(name):
    from refimpl import get_encoding

    pat_str = get_encoding(name)._pat_str
    assert faster_equivalent(pat_str) == pat_str
