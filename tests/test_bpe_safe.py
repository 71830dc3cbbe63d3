"""Safe merges: the numpy round finds exactly the rule's pairs, and BPE through them is unchanged."""
from __future__ import annotations

import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import bpe_batch, bpe_long, bpe_safe, get_encoding, piece_cache
from refimpl.bpe import bpe_merge_textbook, encode_from_bounds
from refimpl.bpe_batch import TokenIndex, _Hasher
from refimpl.bpe_long import bpe_rounds_bounds
from refimpl.piece_cache import PieceCache
from refimpl.bpe_safe import SafeMerges, end_tables_reference, merge_at, safe_pairs_reference

from test_bpe import ranks_and_piece


def textbook_bounds(ranks, piece):
    out = [0]
    for part in bpe_merge_textbook(ranks, piece):
        out.append(out[-1] + len(part))
    return out


def _state(ranks, piece, draw_cuts):
    """A state BPE can be in: the piece cut at some offsets, every part a token."""
    bounds = [0]
    for i in range(1, len(piece)):
        if draw_cuts(i) or piece[bounds[-1]:i + 1] not in ranks:
            bounds.append(i)
    bounds.append(len(piece))
    return bounds


@given(ranks_and_piece(), st.randoms(use_true_random=False))
def test_the_round_merges_exactly_the_rules_pairs(case, rnd):
    # Random vocabularies (tokens in any rank order, some never reachable by merges) and
    # random states: the numpy round and the dictionary rule agree pair for pair.
    ranks, piece = case
    if len(piece) < 2:
        return
    bounds = _state(ranks, piece, lambda i: rnd.random() < 0.6)
    parts = [piece[a:b] for a, b in zip(bounds, bounds[1:])]
    safe = SafeMerges(TokenIndex(ranks))
    data = np.frombuffer(piece, np.uint8)
    hasher = _Hasher(data)
    starts = np.array(bounds)
    new_starts, new_pairs, merged = safe.round(data, hasher, starts, safe.pairs(data, hasher, starts))
    expected = safe_pairs_reference(ranks, parts)
    gone = sorted(set(bounds) - set(new_starts.tolist()))
    assert gone == [bounds[i + 1] for i in expected]
    assert merged == len(expected)
    # the pairs it hands on are those of the new state
    assert new_pairs.tolist() == safe.pairs(data, hasher, new_starts).tolist()


@given(ranks_and_piece())
def test_safe_rounds_leave_the_textbook_answer_unchanged(case):
    ranks, piece = case
    safe = SafeMerges(TokenIndex(ranks))
    for min_share in (0, 1 / 4):
        assert bpe_rounds_bounds(ranks, piece, min_share=min_share, safe=safe) == textbook_bounds(ranks, piece)


@given(ranks_and_piece())
def test_every_safe_merge_is_one_the_textbook_makes(case):
    # Stronger than the final answer: each part a safe round makes is a part the textbook
    # merge makes too (it lies inside one final token, and is itself a token).
    ranks, piece = case
    safe = SafeMerges(TokenIndex(ranks))
    data = np.frombuffer(piece, np.uint8)
    hasher = _Hasher(data)
    starts = np.arange(len(piece) + 1)
    pairs = safe.pairs(data, hasher, starts) if len(piece) > 1 else np.empty(0, np.int64)
    final = set(textbook_bounds(ranks, piece))
    while len(starts) > 2:
        starts, pairs, merged = safe.round(data, hasher, starts, pairs)
        assert final <= set(starts.tolist())
        if not merged:
            break


def _vocab(*tokens):
    return {t.encode(): r for r, t in enumerate(tokens)}


# For each of the rule's four conditions, a vocabulary and piece where merging the pair "ab",
# which only that condition rules out, changes the answer (random vocabularies rarely build
# these).
@pytest.mark.parametrize("ranks, piece", [
    # ends(L + A): "x" takes the "a" first
    (_vocab("x", "a", "b", "xa", "ab"), b"xab"),
    # starts(B + R): "y" takes the "b" first
    (_vocab("a", "b", "y", "by", "ab"), b"aby"),
    # ends(L + T): the textbook makes "yx" then "ab"; with "ab" made first, "xab" (4) wins
    (_vocab("y", "x", "a", "b", "xab", "yx", "ab"), b"yxab"),
    # starts(T + R): the mirror image
    (_vocab("a", "b", "x", "y", "abx", "xy", "ab"), b"abxy"),
])
def test_each_condition_of_the_rule_is_needed(ranks, piece):
    i = piece.index(b"ab")
    assert i not in safe_pairs_reference(ranks, [piece[k:k + 1] for k in range(len(piece))])
    expected = [ranks[p] for p in bpe_merge_textbook(ranks, piece)]
    ab_first = [k for k in range(len(piece) + 1) if k != i + 1]
    assert encode_from_bounds(piece, ranks, ab_first) != expected
    safe = SafeMerges(TokenIndex(ranks))
    assert bpe_rounds_bounds(ranks, piece, min_share=0, safe=safe) == textbook_bounds(ranks, piece)


@given(st.integers(2, 40), st.randoms(use_true_random=False))
def test_merge_at_against_lists(parts, rnd):
    # the array step of every round, against the same merges made on plain lists
    starts = sorted(rnd.sample(range(1, 200), parts - 1))
    starts = [0] + starts + [200]
    pairs = [rnd.randrange(50) for _ in range(parts - 1)]
    chosen, k = [], 0
    while k < parts - 1:
        if rnd.random() < 0.4:
            chosen.append(k)
            k += 1
        k += 1
    new_starts, new_pairs, stale = merge_at(np.array(starts), np.array(pairs, np.int64),
                                            np.array(chosen, np.int64))
    want = [a for i, a in enumerate(starts) if i - 1 not in chosen]
    grown = {want.index(starts[k]) for k in chosen}
    want_stale = [j for j in range(len(want) - 2) if j in grown or j + 1 in grown]
    assert new_starts.tolist() == want
    assert stale.tolist() == want_stale
    for j in range(len(want) - 2):
        if j not in want_stale:  # an unchanged pair keeps its rank
            assert new_pairs[j] == pairs[starts.index(want[j])]


def test_tables_equal_the_reference_on_a_real_vocabulary():
    ranks = get_encoding("r50k_base")._mergeable_ranks
    ends, starts = end_tables_reference(ranks)
    safe = SafeMerges(TokenIndex(ranks))
    rng = random.Random(1)
    keys = rng.sample(sorted(ends), 3000) + [b"zzqx", b"\xff\xfe", b"the", b" th"]
    data = np.frombuffer(b"".join(keys), np.uint8)
    hi = np.cumsum([len(k) for k in keys])
    lo = hi - [len(k) for k in keys]
    hasher = _Hasher(data)
    none = bpe_batch._NONE
    assert safe.ends(hasher, lo, hi).tolist() == [ends.get(k, none) for k in keys]
    assert safe.starts(hasher, lo, hi).tolist() == [starts.get(k, none) for k in keys]


def test_shared_hashes_only_make_the_round_more_careful():
    # With base 1 a hash is the sum of the bytes (+1 each): "ab" and "ba", "abc" and "cab",
    # ... share hashes in the tables, which can only lower their ranks. The answer must not
    # change. (The token index stays usable: these tokens have distinct sums.)
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4, b"abc": 5, b"cc": 6}
    rng = random.Random(3)
    with mock.patch.object(bpe_batch, "_BASE", 1), mock.patch.object(bpe_batch, "_BASE_INVERSE", 1):
        index = TokenIndex(ranks)
        assert index.usable
        safe = SafeMerges(index)
        for _ in range(200):
            piece = bytes(rng.choice(b"abc") for _ in range(rng.randrange(2, 60)))
            assert bpe_rounds_bounds(ranks, piece, min_share=0, safe=safe) == textbook_bounds(ranks, piece)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_long_runs_of_common_letters_through_the_piece_cache_match_tiktoken(encoding_pair, name):
    # No cut (every pair of these letters is in some token) and no long runs of equal pairs:
    # the safe rounds do most of the merging (tables built at once, as for a megabyte).
    ours, theirs = encoding_pair(name)
    rng = random.Random(8)
    piece = "".join(rng.choice("etaoinsh") for _ in range(40_000))
    with mock.patch.object(piece_cache, "SAFE_TABLES_AFTER", 10_000), \
            mock.patch.object(SafeMerges, "round", autospec=True, side_effect=SafeMerges.round) as spy:
        assert list(PieceCache(ours._mergeable_ranks)[piece]) == theirs.encode_ordinary(piece)
    assert spy.call_count > 0


def test_the_tables_are_asked_for_upfront_and_when_the_heap_would_start():
    # bpe_rounds_bounds asks the function with the most parts the heap could take, then, with
    # no tables, with the parts the rounds of equal ranks leave to the heap (never when nothing
    # is left to merge); the answer never changes.
    rng = random.Random(3)
    ranks = {bytes([c]): i for i, c in enumerate(b"abcd")}
    for token in (b"ab", b"cd", b"bc", b"da", b"abcd", b"cda", b"bcd"):
        ranks[token] = len(ranks)
    piece = bytes(rng.choice(b"abcd") for _ in range(3000))
    want = textbook_bounds(ranks, piece)
    tables = SafeMerges(TokenIndex(ranks))
    for answers in ([None, None], [None, tables], [tables]):
        calls = []

        def ask(parts, upfront, answers=list(answers)):
            calls.append((parts, upfront))
            return answers.pop(0)

        # min_share=0.9: rounds of equal ranks stop paying while pairs are left to merge
        assert bpe_rounds_bounds(ranks, piece, min_share=0.9, safe=ask) == want
        assert calls[0] == (len(piece) - 1, True)
        assert len(calls) == len(answers)
        if len(calls) == 2:
            assert calls[1][1] is False and 0 < calls[1][0] < len(piece)


def test_the_tables_are_not_asked_for_again_when_nothing_is_left_to_merge():
    ranks = {b"a": 0, b"aa": 1, b"aaaa": 2}
    calls = []

    def ask(parts, upfront):
        calls.append((parts, upfront))

    assert bpe_rounds_bounds(ranks, b"a" * 4097, min_share=0, safe=ask) == textbook_bounds(ranks, b"a" * 4097)
    assert calls == [(4096, True)]


def test_the_cache_builds_the_tables_once_they_pay():
    ranks = {b"a": 0, b"b": 1, b"ab": 2}
    cache = PieceCache(ranks)
    cache._index = TokenIndex(ranks)
    with mock.patch.object(piece_cache, "SAFE_TABLES_AFTER", 100):
        assert cache._safe_merges(98, True) is None       # one segment too short to pay
        assert cache._safe_merges(60, False) is None      # the heap's parts add up ...
        assert cache._heap_parts == 60
        tables = cache._safe_merges(40, False)            # ... to the price: built
        assert isinstance(tables, SafeMerges)
        assert cache._safe_merges(0, True) is tables      # and kept
    fresh = PieceCache(ranks)
    fresh._index = cache._index
    with mock.patch.object(piece_cache, "SAFE_TABLES_AFTER", 100):
        assert isinstance(fresh._safe_merges(99, True), SafeMerges)  # 100 bytes: one that pays


@pytest.mark.parametrize("piece", ["=" * 30_000, " " * 30_000 + "x"])
def test_runs_that_equal_ranks_finish_never_build_the_tables(encoding_pair, piece):
    ours, theirs = encoding_pair("cl100k_base")
    cache = PieceCache(ours._mergeable_ranks)
    with mock.patch.object(bpe_safe, "SafeMerges", side_effect=AssertionError):
        got = [t for p in ours._split.findall(piece) for t in cache[p]]
    assert got == theirs.encode_ordinary(piece)


def test_negative_and_sparse_ranks():
    # refimpl accepts any integer ranks; the tables store them relative to the lowest
    ranks = {b"a": -5, b"b": -4, b"c": 10**9, b"ab": -1, b"bc": 7, b"abc": 3}
    safe = SafeMerges(TokenIndex(ranks))
    rng = random.Random(5)
    for _ in range(100):
        piece = bytes(rng.choice(b"abc") for _ in range(rng.randrange(1, 40)))
        assert bpe_rounds_bounds(ranks, piece, min_share=0, safe=safe) == textbook_bounds(ranks, piece)


def test_the_docstring_example():
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}
    assert safe_pairs_reference(ranks, [b"a", b"b", b"c"]) == [0]
    assert bpe_rounds_bounds(ranks, b"abc", min_share=0, safe=SafeMerges(TokenIndex(ranks))) == [0, 2, 3]


def test_a_missing_byte_gets_the_clear_error():
    ranks = {bytes([i]): i for i in range(256) if i != ord("z")} | {b"ab": 300}
    cache = bpe_long._SegmentTokens(ranks, safe=SafeMerges(TokenIndex(ranks)))
    with mock.patch.object(bpe_long, "ROUNDS_PIECE", 10), pytest.raises(KeyError, match=r"has no rank"):
        cache[b"ab" * 20 + b"z"]
