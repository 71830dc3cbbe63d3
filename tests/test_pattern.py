"""Splitting with Python's regex gives tiktoken's pieces, whatever Unicode version regex has."""
from __future__ import annotations

import random
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import pattern
from refimpl.pattern import SplitPattern, _disagreement, _translate
from refimpl.registry import CL100K_PAT_STR, O200K_PAT_STR, R50K_PAT_STR

PATTERNS = {"r50k_base": R50K_PAT_STR, "cl100k_base": CL100K_PAT_STR, "o200k_base": O200K_PAT_STR}
CONTEXTS = ["a{c}b", " {c}1", "{c}{c}'s", "\n{c} ", "A{c}a", "{c}'LL", "1{c}2", "x{c}"]


def _code_points_to_check() -> list[int]:
    """Every code point on which the installed regex disagrees with Unicode 16.0, plus a fixed
    sample of the rest."""
    suspects = {cp for name in ("L", "N", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "White_Space")
                for lo, hi in _disagreement(name) for cp in range(lo, hi + 1)}
    rng = random.Random(16)
    sample = {rng.randrange(0x110000) for _ in range(3000)}
    return sorted(cp for cp in suspects | sample if not 0xD800 <= cp <= 0xDFFF)


@pytest.mark.parametrize("name", list(PATTERNS))
def test_every_disagreeing_code_point_splits_like_tiktoken(encoding_pair, name):
    ours, theirs = encoding_pair(name)
    cps = _code_points_to_check()
    for start in range(0, len(cps), 2000):
        text = "".join(ctx.format(c=chr(cp)) for cp in cps[start:start + 2000] for ctx in CONTEXTS)
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)


def test_the_installed_regex_is_newer_than_unicode_16():
    # Not a requirement, a fact worth knowing: if this fails, regex has reverted to Unicode 16
    # and the exact path is no longer exercised by the test above; keep that test anyway.
    assert _disagreement("L"), "regex now agrees with Unicode 16.0 on letters"


@pytest.mark.parametrize("pat_str", list(PATTERNS.values()))
@given(text=st.text(st.characters(exclude_characters="\U00010940"), max_size=40))
def test_fast_and_exact_programs_agree_without_suspects(pat_str, text):
    split = SplitPattern(pat_str)
    if split._classify(set(text)):
        return  # a suspect character: only the exact program is right
    assert split.fast_findall(text) == split.exact_findall(text)


@pytest.mark.parametrize("pat_str", list(PATTERNS.values()))
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
def test_findall_without_re_uses_regex_exactly(pat_str, text):
    # Patterns that refimpl.pattern_re cannot write (and Pythons before 3.11) split non-ASCII
    # text with regex: the fast program, or the exact one when a suspect character is present.
    split = SplitPattern(pat_str)
    split._re = None
    assert split.findall(text) == split.exact_findall(text)


@pytest.mark.parametrize("pat_str", list(PATTERNS.values()))
@given(text=st.text(st.characters(max_codepoint=127), max_size=60))
def test_ascii_program_agrees_on_ascii_text(pat_str, text):
    split = SplitPattern(pat_str)
    assert split.program_for(text) is split._ascii
    assert split._ascii.findall(text) == split.fast_findall(text) == split.exact_findall(text)


@pytest.mark.parametrize("pat_str", list(PATTERNS.values()))
@given(text=st.lists(st.one_of(st.text(st.characters(max_codepoint=127), max_size=20),
                               st.sampled_from(["\u2019", "\u2014", "\u00e9", "\u00a0", "\u017f", "\u212a",
                                                "\u0301", "\u3000", "\u00b2", "\U00010940", "\u01c5"])),
                     max_size=20).map("".join))
def test_findall_on_mostly_ascii_text_is_exact(pat_str, text):
    split = SplitPattern(pat_str)
    assert split.findall(text) == split.exact_findall(text)


def test_patterns_re_cannot_write_are_left_to_regex():
    assert not SplitPattern(r"\w+|\d|\s")._parsed.modelled
    assert not SplitPattern(r"(?x) a | b")._parsed.modelled
    for pat_str in (r"\w+|\d|\s", r"(?x) a | b", r"\p{Greek}+|[^\p{Greek}]+"):
        assert SplitPattern(pat_str)._re_split() is None
    split = SplitPattern(r"\p{Greek}+|[^\p{Greek}]+")
    assert split.findall("abc \u03b1\u03b2\u03b3 d") == ["abc ", "\u03b1\u03b2\u03b3", " d"]
    # re takes every official pattern from Python 3.11 on (possessive quantifiers; o200k's
    # pattern has none, so re takes it on 3.10 too)
    if sys.version_info >= (3, 11):
        assert all(SplitPattern(p)._re_split() is not None for p in PATTERNS.values())
    assert SplitPattern(O200K_PAT_STR)._re_split() is not None


def test_the_re_program_for_non_ascii_text_is_built_on_the_first_such_text():
    # Its class tables take milliseconds; a process that only splits ASCII never builds them.
    split = SplitPattern(O200K_PAT_STR)
    split.findall("plain ASCII text")
    assert split._re is pattern._NOT_BUILT
    assert split.findall("caf\u00e9 au lait") == ["caf\u00e9", " au", " lait"]
    assert split._re is not pattern._NOT_BUILT and split._re is not None


def test_ascii_program_handles_classes_with_no_ascii_members():
    # \p{Lo} has no ASCII members: alone it becomes (?!), inside a class it adds nothing.
    split = SplitPattern(r"\p{Lo}|[\p{Lo}]|[\p{Lo}\p{Lu}]+|[^\p{Lo}]")
    assert split._ascii.findall("aBC") == split.exact_findall("aBC") == ["a", "BC"]


def test_dollar_means_end_of_text_as_in_rust(tiktoken):
    # Python's $ also matches before a final newline; Rust's does not. "a$" must not match "a\n".
    ranks = {bytes([i]): i for i in range(256)}
    probe = tiktoken.Encoding("probe", pat_str=r"a$|\n", mergeable_ranks=ranks, special_tokens={})
    expected = [bytes(probe.encode_ordinary("a\n")).decode()]
    assert SplitPattern(r"a$|\n").findall("a\n") == expected
    assert SplitPattern(r"a$|\n").findall("a\n\u00e9") == expected


def test_translation_keeps_classes_and_escapes():
    parsed = _translate(r"[^\s\p{L}]\pN\P{Lu}\$[]\p{L}]\p{Greek}")
    assert parsed.fast == r"[^\s\p{L}]\pN\P{Lu}\$[]\p{L}]\p{Greek}"
    assert parsed.properties == {"White_Space", "L", "N", "Lu"}
    assert "\\p{Greek}" in parsed.exact  # scripts are left to regex's own tables
    assert parsed.exact.startswith("[^\\U00000009-\\U0000000d")


def test_bad_pattern_error_names_the_pattern():
    with pytest.raises(ValueError, match=r"cannot compile pat_str '\(unclosed'"):
        SplitPattern("(unclosed")
    with pytest.raises(ValueError, match=r"unterminated \\p\{ in pattern"):
        SplitPattern(r"\p{L")


@pytest.mark.parametrize("pat_str", list(PATTERNS.values()))
def test_classifying_a_whole_text_at_once_equals_one_character_at_a_time(pat_str):
    # findall classifies the characters of a multilingual text in numpy (_program_for_text);
    # it must find exactly the suspects that the per-character _classify finds.
    cps = _code_points_to_check() + list(range(0xD7F0, 0xE010))  # and lone surrogates
    text = "".join(map(chr, cps))
    one_by_one, at_once = SplitPattern(pat_str), SplitPattern(pat_str)
    one_by_one._classify(set(text))
    program = at_once._program_for_text(text)
    assert one_by_one._suspect_chars  # the installed regex is newer than Unicode 16.0
    assert at_once._suspect_chars == one_by_one._suspect_chars
    assert at_once._safe_chars == one_by_one._safe_chars
    assert program is at_once._exact_program()
    assert at_once._program_for_text("\u00e9\u4e2d\u043f") is at_once._fast  # none suspect


def test_a_suspect_in_any_part_of_a_long_text_selects_the_exact_program(monkeypatch):
    # Long texts are checked a slice at a time (memory); a suspect in the last slice counts.
    monkeypatch.setattr(pattern, "_CODEPOINTS_AT_ONCE", 5)
    split = SplitPattern(CL100K_PAT_STR)
    suspect = chr(_disagreement("L")[0][0])
    assert split._program_for_text("\u4e2d" * 12 + suspect) is split._exact_program()
    assert split._program_for_text("\u4e2d" * 13) is split._fast
