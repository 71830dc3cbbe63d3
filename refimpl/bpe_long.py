"""BPE of very long pieces: cut where no merge can cross, then merge in rounds.

A piece of many kilobytes (a run of spaces, a line of "=", a blob of letters) is rare but must
not be slow: tiktoken's answer for it is the O(n log n) heap (:func:`bpe.bpe_merge_heap`), and
this module makes two exact shortcuts in front of the heap.

**Cuts.** If no token of the vocabulary contains the two bytes ``piece[i-1:i+1]``, no part can
ever span offset i (that part would be a token containing both bytes), so the piece is merged
as two independent halves. In cl100k_base 18 of the 676 pairs of lowercase letters occur in no
token (r50k_base: 98), so a long run of letters falls apart into short segments. Worked
micro-example, with ranks {a, b, c, ab, bc}: no token holds "ca", so "abcab" cuts to "abc" +
"ab" before any merge.

**Rounds.** A long run of one pattern (a million spaces, ``"ab" * 500_000``) spends its merges
on the same few ranks: first every "aa", then every "aaaa", and so on. A *round* does all the
merges of the current lowest rank in one go, as array operations, and looks up only the pairs
that the round changed. When rounds stop paying (few merges each), the heap
(:func:`bpe.heap_merge`) finishes from the state the rounds reached.

Why a round gives the heap's answer. Let ``r`` be the lowest rank of any adjacent pair; every
pair of rank ``r`` spells the same token T. The heap pops rank-``r`` pairs left to right:

1. In a run of consecutive rank-``r`` pairs (parts k, k+1, k+2, ... with each neighbour pair
   of rank ``r``), merging pair k consumes part k+1, so pair k+1 goes stale and pair k+2 is
   next: the heap merges every other pair of the run, starting from its left end.
2. Each merge creates new pairs (T + right neighbour, left neighbour + T). They spell strings
   longer than T, so their rank is never ``r``. If every such rank is *above* ``r``, nothing
   created during the round can pop before the remaining rank-``r`` pairs, and the round is
   exactly the heap's next stretch of pops. A pair created and consumed within the round
   (T + the part that the next merge of the run takes) must be above ``r`` as well.
3. If some new rank is below ``r`` (possible in a vocabulary where a longer token was learned
   before a shorter one), the round is abandoned and the heap takes over from before it.

Worked micro-example, ranks {a, aa=1, aaaa=2}: "aaaaa" has pairs aa, aa, aa, aa (all rank 1,
one run): merge pairs 0 and 2 -> "aa" "aa" "a"; the new pairs spell aaaa (2) and aaa (no
token), both above 1, so the round stands. Next round: rank 2 -> "aaaa" "a".
``tests/test_bpe_long.py`` holds both shortcuts equal to the textbook merge and to tiktoken.

**Many segments.** A megabyte of Han characters cuts into half a million short segments, of
which a few thousand to fifty thousand are distinct. :func:`encode_long_piece` (the readable
path) looks each up in a dictionary; :func:`encode_long_piece_batched` finds the distinct ones
with numpy, merges the short ones all together (:mod:`refimpl.bpe_batch`) and lays their tokens
out in the piece's order by index arithmetic. The tests hold the two equal.

**Safe merges.** A long segment with no runs of equal pairs (a megabyte of random text over
eight common letters has no cut) used to go to the heap almost whole. With the tables of
:mod:`refimpl.bpe_safe`, its rounds also merge every pair that BPE is bound to merge whatever
happens around it; on that megabyte five such rounds make 85% of the merges, and the heap
finishes the rest. The tables take 0.15 s to 0.25 s to build, more than a 10 KB run of "=" costs
in all, so :mod:`refimpl.piece_cache` builds them only once they pay.
"""
from __future__ import annotations

from itertools import chain

import numpy as np

from . import bpe_batch
from .bpe import Ranks, byte_pair_encode, heap_merge
from .bpe_safe import SafeMerges, merge_at

# Pieces at least this long go through this module. The table of pairs costs 10-50 ms to build,
# once per Encoding, about what the heap spends on one piece of this size; shorter pieces (a long
# run of CJK in o200k_base is a few hundred bytes) rarely have a cut and go straight to the heap.
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


# Below this many merges per part a round costs more than the heap's merges (a round is a few
# passes over all parts; the heap pays about a microsecond per merge).
ROUND_MIN_SHARE = 1 / 256
_NONE = np.iinfo(np.int64).max  # "no rank" in the pair array


def _lookup(get, piece: bytes, lo, hi) -> np.ndarray:
    """Ranks of ``piece[lo[i]:hi[i]]`` for each i, ``_NONE`` where not a token."""
    return np.fromiter((get(piece[a:b], _NONE) for a, b in zip(lo.tolist(), hi.tolist())),
                       np.int64, len(lo))


def _round(get, piece: bytes, starts: np.ndarray, pairs: np.ndarray):
    """One round. ``starts`` are the part starts plus ``len(piece)``; ``pairs[k]`` the rank of
    parts k and k+1. Returns the new (starts, pairs, number of merges), or None when the round
    must not stand (a new pair ranks below the merged one) or there is nothing to merge."""
    r = pairs.min()
    if r == _NONE:
        return None
    sel = np.flatnonzero(pairs == r)                     # pairs of the lowest rank
    run_start = np.ones(len(sel), dtype=bool)
    run_start[1:] = sel[1:] != sel[:-1] + 1
    first = np.flatnonzero(run_start)
    offset = np.arange(len(sel)) - np.repeat(first, np.diff(np.append(first, len(sel))))
    chosen = sel[offset % 2 == 0]                         # every other pair of each run, from the left

    # (2) pairs made and consumed within the round: T + the left part of the next chosen pair
    follows = chosen[1:][chosen[1:] == chosen[:-1] + 2]   # chosen pairs right after another
    if len(follows):
        transient = _lookup(get, piece, starts[follows - 2], starts[follows + 1])
        if (transient < r).any():
            return None

    # new pair j changed if part j or part j+1 grew; otherwise it keeps its old rank
    new_starts, new_pairs, idx = merge_at(starts, pairs, chosen)
    if len(idx):
        fresh = _lookup(get, piece, new_starts[idx], new_starts[idx + 2])
        if (fresh < r).any():
            return None
        new_pairs[idx] = fresh
    return new_starts, new_pairs, len(chosen)


def bpe_rounds_bounds(ranks: Ranks, piece: bytes, min_share: float = ROUND_MIN_SHARE,
                      safe: "SafeMerges | None" = None) -> list[int]:
    """The start offsets of the final parts of ``piece``, plus ``len(piece)`` (same as the heap).

    With ``safe`` (:class:`refimpl.bpe_safe.SafeMerges` for these ranks) there are two kinds
    of round: every merge of the lowest rank (above), and every safe merge (a random run of
    letters has few repeats but many safe merges). Each round leaves a state the textbook
    merge passes through or ends at the same answer from, so the kinds mix freely: the kind
    that paid last goes first; when neither pays, the heap finishes.

    ``safe`` may also be a function ``safe(parts, upfront)`` that returns a SafeMerges or
    None, for tables that are costly to build (0.15 s to 0.25 s) and not always worth it. It is
    asked at the start with the most parts the heap could take (``upfront=True``) and, if it
    gave none, once more when the rounds of equal ranks stop paying, with the number of parts
    they leave to the heap (``upfront=False``).

    >>> ranks = {b"a": 0, b"aa": 1, b"aaaa": 2}
    >>> bpe_rounds_bounds(ranks, b"aaaaa", min_share=0)
    [0, 4, 5]
    """
    n = len(piece)
    if n <= 1:
        return [0, n] if n else [0]
    get = ranks.get
    starts = np.arange(n + 1)
    ask = None
    if safe is not None and not isinstance(safe, SafeMerges):
        ask, safe = safe, safe(n - 1, True)
    data = np.frombuffer(piece, np.uint8)
    hasher = bpe_batch._Hasher(data) if safe is not None else None

    def equal_ranks(starts, pairs):
        return _round(get, piece, starts, pairs)

    def safe_merges(starts, pairs):
        return safe.round(data, hasher, starts, pairs)

    if safe is None:
        pairs = _lookup(get, piece, starts[:-2], starts[2:])
        kinds = [equal_ranks]
    else:
        pairs = safe.pairs(data, hasher, starts)  # the same ranks, found with numpy
        kinds = [safe_merges, equal_ranks]
    while len(starts) > 2:
        for kind in kinds:
            step = kind(starts, pairs)
            if step is None:
                continue
            starts, pairs, done = step
            if done and done >= min_share * len(starts):
                kinds.remove(kind)
                kinds.insert(0, kind)
                break
        else:
            if safe is None and ask is not None and len(pairs) and pairs.min() != _NONE:
                safe = ask(len(starts) - 1, False)  # worth building the tables now?
                if safe is not None:
                    hasher = bpe_batch._Hasher(data)
                    kinds = [safe_merges, equal_ranks]
                    continue
            break
    if len(starts) > 2 and len(pairs) and pairs.min() != _NONE:
        starts = _finish_with_heap(get, piece, starts, pairs)
    return starts.tolist() if isinstance(starts, np.ndarray) else starts


def _finish_with_heap(get, piece: bytes, starts: np.ndarray, pairs: np.ndarray) -> list[int]:
    n = len(piece)
    end = np.arange(1, n + 1)
    end[starts[:-1]] = starts[1:]
    prev = np.arange(-1, n - 1)
    prev[starts[1:-1]] = starts[:-2]
    pair: list = [None] * n
    has = np.flatnonzero(pairs != _NONE)
    for a, r in zip(starts[has].tolist(), pairs[has].tolist()):
        pair[a] = r
    end = heap_merge(get, piece, end.tolist(), prev.tolist(), pair)
    out, i = [], 0
    while i < n:
        out.append(i)
        i = end[i]
    out.append(n)
    return out


def bpe_rounds_encode(piece: bytes, ranks: Ranks, safe: "SafeMerges | None" = None) -> list[int]:
    """The token ids of ``piece`` by rounds (then the heap): same as ``byte_pair_encode``.

    >>> bpe_rounds_encode(b"aaaaa", {b"a": 0, b"aa": 1, b"aaaa": 2})
    [2, 0]
    """
    bounds = bpe_rounds_bounds(ranks, piece, safe=safe)
    return [ranks[piece[a:b]] for a, b in zip(bounds, bounds[1:])]


# Segments at least this long go to the rounds; shorter ones to byte_pair_encode.
ROUNDS_PIECE = 4096


def encode_long_piece(piece: bytes, ranks: Ranks, joinable: np.ndarray) -> list[int]:
    """The token ids of a long ``piece``: cut (:func:`unmergeable_cuts`), then each segment by
    rounds if it is long, else by ``byte_pair_encode``. Same answer as ``byte_pair_encode``.

    >>> ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}
    >>> encode_long_piece(b"abcab", ranks, joinable_pairs(ranks))
    [3, 2, 3]
    """
    bounds = [0, *unmergeable_cuts(piece, joinable), len(piece)]
    segments = [piece[a:b] for a, b in zip(bounds, bounds[1:])]
    # A segment's merges depend on its bytes alone, so each distinct segment is merged once: a
    # long run of CJK text is cut into many short segments (one or two bytes, often), mostly
    # seen before.
    return list(chain.from_iterable(map(_SegmentTokens(ranks).__getitem__, segments)))


# Distinct segments of at most this many bytes are merged together in rounds; longer ones one
# by one (a round pays when most pieces still have merges to make; long segments of letters
# keep a few pieces going for hundreds of rounds).
BATCH_SEGMENT = 16
# Segments of at most this many bytes are told apart by an exact 64-bit key (their bytes and
# length packed into one integer), so numpy can find the distinct ones.
_PACKED_BYTES = 7


def encode_long_piece_batched(piece: bytes, ranks: Ranks, joinable: np.ndarray,
                              index, safe=None) -> list[int]:
    """Same answer as :func:`encode_long_piece`, with the segments handled as arrays: the
    distinct short segments are found by packing each into one integer, merged together in
    rounds (:func:`refimpl.bpe_batch.encode_many`), and their tokens laid out again in the
    piece's order by index arithmetic. A megabyte of rare Han characters is half a million
    segments, of which 50,000 are distinct; :func:`encode_long_piece` spends most of its time
    making, looking up and chaining the half million. Segments long enough for rounds use
    safe merges too if ``safe`` is given (a :class:`refimpl.bpe_safe.SafeMerges`, or a
    function that decides when to build one: see :func:`bpe_rounds_bounds`).

    ``index`` is a :class:`refimpl.bpe_batch.TokenIndex` for these ranks, or a function that
    is asked with the number of distinct short segments and returns one, or None to have
    them merged one by one (the index takes 35 ms to 55 ms to build, which a few hundred
    segments do not repay).

    >>> from refimpl.bpe_batch import TokenIndex
    >>> ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4}
    >>> encode_long_piece_batched(b"abcab", ranks, joinable_pairs(ranks), TokenIndex(ranks))
    [3, 2, 3]
    """
    if not piece:
        return []
    data = np.frombuffer(piece, np.uint8)
    bounds = np.concatenate(([0], np.asarray(unmergeable_cuts(piece, joinable), np.int64),
                             [len(piece)]))
    lo, hi = bounds[:-1], bounds[1:]
    size = hi - lo
    # exact keys for short segments: byte i at bits 8i, the length at bits 56 and up
    short = np.flatnonzero(size <= _PACKED_BYTES)
    key = size[short].astype(np.uint64) << np.uint64(56)
    for i in range(_PACKED_BYTES):
        has = size[short] > i
        at = np.minimum(lo[short] + i, len(data) - 1)
        key |= np.where(has, data[at].astype(np.uint64) << np.uint64(8 * i), np.uint64(0))
    distinct, first_at, which = np.unique(key, return_index=True, return_inverse=True)
    segments = [piece[a:b] for a, b in zip(lo[short[first_at]].tolist(), hi[short[first_at]].tolist())]
    # segment -> its number among the distinct ones; longer segments are numbered after
    ids = np.empty(len(lo), dtype=np.int64)
    ids[short] = which.reshape(-1)
    longer = np.flatnonzero(size > _PACKED_BYTES)
    number: dict[bytes, int] = {}
    for k, a, b in zip(longer.tolist(), lo[longer].tolist(), hi[longer].tolist()):
        seg = piece[a:b]
        ids[k] = number.setdefault(seg, len(segments) + len(number))
    segments.extend(number)
    small = [s for s in segments if len(s) <= BATCH_SEGMENT]
    if callable(index):  # a TokenIndex is not
        index = index(len(small))
    tokens_of = dict(zip(small, bpe_batch.encode_many(small, ranks, index))) if index is not None else {}
    per_segment = list(map(_SegmentTokens(ranks, tokens_of, safe).__getitem__, segments))
    count = np.fromiter(map(len, per_segment), np.int64, len(per_segment))
    flat = np.fromiter(chain.from_iterable(per_segment), np.int64, int(count.sum()))
    # lay the tokens out in the piece's order: segment k contributes flat[off[ids[k]] : + count]
    n = count[ids]
    off = (np.cumsum(count) - count)[ids]
    within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return flat[np.repeat(off, n) + within].tolist()


class _SegmentTokens(dict):
    """``{segment: its token ids}``, each computed on first use: by rounds if the segment is
    long, else by ``byte_pair_encode``. (Starting short segments from whole characters, as
    pieces do, was 10% quicker on a megabyte of common Han characters and 12% slower on rare
    ones, most of which are no token in cl100k_base: not kept.)"""

    def __init__(self, ranks: Ranks, known: dict | None = None, safe=None):
        super().__init__(known or {})
        self.ranks = ranks
        self.safe = safe  # as bpe_rounds_bounds takes it

    def __missing__(self, segment: bytes) -> list[int]:
        # subtle: no "whole segment is a token" shortcut here. tiktoken takes that shortcut
        # for whole pieces only, and a token need not be its own BPE (a vocabulary can hold
        # tokens that merges never reach), so a segment always goes through the merges.
        if len(segment) >= ROUNDS_PIECE:
            try:
                tokens = bpe_rounds_encode(segment, self.ranks, self.safe)
            except KeyError:
                tokens = byte_pair_encode(segment, self.ranks)  # raises the clear missing-byte error
        else:
            tokens = byte_pair_encode(segment, self.ranks)
        self[segment] = tokens
        return tokens
