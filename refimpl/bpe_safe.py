"""Safe merges: pairs that BPE is bound to merge, as they stand, whatever happens around them.

A long piece with no repeats and nowhere to cut (a megabyte of random text over eight common
letters, every pair of which some token holds) leaves :mod:`refimpl.bpe_long` nothing to do but
the heap, a Python loop of about a million merges. Most of those merges are settled from the
start, though: in ``"...xthey..."``, if no token that could form around the ``"th"`` ranks
below ``"th"``, then ``"th"`` will be merged, and it does not matter when. This module finds
every such pair of the current state and merges them all at once, in numpy, round after round;
the heap finishes what is left.

**The rule.** Let parts ``L, A, B, R`` stand in a row (``L`` or ``R`` may be missing), and let
``T = A + B`` be a token of rank ``r``. Write ``ends(s)`` for the lowest rank of any token
ending with the bytes ``s`` (``s`` itself counts), ``starts(s)`` likewise for tokens starting
with ``s``. The pair ``A B`` is *safe* if

1. ``ends(L + A) > r`` and ``starts(B + R) > r``: nothing can take ``A`` or ``B`` first;
2. ``ends(L + T) > r`` and ``starts(T + R) > r``: once ``T`` is made, nothing ranked ``<= r``
   can join it.

*Why safe merges change nothing.* Run BPE (lowest rank first, leftmost of equals) from the
state S, and from S' = S with ``A B`` merged. Part ``L`` may grow to the left before ``A B`` is
merged, but it always ends with ``L``, so a token joining ``A`` to what is left of it ends with
``L + A`` and ranks above ``r`` by (1); the same on the right. So in S the pair ``A B`` stands
until it is merged, which happens before any merge ranked above ``r`` near it. The pairs S and
S' do not share are ``(.., A)``, ``A B`` and ``(B, ..)`` in S and ``(.., T)``, ``(T, ..)`` in
S': all ranked above ``r`` except ``A B`` itself, by (1) and (2). So every merge S makes before
``A B`` (ranked ``<= r``) is also the lowest, then leftmost, pair of S', and S' makes it too;
when S merges ``A B`` the two runs are in the same state. The conditions only get easier as
``L`` and ``R`` grow (every token ending with ``L' + A``, with ``L'`` ending in ``L``, ends with
``L + A``), so merging one safe pair keeps the others safe, and all are merged together. Two
safe pairs never overlap: in ``A B C`` with both ``A B`` (rank r) and ``B C`` (rank s) safe,
(1) for ``A B`` gives ``s >= starts(B + C) > r`` and (1) for ``B C`` gives ``r > s``.

The tables are keyed by the 64-bit hash of :mod:`refimpl.bpe_batch` and not checked byte for
byte: a string that shares its hash with another only gets the lower of their two ranks, which
makes a pair look *less* safe, never more. The pair ranks themselves come from
:class:`~refimpl.bpe_batch.TokenIndex`, which is exact.

Worked micro-example, ranks {a, b, c, ab=3, bc=4}: in ``"abc"`` the pair ``ab`` (3) has no
left neighbour, ``starts(b + c) = 4 > 3``, and no token starts with ``ab`` + ``c``, so it is
safe; ``bc`` is not (``ends(a + b) = 3``). One round gives ``ab c``, the textbook's answer.

:func:`safe_pairs_reference` is the rule with dictionaries; ``tests/test_bpe_safe.py`` holds
:class:`SafeMerges` to it, and BPE through it to the textbook merge and to tiktoken.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .bpe_batch import _NONE, TokenIndex, _Hasher, _SortedKeys

Ranks = Mapping[bytes, int]


def end_tables_reference(ranks: Ranks) -> tuple[dict[bytes, int], dict[bytes, int]]:
    """``(ends, starts)``: for every string that ends (starts) a token, the lowest rank of a
    token that ends (starts) with it.

    >>> ends, starts = end_tables_reference({b"a": 0, b"b": 1, b"ab": 2})
    >>> ends[b"b"], starts[b"a"], b"ba" in ends
    (1, 0, False)
    """
    ends: dict[bytes, int] = {}
    starts: dict[bytes, int] = {}
    for token, rank in ranks.items():
        for k in range(len(token)):
            for table, key in ((ends, token[k:]), (starts, token[:len(token) - k])):
                if table.get(key, rank + 1) > rank:
                    table[key] = rank
    return ends, starts


def safe_pairs_reference(ranks: Ranks, parts: list[bytes]) -> list[int]:
    """The index ``i`` of every safe pair ``parts[i] + parts[i+1]``: the rule, read with
    dictionaries (slow: builds the tables each call).

    >>> safe_pairs_reference({b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}, [b"a", b"b", b"c"])
    [0]
    """
    ends, starts = end_tables_reference(ranks)
    none = float("inf")
    out = []
    for i in range(len(parts) - 1):
        a, b = parts[i], parts[i + 1]
        r = ranks.get(a + b)
        if r is None:
            continue
        if i > 0:
            left = parts[i - 1]
            if ends.get(left + a, none) <= r or ends.get(left + a + b, none) <= r:
                continue
        if i + 2 < len(parts):
            right = parts[i + 2]
            if starts.get(b + right, none) <= r or starts.get(a + b + right, none) <= r:
                continue
        out.append(i)
    return out


def merge_at(starts: np.ndarray, pairs: np.ndarray, chosen: np.ndarray):
    """Merge part k with part k+1 for every k in ``chosen`` (sorted, no two adjacent), the
    array step that every round ends with. ``starts`` are the part starts plus the end,
    ``pairs[k]`` the rank of parts k and k+1. Returns the new starts, the new pairs (carried
    over; stale where a part grew) and the indices of the stale pairs, to look up again.

    >>> new_starts, new_pairs, stale = merge_at(np.array([0, 1, 2, 3, 4]),
    ...                                         np.array([7, 8, 9]), np.array([1]))
    >>> new_starts.tolist(), stale.tolist()
    ([0, 1, 3, 4], [0, 1])
    """
    keep = np.ones(len(starts), dtype=bool)
    keep[chosen + 1] = False                      # the right part of each merge is gone
    old = np.flatnonzero(keep)                    # new part j was old part old[j]
    grown = np.zeros(len(starts), dtype=bool)
    grown[chosen] = True
    grown = grown[old[:-1]]                       # new part j is a merged part
    stale = np.flatnonzero(grown[:-1] | grown[1:])  # new pairs with a merged part
    new_pairs = pairs[old[:-2]] if len(old) > 2 else np.empty(0, np.int64)
    return starts[keep], new_pairs, stale


class _LowestRank:
    """``{hash of a string: the lowest rank given to it}`` as one sorted array: each entry is
    the hash's low bits shifted up, with the rank in the bottom ``bits``, so sorting puts each
    hash's lowest rank first and a lookup is one binary search. (The low bits of this
    polynomial hash are the same polynomial hash, modulo a smaller power of two.) Dropping the
    top bits can only make two strings share an entry, which gives both the lower rank: see the
    module notes."""

    def __init__(self, keys: np.ndarray, ranks: np.ndarray):
        self.least = int(ranks.min(initial=0))  # ranks are stored as rank - least (>= 0)
        self.bits = np.uint64(max((int(ranks.max(initial=0)) - self.least).bit_length(), 1))
        self.table = np.sort((keys << self.bits) | (ranks - self.least).astype(np.uint64))
        self._sorted = _SortedKeys(self.table)

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        query = keys << self.bits
        slot = np.minimum(self._sorted.search(query), len(self.table) - 1)
        found = self.table[slot]
        hit = (found >> self.bits) == (query >> self.bits)
        low = found & ((np.uint64(1) << self.bits) - np.uint64(1))
        return np.where(hit, low.astype(np.int64) + self.least, _NONE)


class SafeMerges:
    """The ``ends`` and ``starts`` tables as sorted hashes, and the round that uses them.

    >>> ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}
    >>> safe = SafeMerges(TokenIndex(ranks))
    >>> data = np.frombuffer(b"abc", np.uint8)
    >>> starts = np.array([0, 1, 2, 3])
    >>> new_starts, new_pairs, merged = safe.round(data, _Hasher(data), starts, safe.pairs(data, _Hasher(data), starts))
    >>> new_starts.tolist(), merged
    ([0, 2, 3], 1)
    """

    def __init__(self, index: TokenIndex):
        self.index = index
        length, offset = index.length, index.offset
        token = np.repeat(np.arange(len(length)), length)          # one entry per (token, k)
        k = np.arange(int(length.sum())) - np.repeat(offset, length)  # 0 .. len(token)-1
        lo, hi = offset[token], offset[token] + length[token]
        rank = index.rank[token]
        hasher = _Hasher(index.bytes)
        self._ends = _LowestRank(hasher(lo + k, hi), rank)
        self._starts = _LowestRank(hasher(lo, hi - k), rank)

    def ends(self, hasher: _Hasher, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """At most the lowest rank of a token ending with ``data[a:b]`` (``_NONE``: none)."""
        return self._ends(hasher(a, b))

    def starts(self, hasher: _Hasher, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """At most the lowest rank of a token starting with ``data[a:b]``."""
        return self._starts(hasher(a, b))

    def pairs(self, data: np.ndarray, hasher: _Hasher, starts: np.ndarray) -> np.ndarray:
        """``pairs[k]``: the rank of parts k and k+1 together (exact), ``_NONE`` if no token."""
        return self.index.ranks_of(data, starts[:-2], starts[2:], hasher)

    def round(self, data: np.ndarray, hasher: _Hasher, starts: np.ndarray, pairs: np.ndarray):
        """Merge every safe pair. ``starts`` are the part starts plus the end, ``pairs`` as
        from :meth:`pairs`. Returns the new ``(starts, pairs, number of merges)``."""
        parts = len(starts) - 1
        # A safe pair ranks below both neighbouring pairs (the left one is a token ending with
        # L + A, the right one a token starting with B + R): a cheap first cut.
        lower = pairs < np.r_[_NONE, pairs[:-1]]
        lower[:-1] &= pairs[:-1] < pairs[1:]
        k = np.flatnonzero(lower)
        # the rule's four conditions, each cutting down the candidates before the next
        for side, near, far in ((self.ends, -1, 1), (self.ends, -1, 2),
                                (self.starts, 1, 3), (self.starts, 0, 3)):
            inner = (k + near >= 0) & (k + far <= parts) if near < 0 else k + 3 <= parts
            r = pairs[k]
            bad = np.zeros(len(k), dtype=bool)
            i = np.flatnonzero(inner)
            bad[i] = side(hasher, starts[k[i] + near], starts[k[i] + far]) <= r[i]
            k = k[~bad]
        if not len(k):
            return starts, pairs, 0
        new_starts, new_pairs, changed = merge_at(starts, pairs, k)
        new_pairs[changed] = self.index.ranks_of(data, new_starts[changed],
                                                 new_starts[changed + 2], hasher)
        return new_starts, new_pairs, len(k)
