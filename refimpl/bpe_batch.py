"""BPE of many pieces at once: the merge loop run in rounds over numpy arrays.

:func:`refimpl.bpe.bpe_merge_fast` pays Python's price for every step of every piece: a slice
and a dictionary lookup for each pair it makes, plus a few list operations. When thousands of
distinct pieces need BPE together (the short segments a megabyte of Han characters is cut into,
:mod:`refimpl.bpe_long`), this module takes the steps of all of them together, in numpy.

**Rounds.** A round makes, in every piece that still has a mergeable pair, the one merge the
textbook loop (:func:`refimpl.bpe.bpe_merge_textbook`) makes next there: the lowest-ranked
adjacent pair, the leftmost of equals. Pieces never interact, so each piece goes through exactly
the textbook's sequence of states, one state a round; the batch only changes how many pieces step
at once. A piece with no mergeable pair left is finished and leaves the arrays.

**Looking up a pair without Python.** Whether two parts merge depends on whether their bytes,
together, are a token. Every token gets a 64-bit polynomial hash (:class:`TokenIndex`); the
same hash of any stretch of the pieces' bytes comes from prefix sums in O(1) (see
:func:`_span_hashes`), so the pairs of a round are hashed, looked up among the tokens' sorted
hashes, and then *checked byte for byte* against the token found, all as array operations. A
hash can only err by naming a token whose bytes differ; the check throws that out, and a pair
whose bytes are a token always finds it, because no two tokens share a hash (checked when the
index is built; if two did, :func:`encode_many` would not use the index). So the lookups are
exact, not probably so.

Worked micro-example, ranks {a, b, c, ab=3, bc=4, abc=5}, pieces "abc" and "cab":

    round 1: "abc" pairs ab=3, bc=4 -> merge ab;   "cab" pairs ca=-, ab=3 -> merge ab
    round 2: "ab c" pair abc=5 -> merge;            "c ab" pair cab=- -> finished
    round 3: "abc" no pairs -> finished

``tests/test_bpe_batch.py`` holds the result equal to :func:`refimpl.bpe.byte_pair_encode`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .bpe import byte_pair_encode, encode_from_bounds

Ranks = Mapping[bytes, int]

_NONE = np.iinfo(np.int64).max  # "no mergeable pair here"
_BASE = 0x9E3779B97F4A7C15  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_MIX = np.uint64(0xD6E8FEB86659FD93)  # odd


def _powers(base: int, n: int) -> np.ndarray:
    """``base**0 .. base**(n-1)`` modulo 2**64 (numpy's uint64 arithmetic wraps)."""
    out = np.full(n, base, dtype=np.uint64)
    out[:1] = 1
    return np.cumprod(out, dtype=np.uint64)


class _Hasher:
    """Hashes of any stretch of ``data``: ``h(a, b) = sum((data[i] + 1) * BASE**(b-1-i))`` for
    ``a <= i < b``, modulo 2**64. With ``G[j] = sum((data[i] + 1) * BASE**-i, i < j)`` that is
    ``BASE**(b-1) * (G[b] - G[a])``: two lookups and a multiplication, for any number of
    stretches at once. The digit is ``byte + 1`` so that a zero byte still counts. The hash
    handed out is ``h(a, b) * MIX`` (odd, so two stretches share it only if they share ``h``)."""

    def __init__(self, data: np.ndarray):
        n = len(data)
        self.up = _powers(_BASE, n + 1)
        digits = (data.astype(np.uint64) + np.uint64(1)) * _powers(_BASE_INVERSE, n)
        self.prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(digits, dtype=np.uint64, out=self.prefix[1:])

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # times an odd constant: a bijection (no new collisions) that spreads short strings'
        # small hashes over the top bits, which _SortedKeys buckets by
        return self.up[b - 1] * (self.prefix[b] - self.prefix[a]) * _MIX


class _SortedKeys:
    """``search(q)`` = ``np.searchsorted(keys, q)`` for a sorted uint64 array, found by a short
    scan of ``q``'s bucket (its top bits; about one key a bucket) instead of a binary search,
    whose every step misses the cache on a large array (10^6 queries into 2*10^5 to 1.4*10^6
    keys: 4x to 4.5x quicker here).

    >>> keys = np.array([3, 9, 2**63, 2**63 + 5], dtype=np.uint64)
    >>> _SortedKeys(keys).search(np.array([0, 9, 10, 2**63 + 1, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 2, 3, 4]
    """

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        bits = max(int(len(keys)).bit_length(), 1)
        self.shift = np.uint64(64 - bits)
        counts = np.bincount((keys >> self.shift).astype(np.intp), minlength=1 << bits)
        self.first = np.concatenate(([0], np.cumsum(counts)))

    def search(self, q: np.ndarray) -> np.ndarray:
        bucket = (q >> self.shift).astype(np.intp)
        at, end = self.first[bucket], self.first[bucket + 1]
        todo = np.flatnonzero(at < end)
        while len(todo):
            todo = todo[self.keys[at[todo]] < q[todo]]
            at[todo] += 1
            todo = todo[at[todo] < end[todo]]
        return at


class TokenIndex:
    """Every token's hash, sorted, with its rank and its bytes (for the byte-for-byte check).

    ``usable`` is False if two tokens share a hash; then lookups could miss a token, and
    :func:`encode_many` does not use the index.

    >>> index = TokenIndex({b"a": 0, b"b": 1, b"ab": 2})
    >>> data = np.frombuffer(b"abba", np.uint8)
    >>> ranks = index.ranks_of(data, np.array([0, 0, 1]), np.array([1, 2, 3]))  # a, ab, bb
    >>> index.usable, [int(r) if r != _NONE else None for r in ranks]
    (True, [0, 2, None])
    """

    def __init__(self, ranks: Ranks):
        tokens = list(ranks)
        self.bytes = np.frombuffer(b"".join(tokens), np.uint8)
        self.length = np.fromiter(map(len, tokens), np.int64, len(tokens))
        self.offset = np.cumsum(self.length) - self.length
        keys = _Hasher(self.bytes)(self.offset, self.offset + self.length)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self._sorted = _SortedKeys(self.keys)
        self.position = order  # sorted slot -> position in ``tokens``
        self.rank = np.fromiter(ranks.values(), np.int64, len(tokens))
        self.usable = bool(len(tokens)) and not (self.keys[1:] == self.keys[:-1]).any()
        # each single byte's rank, or -1 (such a byte makes encode_many fall back)
        self.byte_rank = np.full(256, -1, dtype=np.int64)
        single = self.length == 1
        self.byte_rank[self.bytes[self.offset[single]]] = self.rank[single]

    def ranks_of(self, data: np.ndarray, a: np.ndarray, b: np.ndarray,
                 hasher: _Hasher | None = None) -> np.ndarray:
        """The rank of each ``data[a[i]:b[i]]``, ``_NONE`` where it is no token."""
        out = np.full(len(a), _NONE, dtype=np.int64)
        if not len(a):
            return out
        keys = (hasher or _Hasher(data))(a, b)
        slot = np.minimum(self._sorted.search(keys), len(self.keys) - 1)
        pos = self.position[slot]
        length = b - a
        found = np.flatnonzero((self.keys[slot] == keys) & (self.length[pos] == length))
        if len(found):
            # byte-for-byte check of every hash match
            n = length[found]
            total = int(n.sum())
            within = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
            ours = data[np.repeat(a[found], n) + within]
            theirs = self.bytes[np.repeat(self.offset[pos[found]], n) + within]
            differs = np.add.reduceat(ours != theirs, np.cumsum(n) - n) > 0
            good = found[~differs]
            out[good] = self.rank[pos[good]]
        return out


# When fewer pieces than this are left, each is finished on its own (a round costs about as much
# as a hundred merges of the one-piece loop; measured on the benchmark corpus).
FINISH_ALONE = 100


def _finish_alone(ranks, pieces, offset, start, piece, first, done_start, done_token):
    """Finish each remaining piece with the one-piece loop, from the parts it has reached."""
    bounds = np.split(start, first[1:])
    for k, b in zip(first.tolist(), bounds):
        p = int(piece[k])
        local = (b - offset[p]).tolist()
        local.append(len(pieces[p]))
        tokens = encode_from_bounds(pieces[p], ranks, local)
        done_token.append(np.array(tokens, dtype=np.int64))
        # one entry per final token, at an offset inside the piece (only the order counts)
        done_start.append(offset[p] + np.arange(len(tokens), dtype=np.int64))


def encode_many(pieces: Sequence[bytes], ranks: Ranks, index: TokenIndex) -> list[list[int]]:
    """The token ids of each piece by BPE, all pieces merged in rounds together; equal to
    ``[byte_pair_encode(p, ranks) for p in pieces]``. ``index`` is ``TokenIndex(ranks)``.

    >>> ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4, b"abc": 5}
    >>> encode_many([b"abc", b"cab", b"", b"b"], ranks, TokenIndex(ranks))
    [[5], [2, 3], [], [1]]
    """
    data = np.frombuffer(b"".join(pieces), np.uint8)
    if not len(data):
        return [[] for _ in pieces]
    if not index.usable or (index.byte_rank[data] < 0).any():
        # no index, or a byte with no rank (the one-piece path raises the clear error for it)
        return [byte_pair_encode(p, ranks) for p in pieces]
    hasher = _Hasher(data)
    lens = np.fromiter(map(len, pieces), np.int64, len(pieces))
    # One entry per part: its start and end offsets in ``data``, its piece, its token id, and
    # ``pair``: the rank of it and the next part together (_NONE if none or in another piece).
    start = np.arange(len(data), dtype=np.int64)
    end = start + 1
    piece = np.repeat(np.arange(len(pieces)), lens)
    token = index.byte_rank[data]
    pair = np.full(len(start), _NONE, dtype=np.int64)
    k = np.flatnonzero(piece[:-1] == piece[1:])
    pair[k] = index.ranks_of(data, start[k], end[k + 1], hasher)

    done_start, done_token = [], []
    while len(start):
        first = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])  # each piece's first part
        if len(first) < FINISH_ALONE:  # few pieces left: a round costs more than it saves
            _finish_alone(ranks, pieces, np.cumsum(lens) - lens, start, piece, first,
                          done_start, done_token)
            break
        lowest = np.minimum.reduceat(pair, first)
        size = np.diff(np.append(first, len(start)))
        done = lowest == _NONE
        if done.any():  # finished pieces leave the arrays
            gone = np.repeat(done, size)
            done_start.append(start[gone])
            done_token.append(token[gone])
            keep = ~gone
            start, end, piece, token, pair = start[keep], end[keep], piece[keep], token[keep], pair[keep]
            lowest, size = lowest[~done], size[~done]
            first = np.cumsum(size) - size
            if not len(start):
                break
        # each piece's merge: its first pair of the lowest rank
        owner = np.repeat(np.arange(len(first)), size)
        hits = np.flatnonzero(pair == lowest[owner])
        chosen = hits[np.r_[True, owner[hits[1:]] != owner[hits[:-1]]]]
        right = chosen + 1                   # the part merged away
        end[chosen] = end[right]
        token[chosen] = pair[chosen]
        # the merged part's pair with the part after (same piece only) ...
        after = right + 1
        inside = after < len(start)
        inside[inside] = piece[after[inside]] == piece[chosen[inside]]
        pair[chosen] = _NONE
        c = chosen[inside]
        pair[c] = index.ranks_of(data, start[c], end[after[inside]], hasher)
        # ... and the pair of the part before with it (same piece only)
        c = chosen[chosen != first[owner[chosen]]]
        pair[c - 1] = index.ranks_of(data, start[c - 1], end[c], hasher)
        keep = np.ones(len(start), dtype=bool)
        keep[right] = False
        start, end, piece, token, pair = start[keep], end[keep], piece[keep], token[keep], pair[keep]

    if not done_start:
        return [[] for _ in pieces]
    starts = np.concatenate(done_start)
    order = np.argsort(starts, kind="stable")  # pieces lie in order in ``data``
    tokens = np.concatenate(done_token)[order].tolist()
    owner = np.searchsorted(np.cumsum(lens), starts[order], side="right")
    out, i = [], 0
    for c in np.bincount(owner, minlength=len(pieces)).tolist():
        out.append(tokens[i:i + c])
        i += c
    return out
