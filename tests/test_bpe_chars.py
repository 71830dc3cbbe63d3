"""Starting BPE from whole characters: the rule's index equals the rule read off the table, and
BPE from the characters it allows equals BPE from bytes (the textbook merge, and tiktoken)."""
from __future__ import annotations

import functools
import gzip
import pathlib
import random
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refimpl import Encoding, bpe_chars, get_encoding
from refimpl.bpe import bpe_merge_textbook, byte_pair_encode, encode_from_bounds
from refimpl.bpe_chars import (
    CharStarts,
    char_bounds_reference,
    char_table,
    parse_table_line,
    shipped_table,
    token_ends,
)
from refimpl.errors import RankFileError
from refimpl.load import EXPECTED_HASHES, bundled_name, load_bundled_ranks

# Characters that share lead bytes (Cyrillic d0/d1, CJK e4 b8, a 4-byte emoji), so that
# random tokens cut them in every way, plus ASCII around them.
ALPHABET = ["\u043f", "\u0440", "\u0430", "\u0435", "\u4e2d", "\u4e01", "\u4e0a", "\U0001f600", " ", "a", "."]


def textbook_ids(ranks, data):
    return [ranks[part] for part in bpe_merge_textbook(ranks, data)]


def random_case(rng: random.Random, n_tokens: int, shuffle_table: bool = False):
    """A random vocabulary over the bytes of ALPHABET's characters: all 256 single bytes, then
    byte strings cut anywhere out of random text (whole characters, parts of characters, runs
    across characters) with the ranks shuffled, so that any token may come before the
    characters it holds; and eight pieces of text to encode."""
    text = "".join(rng.choice(ALPHABET) for _ in range(400)).encode()
    tokens = {text[i:i + rng.randint(2, 7)] for i in (rng.randrange(len(text) - 8) for _ in range(n_tokens))}
    tokens |= {ch.encode() for ch in ALPHABET if rng.random() < 0.8 and len(ch.encode()) > 1}
    tokens = sorted(tokens)
    rng.shuffle(tokens)
    ranks = {bytes([i]): i for i in range(256)}
    ranks.update((token, 256 + i) for i, token in enumerate(tokens))
    if shuffle_table:  # a table not in rank order takes the other way into the index
        items = list(ranks.items())
        rng.shuffle(items)
        ranks = dict(items)
    pieces = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12))) for _ in range(8)]
    return ranks, pieces


@given(st.integers(0, 2**32 - 1), st.integers(5, 120), st.booleans())
def test_bpe_from_the_allowed_characters_equals_bpe_from_bytes(seed, n_tokens, shuffle_table):
    ranks, pieces = random_case(random.Random(seed), n_tokens, shuffle_table)
    starts = CharStarts(ranks)
    for piece in pieces:
        data = piece.encode()
        bounds = starts.bounds(piece, data)
        assert bounds == char_bounds_reference(ranks, data)
        assert encode_from_bounds(data, ranks, list(bounds)) == textbook_ids(ranks, data)


def test_random_vocabularies_both_start_characters_whole_and_refuse_to():
    # Otherwise the test above could pass by never (or always) starting a character whole.
    started = refused = 0
    for seed in range(40):
        ranks, pieces = random_case(random.Random(seed), 60)
        starts = CharStarts(ranks)
        for piece in pieces:
            data = piece.encode()
            bounds = starts.bounds(piece, data)
            whole = sum(b - a > 1 for a, b in zip(bounds, bounds[1:]))
            started += whole
            refused += sum(len(ch.encode()) > 1 for ch in piece) - whole
    assert started > 50 and refused > 50


# The index, on the real tables

@functools.lru_cache(maxsize=None)
def _ranks(name):
    return get_encoding(name)._mergeable_ranks


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_index_equals_token_ends_of_every_token(name):
    # _add_many's fast path (valid UTF-8) against token_ends on every token of the table.
    ranks = _ranks(name)
    starts = CharStarts(ranks)
    starts._index_up_to(1 << 62)
    tails, heads = {}, {}
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        tail, head = token_ends(token)
        if tail is not None:
            tails.setdefault(tail[0], {}).setdefault(tail[1], rank)
        if head is not None:
            heads.setdefault(head[0], {}).setdefault(head[1], rank)
    assert starts._tails == tails and starts._heads == heads


def test_token_ends_by_hand():
    assert token_ends(b"abc") == (None, None)
    assert token_ends("\u4e2d".encode()) == (None, None)               # one character: no outside
    assert token_ends(" \u4e2d\u6587".encode()) == (("\u6587".encode(), 0xAD), None)
    assert token_ends("\u4e2d ".encode()) == (None, ("\u4e2d".encode(), 0x20))
    assert token_ends(b"\xb8\xad\xe6") == ((b"\xe6", 0xAD), (b"\xb8\xad", 0xE6))
    assert token_ends(b"\x80\x80\x80\x80a") == (None, None)           # not in any UTF-8 text


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_bounds_equal_the_reference_on_real_text(name):
    # The reference looks at every token for every character: a small sample.
    ranks = _ranks(name)
    starts = CharStarts(ranks)
    rng = random.Random(7)
    words = [" \u043f\u0440\u0438\u0432\u0435\u0442", "\u4e2d\u6587\u5b57", " \u03b1\u03b2\u03b3",
             "\u0928\u092e\u0938\u094d\u0924\u0947", " \u05e9\u05dc\u05d5\u05dd", "\u00e9t\u00e9"]
    for word in rng.sample(words, 4):
        data = word.encode()
        assert starts.bounds(word, data) == char_bounds_reference(ranks, data), word


@functools.lru_cache(maxsize=None)
def _multilingual_corpus():
    path = pathlib.Path(__file__).parent.parent / "benchmarks" / "corpus" / "multilingual.txt.gz"
    return gzip.decompress(path.read_bytes()).decode("utf-8")


@pytest.mark.parametrize("shipped", [True, False], ids=["shipped-table", "index"])
@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_every_multilingual_corpus_piece_equals_bpe_from_bytes(name, shipped):
    ranks = _ranks(name)
    starts = CharStarts(ranks, shipped=shipped)
    pieces = set(get_encoding(name)._split.findall(_multilingual_corpus()))
    checked = 0
    for piece in pieces:
        data = piece.encode()
        if len(data) > len(piece):
            bounds = starts.bounds(piece, data)
            assert encode_from_bounds(data, ranks, bounds) == byte_pair_encode(data, ranks), piece
            checked += 1
    assert checked > 1000
    assert (starts.table is not None) == shipped


# The shipped tables

@pytest.mark.parametrize("name", list(EXPECTED_HASHES))
def test_shipped_tables_equal_the_tables_computed_from_the_rank_files(name):
    shipped = {ch: parse_table_line(line) for ch, line in shipped_table(name).items()}
    assert shipped == char_table(load_bundled_ranks(name))
    assert len(shipped) > 250


def test_a_shipped_table_that_does_not_match_its_hash_is_refused(monkeypatch):
    monkeypatch.setitem(bpe_chars.SHIPPED_TABLE_HASHES, "cl100k_base", "0" * 64)
    with pytest.raises(RankFileError, match=r"char_starts/cl100k_base.txt does not match its pinned sha256 0{64}.*reinstall"):
        shipped_table("cl100k_base")


def test_a_missing_shipped_table_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(bpe_chars.resources, "files", lambda package: tmp_path)
    with pytest.raises(RankFileError, match=r"refimpl/_data/char_starts/cl100k_base.txt is missing; reinstall refimpl"):
        shipped_table("cl100k_base")


def test_the_shipped_table_is_used_only_for_the_bundled_dict_itself():
    ranks = _ranks("cl100k_base")
    assert bundled_name(ranks) == "cl100k_base"
    assert bundled_name(dict(ranks)) is None  # an equal copy could be changed later: no table
    enc = get_encoding("cl100k_base")
    enc.encode_ordinary("\u043f\u0440\u0438\u0432\u0435\u0442, \u4e16\u754c")
    assert enc._cache._chars.table is not None


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_the_multilingual_corpus_encodes_as_tiktoken_encodes_it(encoding_pair, name):
    # End to end, with the real tiktoken: a fresh Encoding (empty piece cache) sends every
    # multi-byte piece of the corpus through the character starts.
    shared, theirs = encoding_pair(name)
    ours = Encoding(name, pat_str=shared._pat_str, mergeable_ranks=shared._mergeable_ranks,
                    special_tokens=shared._special_tokens)
    text = _multilingual_corpus()
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
    assert ours._cache._chars.table is not None


@pytest.mark.parametrize("gap", [False, True], ids=["ranks-in-order", "ranks-with-a-gap"])
def test_threads_building_the_index_at_once_get_the_serial_answer(gap):
    # A rank table with no shipped table (a copy) builds its index as characters turn up;
    # several threads turning up new characters at once must not interleave the walk, nor
    # read an index another thread is still filling. With a gap in the ranks (every rank
    # from 100,000 on moved up by one: the same merges, other ids) the index is built whole.
    shared = get_encoding("o200k_base")
    shift = 1 if gap else 0
    ranks = {t: r + shift * (r >= 100_000) for t, r in shared._mergeable_ranks.items()}
    text = _multilingual_corpus()[:200_000]
    chunks = [text[i::4] for i in range(4)]  # every thread meets every script early
    expected = [[t + shift * (t >= 100_000) for t in shared.encode_ordinary(chunk)] for chunk in chunks]
    for attempt in range(3):
        ours = Encoding("copy", pat_str=shared._pat_str, mergeable_ranks=ranks, special_tokens={})
        barrier = threading.Barrier(len(chunks))
        results = [None] * len(chunks)

        def run(i):
            barrier.wait()
            results[i] = ours.encode_ordinary(chunks[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(chunks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ours._cache._chars.table is None  # the index was used, not a shipped table
        assert ours._cache._chars._in_order is (not gap)
        assert results == expected


def _padded(extra: dict, size: int = 4200) -> dict:
    """All 256 bytes, "п" at 256, ASCII filler tokens up to ``size`` ranks, then ``extra``
    (placed after the first chunks of the index walk)."""
    ranks = {bytes([i]): i for i in range(256)}
    ranks["\u043f".encode()] = 256
    ranks.update((b"~%d" % r, r) for r in range(257, size))
    ranks.update(extra)
    return ranks


@pytest.mark.parametrize("extra", [{b" \xd0": -1}, {b" \xd0": 100}, {b" \xd0": 5000}],
                         ids=["negative-rank", "repeated-rank", "gap-in-ranks"])
def test_tables_not_ranked_0_1_2_in_order_are_indexed_whole(extra):
    # Found in review: the index walk checked the order one chunk at a time, so a low rank
    # placed after the first 4,096 entries was never indexed and " п" came out wrong.
    ranks = _padded(extra)
    starts = CharStarts(ranks)
    for piece in [" \u043f", " \u043f\u043f", "\u043f \u043f"]:
        data = piece.encode()
        bounds = starts.bounds(piece, data)
        assert bounds == char_bounds_reference(ranks, data), piece
        assert encode_from_bounds(data, ranks, list(bounds)) == textbook_ids(ranks, data), piece
    assert starts._in_order is False
