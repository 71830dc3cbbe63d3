"""The piece cache sends each new piece down the right path, and every path agrees with tiktoken."""
from __future__ import annotations

import random
from types import SimpleNamespace
from unittest import mock

import pytest

from refimpl import bpe_long, piece_cache
from refimpl.piece_cache import PieceCache


def _rare_han(n, seed=11):
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x4E00, 0xA000)) for _ in range(n))


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_short_long_and_whole_token_pieces_match_tiktoken(encoding_pair, name):
    ours, theirs = encoding_pair(name)
    cache = PieceCache(ours._mergeable_ranks)
    for piece in [" hello", " unbelievably", "\u4e2d\u6587\u5206\u8bcd\u5668", _rare_han(4000)]:
        assert list(cache[piece]) == theirs._encode_single_piece(piece.encode())
        assert piece in cache


@pytest.mark.parametrize("after", [0, 10**9])
def test_long_pieces_with_and_without_the_token_index_match_tiktoken(encoding_pair, after):
    # after=0: the index is built at once and merges the short segments together;
    # after=10**9: it is never built and they are merged one by one
    ours, theirs = encoding_pair("cl100k_base")
    piece = _rare_han(4000)
    assert len(piece.encode()) >= bpe_long.SEGMENT_PIECE
    with mock.patch.object(piece_cache, "TOKEN_INDEX_AFTER", after), \
            mock.patch.object(piece_cache.bpe_batch, "encode_many",
                              wraps=piece_cache.bpe_batch.encode_many) as together:
        cache = PieceCache(ours._mergeable_ranks)
        assert list(cache[piece]) == theirs._encode_single_piece(piece.encode())
    assert together.call_count == (1 if after == 0 else 0)
    assert (cache._index is not None) == (after == 0)


def test_long_pieces_go_one_by_one_when_the_token_index_is_not_usable(encoding_pair):
    # An index with two tokens of one hash is never used (refimpl.bpe_batch): neither to merge
    # short segments together nor for the safe-merge tables. The answer stays the same.
    ours, theirs = encoding_pair("cl100k_base")
    piece = _rare_han(4000)
    unusable = SimpleNamespace(usable=False)
    with mock.patch.object(piece_cache.bpe_batch, "TokenIndex", lambda ranks: unusable), \
            mock.patch.object(piece_cache, "TOKEN_INDEX_AFTER", 0), \
            mock.patch.object(piece_cache, "SAFE_TABLES_AFTER", 0), \
            mock.patch.object(piece_cache.bpe_batch, "encode_many", side_effect=AssertionError), \
            mock.patch.object(piece_cache.bpe_safe, "SafeMerges", side_effect=AssertionError):
        cache = PieceCache(ours._mergeable_ranks)
        assert list(cache[piece]) == theirs._encode_single_piece(piece.encode())
        assert cache._token_index(1) is None and cache._safe_merges(10**6, True) is None


def test_the_token_index_is_built_once_long_pieces_bring_enough_segments():
    ranks = {b"a": 0, b"b": 1, b"ab": 2}
    cache = PieceCache(ranks)
    with mock.patch.object(piece_cache, "TOKEN_INDEX_AFTER", 100):
        assert cache._token_index(60) is None
        index = cache._token_index(40)
        assert index is not None and index is cache._token_index(0)


def test_a_long_piece_with_few_segments_builds_no_index(encoding_pair):
    ours, theirs = encoding_pair("o200k_base")
    piece = "=" * 12_000
    with mock.patch.object(piece_cache.bpe_batch, "TokenIndex", side_effect=AssertionError):
        cache = PieceCache(ours._mergeable_ranks)
        assert list(cache[piece]) == theirs._encode_single_piece(piece.encode())


def test_the_cache_is_cleared_at_its_limit():
    cache = PieceCache({b"a": 0, b"b": 1, b"ab": 2})
    with mock.patch.object(piece_cache, "PIECE_CACHE_LIMIT", 3):
        for piece in ["a", "b", "ab", "ba"]:
            cache[piece]
    assert list(cache) == ["ba"]
