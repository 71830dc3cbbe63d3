"""Byte pair encoding of one piece: the merge loop, twice.

Given the bytes of one piece (a regex match) and the table of mergeable ranks, BPE starts from
single bytes and repeatedly merges the adjacent pair whose concatenation has the **lowest rank**,
taking the **leftmost** pair when two ranks tie, until no adjacent pair is in the table.

Worked micro-example, with ranks {b"a": 0, b"b": 1, b"ab": 2, b"aa": 3, b"aab": 4}::

    a a b      pairs: "aa"=3, "ab"=2  -> merge "ab" (rank 2 is lowest)
    a ab       pairs: "aab"=4         -> merge
    aab        no pairs left          -> tokens [4]

These give the same answer:

* :func:`bpe_merge_textbook` is the loop above, O(n^2) in the piece length. Read this one.
* :func:`bpe_merge_fast` is the same loop arranged for CPython: the ranks of adjacent pairs sit
  in a list, ``min`` and ``list.index`` (C loops) find the lowest leftmost one, and a merge only
  looks up its two new neighbours. Still O(n^2), but fast for the short pieces that dominate.
* :func:`bpe_merge_heap` keeps the candidate pairs in a heap keyed by (rank, start), and the
  current parts in a linked list, so each merge costs O(log n): O(n log n) for a piece of n bytes.
  This is what makes a one-megabyte piece (a million spaces, say) encode in seconds.
* :func:`byte_pair_encode_cut` first cuts a long piece between any two bytes that no token
  contains (no merge can ever cross there), then merges each segment: a megabyte of random
  letters becomes thousands of short merges instead of one long heap.

tiktoken (``src/lib.rs``) has the same pair: ``_byte_pair_merge`` for pieces shorter than 100
bytes and ``_byte_pair_merge_large`` for longer ones; :func:`byte_pair_encode` dispatches the
same way, except that pieces of multi-byte characters go to the heap from 14 bytes on.
``tests/test_bpe.py`` holds the three equal, to each other and to tiktoken.
"""
from __future__ import annotations

import heapq
from typing import Mapping

import numpy as np

Ranks = Mapping[bytes, int]

# Pieces at least this long go to the heap version (tiktoken uses the same threshold). Pieces
# of multi-byte characters switch earlier: there the heap is faster from about 14 bytes on
# (measured on the benchmark corpus; ASCII pieces break even only around 32 bytes).
LARGE_PIECE = 100
LARGE_NON_ASCII_PIECE = 14


def _use_heap(piece: bytes) -> bool:
    n = len(piece)
    return n >= LARGE_PIECE or (n >= LARGE_NON_ASCII_PIECE and not piece.isascii())


def _missing_byte_error(piece: bytes, part: bytes) -> KeyError:
    return KeyError(
        f"byte {part!r} of piece {piece[:40]!r} has no rank: every single byte must be in "
        "mergeable_ranks (byte-level BPE needs all 256); add the missing bytes to the ranks"
    )


def bpe_merge_textbook(ranks: Ranks, piece: bytes) -> list[bytes]:
    """Split ``piece`` into the byte strings of its tokens, the slow and obvious way.

    >>> bpe_merge_textbook({b"a": 0, b"b": 1, b"ab": 2}, b"abab")
    [b'ab', b'ab']
    """
    parts = [piece[i:i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        # 1. find the lowest-ranked adjacent pair (strict < keeps the leftmost on ties)
        best_rank, best_i = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_i = rank, i
        # 2. none left: done
        if best_rank is None:
            break
        # 3. merge it and go again
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts


def bpe_merge_heap(ranks: Ranks, piece: bytes) -> list[bytes]:
    """Same result as :func:`bpe_merge_textbook`, in O(n log n).

    State, indexed by the start offset of each current part:
    ``end[i]`` where the part starting at ``i`` ends, ``prev[i]`` the start of the part before
    it, ``pair[i]`` the rank of the pair (part at ``i`` + the next part), or None.
    The heap holds ``(rank, start)`` candidates (packed into one int); an entry is stale when ``pair[start]`` no
    longer equals its rank, and is skipped when popped. (subtle: a stale entry can never
    look valid again, because a rank names one byte string and a part only grows.)

    >>> bpe_merge_heap({b"a": 0, b"b": 1, b"ab": 2}, b"abab")
    [b'ab', b'ab']
    """
    n = len(piece)
    if n <= 1:
        return [piece] if n else []
    # Heap entries are the ints rank * 2**32 + start: one int compares faster than a tuple,
    # and the order is the same (lowest rank, then leftmost).
    shift = 32
    low = (1 << shift) - 1
    end = list(range(1, n + 1))
    prev = list(range(-1, n - 1))
    get = ranks.get
    pair: list = [get(piece[i:i + 2]) for i in range(n - 1)] + [None]
    heap = [(r << shift) | i for i, r in enumerate(pair) if r is not None]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        entry = pop(heap)
        i = entry & low
        if pair[i] != entry >> shift:
            continue  # stale: this pair changed since it was pushed
        j = end[i]            # start of the right part
        k = end[j]            # end of the right part
        end[i] = k            # the merged part now spans i..k
        pair[j] = None        # the right part is gone
        if k < n:
            prev[k] = i
            r = get(piece[i:end[k]])
            pair[i] = r
            if r is not None:
                push(heap, (r << shift) | i)
        else:
            pair[i] = None
        p = prev[i]
        if p >= 0:
            r = get(piece[p:k])
            pair[p] = r
            if r is not None:
                push(heap, (r << shift) | p)
    out, i = [], 0
    while i < n:
        out.append(piece[i:end[i]])
        i = end[i]
    return out


_NO_RANK = 1 << 62  # larger than any rank: "this pair is not mergeable"


def _merge_fast(ranks: Ranks, piece: bytes) -> list[int]:
    """The list-based merge loop; returns the start offsets of the final parts, plus the end."""
    get = ranks.get
    bounds = list(range(len(piece) + 1))
    pair = [get(piece[i:i + 2], _NO_RANK) for i in range(len(piece) - 1)]
    while pair:
        best = min(pair)
        if best == _NO_RANK:
            break
        i = pair.index(best)  # leftmost of the lowest
        del bounds[i + 1]
        del pair[i]
        if i < len(pair):
            pair[i] = get(piece[bounds[i]:bounds[i + 2]], _NO_RANK)
        if i:
            pair[i - 1] = get(piece[bounds[i - 1]:bounds[i + 1]], _NO_RANK)
    return bounds


def bpe_merge_fast(ranks: Ranks, piece: bytes) -> list[bytes]:
    """Same result as :func:`bpe_merge_textbook`, quicker on short pieces.

    ``bounds`` are the start offsets of the current parts (plus the end); ``pair[i]`` is the
    rank of part i + part i+1, or ``_NO_RANK``. (This is tiktoken's ``_byte_pair_merge``.)

    >>> bpe_merge_fast({b"a": 0, b"b": 1, b"ab": 2}, b"abab")
    [b'ab', b'ab']
    """
    if len(piece) <= 1:
        return [piece] if piece else []
    bounds = _merge_fast(ranks, piece)
    return [piece[a:b] for a, b in zip(bounds, bounds[1:])]


def byte_pair_split(piece: bytes, ranks: Ranks) -> list[bytes]:
    """The byte strings of ``piece``'s tokens (list-based loop for short pieces, heap for long).

    >>> byte_pair_split(b"abcd", {b"a": 0, b"b": 1, b"c": 2, b"d": 3, b"ab": 4, b"cd": 5})
    [b'ab', b'cd']
    """
    if _use_heap(piece):
        return bpe_merge_heap(ranks, piece)
    return bpe_merge_fast(ranks, piece)


def byte_pair_encode(piece: bytes, ranks: Ranks) -> list[int]:
    """The token ids of one piece, by BPE alone (no whole-piece shortcut, as in tiktoken).

    >>> byte_pair_encode(b"abab", {b"a": 0, b"b": 1, b"ab": 2})
    [2, 2]
    """
    try:
        if len(piece) > 1 and not _use_heap(piece):
            bounds = _merge_fast(ranks, piece)
            return [ranks[piece[a:b]] for a, b in zip(bounds, bounds[1:])]
        return [ranks[part] for part in byte_pair_split(piece, ranks)]
    except KeyError as e:
        raise _missing_byte_error(piece, e.args[0]) from None


# --------------------------------------------------------------------------------------------
# Cutting long pieces where no merge can ever cross
#
# A merge joins two adjacent parts into one token. If no token of the vocabulary contains the
# two bytes ``piece[i-1:i+1]``, then no part can ever span offset i: that part would be a
# token containing both bytes. So BPE of the piece is BPE of ``piece[:i]`` followed by BPE of
# ``piece[i:]``, exactly. Worked micro-example, with ranks {a, b, c, ab, bc}: no token holds
# "ca", so "abcab" cuts to "abc" + "ab" before any merge.
#
# In cl100k_base 18 of the 676 pairs of lowercase letters occur in no token (r50k_base: 98),
# so a long run of letters falls apart into short segments that the list merge handles
# quickly, and a one-megabyte piece of random letters costs about as much as its segments.
# A run with no such pair (a million spaces) keeps the O(n log n) heap.

# Pieces at least this long are cut first. The table of pairs costs 10-50 ms to build, once per
# Encoding, about what the heap spends on one piece of this size; shorter pieces (a long run of
# CJK in o200k_base is a few hundred bytes) rarely have a cut and go straight to the merges.
SEGMENT_PIECE = 10_000


def joinable_pairs_reference(ranks: Ranks) -> set[bytes]:
    """Every two-byte string that occurs inside some token: the readable twin of
    :func:`joinable_pairs`.

    >>> sorted(joinable_pairs_reference({b"a": 0, b"b": 1, b"abb": 2}))
    [b'ab', b'bb']
    """
    return {token[i:i + 2] for token in ranks for i in range(len(token) - 1)}


def joinable_pairs(ranks: Ranks) -> np.ndarray:
    """A table of all 65,536 byte pairs, indexed by ``first * 256 + second``: True where some
    token contains the pair. Built with numpy in milliseconds (tens on o200k_base).

    >>> table = joinable_pairs({b"a": 0, b"b": 1, b"abb": 2})
    >>> bool(table[ord("a") * 256 + ord("b")]), bool(table[ord("b") * 256 + ord("a")])
    (True, False)
    """
    tokens = list(ranks)
    data = np.frombuffer(b"".join(tokens), np.uint8).astype(np.intp)
    table = np.zeros(65536, dtype=bool)
    if len(data) < 2:
        return table
    pairs = data[:-1] * 256 + data[1:]
    inside = np.ones(len(pairs), dtype=bool)
    ends = np.cumsum(np.fromiter(map(len, tokens), np.intp, len(tokens)))
    inside[ends[ends < len(data)] - 1] = False  # a pair that straddles two tokens of the list
    table[pairs[inside]] = True
    return table


def unmergeable_cuts(piece: bytes, joinable: np.ndarray) -> list[int]:
    """Offsets ``0 < i < len(piece)`` where no token contains ``piece[i-1:i+1]``.

    >>> table = joinable_pairs({b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4})
    >>> unmergeable_cuts(b"abcab", table)
    [3]
    """
    data = np.frombuffer(piece, np.uint8).astype(np.intp)
    return (np.flatnonzero(~joinable[data[:-1] * 256 + data[1:]]) + 1).tolist()


def byte_pair_encode_cut(piece: bytes, ranks: Ranks, joinable: np.ndarray) -> list[int]:
    """:func:`byte_pair_encode`, after cutting ``piece`` where no merge can cross.

    >>> ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}
    >>> byte_pair_encode_cut(b"abcab", ranks, joinable_pairs(ranks)) == byte_pair_encode(b"abcab", ranks)
    True
    """
    bounds = [0, *unmergeable_cuts(piece, joinable), len(piece)]
    out: list[int] = []
    for a, b in zip(bounds, bounds[1:]):
        # subtle: no "whole segment is a token" shortcut here. tiktoken takes that shortcut
        # for whole pieces only, and a token need not be its own BPE (a vocabulary can hold
        # tokens that merges never reach), so a segment always goes through the merges.
        out.extend(byte_pair_encode(piece[a:b], ranks))
    return out


# A piece cache keeps each distinct piece's tokens; it is cleared when it reaches this size
# so memory stays bounded on endless streams of new text.
PIECE_CACHE_LIMIT = 200_000


class PieceCache(dict):
    """``{piece: tokens}``; a missing piece is encoded (whole-piece token, else BPE) and kept.

    Bounded: cleared when it reaches ``_PIECE_CACHE_LIMIT`` entries, so memory stays flat on
    endless streams of new text. (tiktoken's notes: the reference tokeniser had such a cache.)
    """

    def __init__(self, ranks: dict[bytes, int]):
        super().__init__()
        self.ranks = ranks
        self._joinable = None  # joinable_pairs(ranks), built for the first long piece

    def __missing__(self, piece: str) -> tuple[int, ...]:
        data = piece.encode("utf-8")
        token = self.ranks.get(data)
        if token is not None:
            tokens: tuple[int, ...] = (token,)
        elif len(data) >= SEGMENT_PIECE:
            if self._joinable is None:
                self._joinable = joinable_pairs(self.ranks)
            tokens = tuple(byte_pair_encode_cut(data, self.ranks, self._joinable))
        else:
            tokens = tuple(byte_pair_encode(data, self.ranks))
        if len(self) >= PIECE_CACHE_LIMIT:
            self.clear()
        self[piece] = tokens
        return tokens
