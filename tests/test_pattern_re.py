"""The re programs of refimpl.pattern_re split every text exactly as regex (with Unicode 16.0)
and tiktoken do, whatever pages they cover."""
from __future__ import annotations

import random
import sys
import threading

import numpy as np
import pytest

from refimpl import pattern_re
from refimpl.pattern import SplitPattern
from refimpl.pattern_re import CharClass, ReSplit, class_ranges, text_pages
from refimpl.registry import CL100K_PAT_STR, O200K_PAT_STR, R50K_PAT_STR
from refimpl.unicode_tables import WHITE_SPACE, complement, property_ranges

PATTERNS = {"r50k_base": R50K_PAT_STR, "cl100k_base": CL100K_PAT_STR, "o200k_base": O200K_PAT_STR}
# Each code point between spaces, digits, apostrophes (contractions), slashes, newlines and
# letters of both cases: the places where the official patterns tell characters apart.
CONTEXT = "a{c}b {c}1{c}'s x'{c}{c}'LL\n{c}A{c}a/{c}\n"


def _program(pat_str: str) -> ReSplit:
    """A fresh ReSplit. Before Python 3.11 re has no possessive quantifiers, which r50k's and
    cl100k's patterns use: refimpl then splits with regex (tests/test_pattern.py)."""
    program = ReSplit.for_pattern(pat_str)
    if program is None and sys.version_info < (3, 11):
        pytest.skip("re before Python 3.11 has no possessive quantifiers")
    assert program is not None
    return program


def _reference(split: SplitPattern, text: str) -> list[str]:
    """regex's pieces: with its own tables, or with Unicode 16.0 spelled out where a character
    is one the two disagree on (tests/test_pattern.py holds that path to the exact program)."""
    return split._program_for_text(text).findall(text)


def _page_text(page: int) -> str:
    return "".join(CONTEXT.format(c=chr(cp)) for cp in range(page << 8, (page + 1) << 8))


def _pages_to_check() -> list[int]:
    """Every page of the Basic Multilingual Plane; beyond it, every page that Unicode 16.0
    assigns characters on outside the large blocks of one category (CJK extensions, private
    use), a sample of those, and a few empty pages."""
    pages = set(range(256)) | {0x200, 0x2A7, 0x300, 0x7FF, 0xEFF, 0xF00, 0x10FF}
    for name in ("Lu", "Ll", "Lt", "Lm", "M", "N", "White_Space"):
        for lo, hi in property_ranges(name):
            if hi > 0xFFFF:
                pages.update(range(max(lo, 0x10000) >> 8, (hi >> 8) + 1))
    return sorted(pages)


def test_class_ranges_reads_the_classes_of_the_official_patterns():
    letters, numbers = property_ranges("L"), property_ranges("N")
    newline = ((0x0A, 0x0A), (0x0D, 0x0D))
    merged = pattern_re._merge(letters + numbers + newline)
    assert class_ranges(r"[^\r\n\p{L}\p{N}]") == complement(merged)
    assert class_ranges(r"\p{L}") == letters
    assert class_ranges(r"\s") == WHITE_SPACE
    assert class_ranges(r"\S") == complement(WHITE_SPACE)
    assert class_ranges(r"\P{Lu}") == complement(property_ranges("Lu"))
    assert class_ranges(r"[sdmt]") == ((0x64, 0x64), (0x6D, 0x6D), (0x73, 0x74))


def test_class_ranges_reads_ranges_escapes_and_literal_brackets():
    assert class_ranges(r"[a-c\x41\u00e9]") == ((0x41, 0x41), (0x61, 0x63), (0xE9, 0xE9))
    assert class_ranges(r"[]a]") == ((0x5D, 0x5D), (0x61, 0x61))
    assert class_ranges(r"[a\-z-]") == ((0x2D, 0x2D), (0x61, 0x61), (0x7A, 0x7A))
    assert class_ranges(r"[\x00-\x1f\n]") == ((0x00, 0x1F),)


@pytest.mark.parametrize("atom", [r"\p{Greek}", r"[\d]", r"[\w]", r"[a&&b]", r"[[a]]",
                                  r"[z-a]", r"[\p{Greek}a]", r"[\x4]", r"[\b]"])
def test_class_ranges_refuses_what_it_does_not_model(atom):
    assert class_ranges(atom) is None


def test_a_class_is_written_as_the_shorter_of_itself_and_its_complement():
    latin1 = ((0, 0xFF),)
    letters = CharClass(property_ranges("L"))
    assert letters.write(latin1).startswith("[A-Z")
    assert CharClass(complement(property_ranges("L"))).write(latin1).startswith("[^A-Z")
    # On the 82 pages of CJK ideographs every character is a letter: none to list.
    cjk = ((0x4E00, 0x9FFF),)
    assert letters.write(cjk) == pattern_re._ALWAYS
    assert CharClass(property_ranges("N")).write(cjk) == pattern_re._NEVER
    # Inside (?i: a class is written whole, whatever the pages.
    assert CharClass(((0x73, 0x73),), ignorecase=True).write(cjk) == "[s]"


def test_text_pages_finds_every_page_in_every_part_of_a_long_text(monkeypatch):
    monkeypatch.setattr(pattern_re, "_CODEPOINTS_AT_ONCE", 4)
    text = "abcd" * 3 + "\u0101" + "efg" + "\U0001F600"  # Latin Extended-A, then an emoji
    assert np.flatnonzero(text_pages(text)).tolist() == [0, 0x1, 0x1F6]
    assert np.flatnonzero(text_pages("\ud800x")).tolist() == [0, 0xD8]  # a lone surrogate
    assert np.flatnonzero(text_pages("")).tolist() == [0]


@pytest.mark.parametrize("name", list(PATTERNS))
def test_each_page_alone_splits_like_regex(name):
    # A fresh program for each page, covering that page and page 0 only: every character of
    # the page, in context, against regex. (A class written over too few pages, or as the
    # wrong complement, shows here.)
    split = SplitPattern(PATTERNS[name])
    for page in _pages_to_check():
        text = _page_text(page)
        program = _program(PATTERNS[name])
        pieces = program.program_for(text).findall(text)
        assert program.covered_pages() == sorted({0, page})
        assert pieces == _reference(split, text), f"page {page:#x}"


@pytest.mark.parametrize("name", list(PATTERNS))
def test_a_growing_program_stays_exact_and_compiles_a_bounded_number_of_times(name):
    split = SplitPattern(PATTERNS[name])
    program = _program(PATTERNS[name])
    pages = [p for p in _pages_to_check() if p]
    random.Random(5).shuffle(pages)
    for page in pages[:pattern_re.MAX_RECOMPILES + 3]:
        text = "x" + chr((page << 8) + 0x41) + " \u00e9'" + chr((page << 8) + 0x7F)
        assert program.program_for(text).findall(text) == _reference(split, text)
    assert program.compiles == pattern_re.MAX_RECOMPILES + 1  # the last one covers everything
    assert len(program.covered_pages()) == pattern_re.N_PAGES
    text = "".join(_page_text(p) for p in pages[-20:])
    assert program.program_for(text).findall(text) == _reference(split, text)
    assert program.compiles == pattern_re.MAX_RECOMPILES + 1  # nothing left to cover


def test_threads_that_reach_new_pages_at_once_all_get_exact_pieces():
    split = SplitPattern(O200K_PAT_STR)
    program = _program(O200K_PAT_STR)
    texts = [_page_text(p) for p in (0x01, 0x03, 0x04, 0x05, 0x06, 0x09, 0x0E, 0x1E, 0x20,
                                      0x30, 0x4E, 0xAC, 0x1F6, 0x1D4)]
    expected = [_reference(split, t) for t in texts]
    wrong = []

    def work(order):
        for i in order:
            if program.program_for(texts[i]).findall(texts[i]) != expected[i]:
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(random.Random(k).sample(range(len(texts)), len(texts)),))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    assert set(program.covered_pages()) >= {0x01, 0x4E, 0x1F6}


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_every_character_of_the_multilingual_plane_splits_like_tiktoken(encoding_pair, name):
    ours, theirs = encoding_pair(name)
    cps = [cp for cp in range(0x80, 0x10000) if not 0xD800 <= cp <= 0xDFFF]
    for start in range(0, len(cps), 8192):
        text = "".join(f" {chr(cp)}1'{chr(cp)}s\n{chr(cp)}" for cp in cps[start:start + 8192])
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
