"""The textbook merge, the heap merge and tiktoken agree; long pieces are O(n log n)."""
from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import get_encoding
from refimpl.bpe import bpe_merge_fast, bpe_merge_heap, bpe_merge_textbook, byte_pair_encode, byte_pair_split

SMALL_RANKS = {bytes([i]): i for i in range(256)} | {b"ab": 256, b"aa": 257, b"aab": 258, b"ba": 259, b"abab": 260}


@st.composite
def ranks_and_piece(draw):
    """A random vocabulary over a small alphabet (all single bytes + random merges) and a piece."""
    alphabet = b"abc"
    merges = draw(st.lists(st.binary(min_size=2, max_size=5).map(lambda b: bytes(alphabet[x % 3] for x in b)),
                           max_size=25, unique=True))
    ranks = {bytes([i]): i for i in range(256)}
    for m in merges:
        ranks.setdefault(m, len(ranks))
    piece = draw(st.binary(max_size=300).map(lambda b: bytes(alphabet[x % 3] for x in b)))
    return ranks, piece


@given(ranks_and_piece())
def test_heap_equals_textbook_on_random_vocabularies(case):
    ranks, piece = case
    expected = bpe_merge_textbook(ranks, piece)
    assert bpe_merge_heap(ranks, piece) == expected
    assert bpe_merge_fast(ranks, piece) == expected


@given(st.text(max_size=200))
def test_heap_equals_textbook_on_real_ranks(text):
    ranks = get_encoding("cl100k_base")._mergeable_ranks
    piece = text.encode("utf-8")
    expected = bpe_merge_textbook(ranks, piece)
    assert bpe_merge_heap(ranks, piece) == expected
    assert bpe_merge_fast(ranks, piece) == expected


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
@given(piece=st.binary(min_size=1, max_size=160))
def test_single_piece_matches_tiktoken(encoding_pair, name, piece):
    ours, theirs = encoding_pair(name)
    assert ours._encode_single_piece(piece) == theirs._encode_single_piece(piece)


def test_worked_example_from_the_docstring():
    assert bpe_merge_textbook(SMALL_RANKS, b"aab") == [b"aab"]
    assert bpe_merge_textbook(SMALL_RANKS, b"abab") == [b"abab"]
    # ties: the leftmost of two equal-rank pairs merges first
    assert bpe_merge_textbook(SMALL_RANKS, b"aaa") == [b"aa", b"a"]
    assert bpe_merge_heap(SMALL_RANKS, b"aaa") == [b"aa", b"a"]
    assert bpe_merge_fast(SMALL_RANKS, b"aaa") == [b"aa", b"a"]


def test_empty_and_single_byte_pieces():
    assert bpe_merge_heap(SMALL_RANKS, b"") == [] == bpe_merge_textbook(SMALL_RANKS, b"") == bpe_merge_fast(SMALL_RANKS, b"")
    assert byte_pair_encode(b"a", SMALL_RANKS) == [97]
    assert byte_pair_split(b"x" * 150, SMALL_RANKS) == [b"x"] * 150


def test_missing_byte_error_says_what_to_do():
    with pytest.raises(KeyError, match=r"byte b'z' of piece b'az' has no rank.*all 256"):
        byte_pair_encode(b"az", {b"a": 0})


def test_a_million_spaces_then_a_letter_encodes_and_round_trips():
    # tiktoken 0.14.0 raises ValueError ("Max stack size exceeded" in its regex) on this input;
    # older releases raised PanicException.
    enc = get_encoding("cl100k_base")
    text = " " * 1_000_000 + "a"
    start = time.perf_counter()
    tokens = enc.encode(text)
    elapsed = time.perf_counter() - start
    assert enc.decode(tokens) == text
    assert elapsed < 60, f"took {elapsed:.1f}s"


def test_heap_merge_is_n_log_n_on_one_megabyte_pieces():
    # A quadratic merge would take hours here; the heap takes seconds. We compare against a
    # piece 8 times smaller so that the bound is a ratio, not a machine-dependent time.
    ranks = get_encoding("o200k_base")._mergeable_ranks
    big, small = b"ab" * 500_000, b"ab" * 62_500
    t0 = time.perf_counter()
    bpe_merge_heap(ranks, small)
    t1 = time.perf_counter()
    parts = bpe_merge_heap(ranks, big)
    t2 = time.perf_counter()
    assert b"".join(parts) == big
    assert (t2 - t1) < 8 * 4 * max(t1 - t0, 1e-3), (t1 - t0, t2 - t1)

