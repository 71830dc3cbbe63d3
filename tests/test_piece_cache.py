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


def test_long_pieces_take_the_one_by_one_path_when_the_token_index_is_not_usable(encoding_pair):
    # An index with two tokens of one hash is never used (refimpl.bpe_batch); the long piece
    # must then go through bpe_long.encode_long_piece, with the same answer.
    ours, theirs = encoding_pair("cl100k_base")
    piece = _rare_han(4000)
    assert len(piece.encode()) >= bpe_long.SEGMENT_PIECE
    unusable = SimpleNamespace(usable=False)
    with mock.patch.object(piece_cache.bpe_batch, "TokenIndex", lambda ranks: unusable), \
            mock.patch.object(bpe_long, "encode_long_piece_batched", side_effect=AssertionError), \
            mock.patch.object(bpe_long, "encode_long_piece", wraps=bpe_long.encode_long_piece) as one_by_one:
        cache = PieceCache(ours._mergeable_ranks)
        assert list(cache[piece]) == theirs._encode_single_piece(piece.encode())
    assert one_by_one.call_count == 1


def test_the_cache_is_cleared_at_its_limit():
    cache = PieceCache({b"a": 0, b"b": 1, b"ab": 2})
    with mock.patch.object(piece_cache, "PIECE_CACHE_LIMIT", 3):
        for piece in ["a", "b", "ab", "ba"]:
            cache[piece]
    assert list(cache) == ["ba"]
