"""Many pieces merged in rounds together give each piece's own BPE."""
from __future__ import annotations

import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import bpe_batch, get_encoding
from refimpl.bpe import bpe_merge_textbook, byte_pair_encode
from refimpl.bpe_batch import TokenIndex, _SortedKeys, encode_many


def textbook_ids(ranks, piece):
    return [ranks[part] for part in bpe_merge_textbook(ranks, piece)]


@st.composite
def ranks_and_pieces(draw):
    """A random vocabulary over "abc" (all single bytes + random merges) and some pieces."""
    def abc(b):
        return bytes(b"abc"[x % 3] for x in b)
    merges = draw(st.lists(st.binary(min_size=2, max_size=5).map(abc), max_size=25, unique=True))
    ranks = {bytes([i]): i for i in range(256)}
    for m in merges:
        ranks.setdefault(m, len(ranks))
    pieces = draw(st.lists(st.binary(max_size=40).map(abc), max_size=30))
    return ranks, pieces


@given(ranks_and_pieces(), st.sampled_from([0, 3, 1000]))
def test_rounds_equal_the_textbook_on_random_vocabularies(case, finish_alone):
    # finish_alone 0: rounds to the end; 1000: every piece finished by the one-piece loop
    # from its first state; 3: both, switching part way.
    ranks, pieces = case
    with mock.patch.object(bpe_batch, "FINISH_ALONE", finish_alone):
        assert encode_many(pieces, ranks, TokenIndex(ranks)) == [textbook_ids(ranks, p) for p in pieces]


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_rounds_equal_byte_pair_encode_on_real_ranks(name):
    ranks = get_encoding(name)._mergeable_ranks
    rng = random.Random(2)
    words = ["tokenization", " unbelievably", "Übermaßig", " привет", "中文分词器", "==>", "  \n",
             " counterrevolutionaries", "x" * 30, " \u0928\u092e\u0938\u094d\u0924\u0947"]
    pieces = [rng.choice(words)[:rng.randrange(1, 31)].encode() for _ in range(300)]
    pieces += [bytes(rng.randrange(256) for _ in range(rng.randrange(12))) for _ in range(300)]
    with mock.patch.object(bpe_batch, "FINISH_ALONE", 0):
        assert encode_many(pieces, ranks, TokenIndex(ranks)) == [byte_pair_encode(p, ranks) for p in pieces]


def test_a_hash_match_whose_bytes_differ_is_no_token():
    # With base 1 a hash is the sum of the digits, so "ba" hashes like the token "ab"; the
    # byte-for-byte check must turn it away, and "bab" must not merge its "ba".
    ranks = {b"a": 0, b"b": 1, b"ab": 2}
    with mock.patch.object(bpe_batch, "_BASE", 1), mock.patch.object(bpe_batch, "_BASE_INVERSE", 1):
        index = TokenIndex(ranks)
        assert index.usable
        assert encode_many([b"bab", b"ba", b"abab"], ranks, index) == [[1, 2], [1, 0], [2, 2]]


def test_an_index_with_two_tokens_of_one_hash_is_not_used():
    ranks = {b"a": 0, b"b": 1, b"ab": 2, b"ba": 3}
    with mock.patch.object(bpe_batch, "_BASE", 1), mock.patch.object(bpe_batch, "_BASE_INVERSE", 1):
        index = TokenIndex(ranks)
    assert not index.usable
    assert encode_many([b"aba", b"bab"], ranks, index) == [[2, 0], [1, 2]]


def test_a_missing_byte_gets_the_clear_error():
    ranks = {bytes([i]): i for i in range(256) if i != ord("z")} | {b"aa": 300}
    with pytest.raises(KeyError, match=r"has no rank"):
        encode_many([b"aa", b"aaz"], ranks, TokenIndex(ranks))


def test_worked_example_from_the_docstring():
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4, b"abc": 5}
    assert encode_many([b"abc", b"cab"], ranks, TokenIndex(ranks)) == [[5], [2, 3]]
    assert encode_many([], ranks, TokenIndex(ranks)) == []


_U64 = st.integers(0, 2**64 - 1)


@given(st.lists(_U64, min_size=1, max_size=300), st.lists(_U64, max_size=100),
       st.sampled_from([0, 1, 2**63, 2**64 - 1]))
def test_bucket_search_equals_searchsorted(keys, queries, edge):
    keys = np.sort(np.array(keys + keys[:5] + [edge], dtype=np.uint64))  # with repeats
    queries = np.array(queries + keys[::7].tolist() + [edge, 0, 2**64 - 1], dtype=np.uint64)
    assert _SortedKeys(keys).search(queries).tolist() == np.searchsorted(keys, queries).tolist()
