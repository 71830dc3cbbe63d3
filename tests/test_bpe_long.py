"""Long pieces: the cuts and the rounds give the textbook merge's answer and tiktoken's."""
from __future__ import annotations

import functools
import random
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import bpe_long, get_encoding
from refimpl.bpe import bpe_merge_textbook, byte_pair_encode
from refimpl.bpe_batch import TokenIndex
from refimpl.bpe_long import (
    bpe_rounds_bounds,
    encode_long_piece,
    joinable_pairs,
    joinable_pairs_reference,
    unmergeable_cuts,
)

from test_bpe import ranks_and_piece


def textbook_ids(ranks, piece):
    return [ranks[part] for part in bpe_merge_textbook(ranks, piece)]


@functools.lru_cache(maxsize=None)
def _joinable(name):
    return joinable_pairs(get_encoding(name)._mergeable_ranks)


# Cuts

@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_joinable_pairs_table_equals_the_set_of_pairs_inside_tokens(name):
    ranks = get_encoding(name)._mergeable_ranks
    table = joinable_pairs(ranks)
    expected = joinable_pairs_reference(ranks)
    assert {bytes(divmod(int(i), 256)) for i in table.nonzero()[0]} == expected


def test_cuts_fall_only_between_bytes_no_token_holds():
    ranks = get_encoding("cl100k_base")._mergeable_ranks
    piece = b"qxzjvkabc" * 20
    cuts = unmergeable_cuts(piece, _joinable("cl100k_base"))
    assert cuts  # this piece has some
    for i in cuts:
        assert all(piece[i - 1:i + 1] not in token for token in ranks if len(token) > 1)


@given(ranks_and_piece())
def test_long_piece_encoding_equals_textbook_on_random_vocabularies(case):
    # Small random vocabularies leave many pairs of a/b/c out of every token (many cuts) and
    # make long runs of equal pairs (many rounds); both must leave the merges unchanged.
    ranks, piece = case
    with mock.patch.object(bpe_long, "ROUNDS_PIECE", 2):
        assert encode_long_piece(piece, ranks, joinable_pairs(ranks)) == textbook_ids(ranks, piece)


# Rounds

@given(ranks_and_piece(), st.sampled_from([0, 1 / 256, 1 / 4]))
def test_rounds_equal_textbook_on_random_vocabularies(case, min_share):
    ranks, piece = case
    bounds = bpe_rounds_bounds(ranks, piece, min_share=min_share)
    assert [piece[a:b] for a, b in zip(bounds, bounds[1:])] == bpe_merge_textbook(ranks, piece)


@given(st.integers(1, 40), st.integers(0, 3))
def test_rounds_on_runs_of_one_byte(n, extra_rank_order):
    # "a" * n with tokens a, aa, aaa, aaaa in several rank orders, some with a longer token
    # learned before a shorter one (a round must then give way to the heap).
    orders = [[2, 3, 4], [4, 2, 3], [3, 4, 2], [4, 3, 2]]
    ranks = {bytes([i]): i for i in range(256)}
    for k in orders[extra_rank_order]:
        ranks[b"a" * k] = len(ranks)
    piece = b"a" * n
    bounds = bpe_rounds_bounds(ranks, piece, min_share=0)
    assert [piece[a:b] for a, b in zip(bounds, bounds[1:])] == bpe_merge_textbook(ranks, piece)


def test_worked_example_from_the_docstring():
    ranks = {b"a": 0, b"aa": 1, b"aaaa": 2}
    assert bpe_rounds_bounds(ranks, b"aaaaa", min_share=0) == [0, 4, 5]
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}
    assert unmergeable_cuts(b"abcab", joinable_pairs(ranks)) == [3]


# Against tiktoken

@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
@given(piece=st.binary(min_size=100, max_size=600))
def test_long_piece_encoding_of_arbitrary_bytes_matches_tiktoken(encoding_pair, name, piece):
    ours, theirs = encoding_pair(name)
    ranks = ours._mergeable_ranks
    with mock.patch.object(bpe_long, "ROUNDS_PIECE", 50):
        assert encode_long_piece(piece, ranks, _joinable(name)) == theirs._encode_single_piece(piece)


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
@given(unit=st.text(alphabet=" =ab\u00e9\u4e00", min_size=1, max_size=4), repeat=st.integers(50, 400))
def test_rounds_on_periodic_pieces_match_tiktoken(encoding_pair, name, unit, repeat):
    ours, theirs = encoding_pair(name)
    piece = (unit * repeat).encode()
    bounds = bpe_rounds_bounds(ours._mergeable_ranks, piece, min_share=0)
    ours_ids = [ours._mergeable_ranks[piece[a:b]] for a, b in zip(bounds, bounds[1:])]
    assert ours_ids == theirs._encode_single_piece(piece)


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
@given(letters=st.text(alphabet="abcdefghijklmnopqrstuvwxyzQXZ", min_size=100, max_size=3000),
       lead=st.sampled_from(["", " ", "x"]))
def test_long_letter_pieces_through_the_encoding_match_tiktoken(encoding_pair, name, letters, lead):
    # The Encoding sends only pieces of SEGMENT_PIECE bytes or more here; lower the bars so
    # that these pieces take the long path (cuts, then rounds for long segments).
    ours, theirs = encoding_pair(name)
    text = lead + letters
    ours._cache.clear()
    with mock.patch.object(bpe_long, "SEGMENT_PIECE", 100), mock.patch.object(bpe_long, "ROUNDS_PIECE", 40):
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
    ours._cache.clear()


@pytest.mark.parametrize("piece", ["a" * 200_000, " " * 200_000, "ab" * 100_000, "=" * 200_000])
def test_long_runs_through_the_encoding_match_tiktoken(encoding_pair, piece):
    ours, theirs = encoding_pair("cl100k_base")
    ours._cache.clear()
    assert ours.encode_ordinary(piece) == theirs.encode_ordinary(piece)
    ours._cache.clear()


def test_one_hundred_kilobytes_of_random_letters_match_tiktoken(encoding_pair):
    ours, theirs = encoding_pair("o200k_base")
    rng = random.Random(7)
    piece = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(100_000))
    ours._cache.clear()
    assert ours.encode_ordinary(piece) == theirs.encode_ordinary(piece)
    ours._cache.clear()


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("alphabet", ["common", "rare"])
def test_long_runs_of_han_characters_match_tiktoken(encoding_pair, name, alphabet):
    # One 60 KB piece: cut into many short segments, most of them repeated (each distinct
    # one is merged once); the first 4 KB is one non-ASCII run, which must not be taken for
    # mostly-ASCII text by the splitter.
    ours, theirs = encoding_pair(name)
    rng = random.Random(11)
    if alphabet == "common":
        chars = "\u7684\u4e00\u662f\u4e0d\u4e86\u4eba\u6211\u5728\u6709\u4ed6\u8fd9\u4e2d\u5927\u6765\u4e0a"
        piece = "".join(rng.choice(chars) for _ in range(20_000))
    else:
        piece = "".join(chr(rng.randrange(0x4E00, 0xA000)) for _ in range(20_000))
    ours._cache.clear()
    assert ours.encode_ordinary(piece) == theirs.encode_ordinary(piece)
    ours._cache.clear()


def test_a_missing_byte_in_a_long_piece_gets_the_clear_error():
    ranks = {bytes([i]): i for i in range(256) if i != ord("z")} | {b"aa": 300}
    piece = b"a" * 5000 + b"z"
    with pytest.raises(KeyError, match=r"has no rank"):
        encode_long_piece(piece, ranks, joinable_pairs(ranks))


def test_long_path_equals_byte_pair_encode_on_real_ranks():
    ranks = get_encoding("cl100k_base")._mergeable_ranks
    rng = random.Random(3)
    for alphabet in ("ab", " \n", "abc=-", "xyz"):
        piece = "".join(rng.choice(alphabet) for _ in range(6000)).encode()
        assert encode_long_piece(piece, ranks, _joinable("cl100k_base")) == byte_pair_encode(piece, ranks)


# The batched segments (refimpl.bpe_batch) against the one-by-one path

@given(ranks_and_piece(), st.sampled_from([0, 2, 7]), st.sampled_from([0, 3, 16]))
def test_batched_long_piece_equals_textbook_on_random_vocabularies(case, packed, batch):
    # packed 0: every segment is told apart by its bytes (a dict), 7: most by packed keys;
    # batch 0: no segment is merged in rounds.
    ranks, piece = case
    with mock.patch.object(bpe_long, "_PACKED_BYTES", packed), \
            mock.patch.object(bpe_long, "BATCH_SEGMENT", batch), \
            mock.patch.object(bpe_long, "ROUNDS_PIECE", 20):
        got = bpe_long.encode_long_piece_batched(piece, ranks, joinable_pairs(ranks), TokenIndex(ranks))
    assert got == textbook_ids(ranks, piece)


def test_batched_long_piece_equals_the_one_by_one_path_on_real_ranks():
    ranks = get_encoding("cl100k_base")._mergeable_ranks
    rng = random.Random(4)
    index = TokenIndex(ranks)
    for alphabet in ("ab", " \n", "abc=-", "\u4e00\u9fa5\u7684\u662f", "xyz\u00e9"):
        piece = "".join(rng.choice(alphabet) for _ in range(6000)).encode()
        assert bpe_long.encode_long_piece_batched(piece, ranks, _joinable("cl100k_base"), index) \
            == encode_long_piece(piece, ranks, _joinable("cl100k_base"))


def test_a_missing_byte_in_a_batched_long_piece_gets_the_clear_error():
    ranks = {bytes([i]): i for i in range(256) if i != ord("z")} | {b"aa": 300}
    piece = b"ab" * 2500 + b"z"
    with pytest.raises(KeyError, match=r"has no rank"):
        bpe_long.encode_long_piece_batched(piece, ranks, joinable_pairs(ranks), TokenIndex(ranks))
