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

Pieces of many kilobytes take two exact shortcuts before the heap: cuts where no merge can cross,
and rounds of equal merges in numpy (:mod:`refimpl.bpe_long`).

tiktoken (``src/lib.rs``) has the same pair: ``_byte_pair_merge`` for pieces shorter than 100
bytes and ``_byte_pair_merge_large`` for longer ones; :func:`byte_pair_encode` dispatches the
same way, except that pieces of multi-byte characters go to the heap from 14 bytes on.
``tests/test_bpe.py`` holds the three equal, to each other and to tiktoken.
"""
from __future__ import annotations

import heapq
from typing import Mapping


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


def bpe_merge_textbook(ranks: Ranks, piece: bytes, merged: list | None = None) -> list[bytes]:
    """Split ``piece`` into the byte strings of its tokens, the slow and obvious way. If
    ``merged`` is a list, the rank of each merge is appended to it, in order.

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
        if merged is not None:
            merged.append(best_rank)
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
    get = ranks.get
    end = heap_merge(get, piece, list(range(1, n + 1)), list(range(-1, n - 1)),
                     [get(piece[i:i + 2]) for i in range(n - 1)] + [None])
    out, i = [], 0
    while i < n:
        out.append(piece[i:end[i]])
        i = end[i]
    return out


def heap_merge(get, piece: bytes, end: list, prev: list, pair: list) -> list:
    """The merge loop of :func:`bpe_merge_heap`, from any state (``end``, ``prev``, ``pair`` as
    described there, indexed by byte offset; only the entries at part starts matter).
    ``get`` is ``ranks.get``. Returns ``end`` after the last merge.

    From "ab" + "a" + "b" (parts at 0, 2, 3; the pair at 0 is "aba", not a token): "a" + "b"
    merge, then "ab" + "ab", so the part at 0 ends at 4.

    >>> ranks = {b"a": 0, b"b": 1, b"ab": 2, b"abab": 3}
    >>> end = heap_merge(ranks.get, b"abab", [2, 2, 3, 4], [-1, 0, 0, 2], [None, None, 2, None])
    >>> end[0]
    4
    """
    n = len(piece)
    # Heap entries are the ints rank * 2**32 + start: one int compares faster than a tuple,
    # and the order is the same (lowest rank, then leftmost).
    shift = 32
    low = (1 << shift) - 1
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
    return end


_NO_RANK = 1 << 62  # larger than any rank: "this pair is not mergeable"


def _merge_fast(ranks: Ranks, piece: bytes) -> list[int]:
    """The list-based merge loop; returns the start offsets of the final parts, plus the end."""
    return _merge_fast_from(ranks.get, piece, list(range(len(piece) + 1)))


def _merge_fast_from(get, piece: bytes, bounds: list) -> list:
    """The list-based merge loop from the parts ``bounds`` (their starts, plus the end);
    ``get`` is ``ranks.get``. Changes and returns ``bounds``."""
    pair = [get(piece[a:b], _NO_RANK) for a, b in zip(bounds, bounds[2:])]
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


# From given starting parts (see encode_from_bounds), the heap pays from about this many parts.
LARGE_PARTS = 20


def encode_from_bounds(piece: bytes, ranks: Ranks, bounds: list) -> list[int]:
    """The token ids of ``piece`` by BPE that starts from the parts ``bounds`` (their starts,
    plus the end) instead of single bytes; ``bounds`` is used up. Equal to
    :func:`byte_pair_encode` when starting from those parts changes nothing, which is what
    :mod:`refimpl.bpe_chars` proves for the parts it gives.

    >>> ranks = {b"a": 0, b"b": 1, b"ab": 2, b"abab": 3}
    >>> encode_from_bounds(b"abab", ranks, [0, 2, 4]), byte_pair_encode(b"abab", ranks)
    ([3], [3])
    """
    get = ranks.get
    try:
        if len(bounds) <= LARGE_PARTS:
            bounds = _merge_fast_from(get, piece, bounds)
            return [ranks[piece[a:b]] for a, b in zip(bounds, bounds[1:])]
        n = len(piece)
        end, prev, pair = list(range(1, n + 1)), list(range(-1, n - 1)), [None] * n
        for a, b, c in zip(bounds, bounds[1:], bounds[2:]):
            end[a], prev[b], pair[a] = b, a, get(piece[a:c])
        end[bounds[-2]] = n
        end = heap_merge(get, piece, end, prev, pair)
        out, i = [], 0
        while i < n:
            out.append(ranks[piece[i:end[i]]])
            i = end[i]
        return out
    except KeyError as e:
        raise _missing_byte_error(piece, e.args[0]) from None


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
