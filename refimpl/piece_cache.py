"""The piece cache: each distinct piece's tokens, computed once.

A piece seen before costs one dictionary lookup (a C-level ``dict`` hit); a new piece is a
whole-piece token, or goes through BPE (:mod:`refimpl.bpe`; very long pieces through
:mod:`refimpl.bpe_long`). tiktoken's notes say the reference tokeniser kept such a cache.
"""
from __future__ import annotations

from . import bpe_batch, bpe_long, bpe_safe
from .bpe import byte_pair_encode, encode_from_bounds
from .bpe_chars import CharStarts

# The cache is cleared when it reaches this many entries, so memory stays bounded on endless
# streams of new text.
PIECE_CACHE_LIMIT = 200_000
# Pieces with at least this many bytes beyond one per character start BPE from whole
# characters (refimpl.bpe_chars); for fewer, finding them costs more than the merges it saves.
CHAR_START_MIN_SAVED = 2
# The safe-merge tables (refimpl.bpe_safe) take 0.15 s (cl100k_base) to 0.25 s (o200k_base) to
# build and save about two microseconds for each part they keep from the heap (a megabyte of
# "etaoinsh": 3.0 s without, 0.8 s with, cl100k_base, once built): they are built for a
# segment of this many bytes, or once long segments have left this many parts to the heap in
# all. (So runs of "=" or of spaces, which rounds of equal ranks finish, do not build them, and
# a megabyte of letters builds them at once.)
SAFE_TABLES_AFTER = 100_000
# The token index that merges the short segments of long pieces together (refimpl.bpe_batch)
# takes 35 ms to 55 ms to build and saves a few microseconds a segment; it is built once long
# pieces have brought this many distinct short segments in all (the same rule as the tables).
TOKEN_INDEX_AFTER = 5_000


class PieceCache(dict):
    """``{piece: tokens}``; a missing piece is encoded (whole-piece token, else BPE) and kept.

    >>> cache = PieceCache({b"a": 0, b"b": 1, b"ab": 2})
    >>> cache["abab"], len(cache)
    ((2, 2), 1)
    """

    def __init__(self, ranks: dict[bytes, int]):
        super().__init__()
        self.ranks = ranks
        self._joinable = None  # bpe_long.joinable_pairs(ranks), built for the first long piece
        # built when they pay: the token index (see _token_index) and the safe-merge tables
        # (refimpl.bpe_safe.SafeMerges, see _safe_merges)
        self._index = None
        self._safe = None
        self._short_segments = 0  # distinct short segments of long pieces so far
        self._heap_parts = 0  # parts long segments have left to the heap so far
        self._chars = CharStarts(ranks)  # which characters BPE may start whole

    def __missing__(self, piece: str) -> tuple[int, ...]:
        data = piece.encode("utf-8")
        token = self.ranks.get(data)
        if token is not None:
            tokens: tuple[int, ...] = (token,)
        elif len(data) >= bpe_long.SEGMENT_PIECE:
            if self._joinable is None:
                self._joinable = bpe_long.joinable_pairs(self.ranks)
            tokens = tuple(bpe_long.encode_long_piece_batched(
                data, self.ranks, self._joinable, self._token_index, self._safe_merges))
        elif len(data) - len(piece) >= CHAR_START_MIN_SAVED:
            # multi-byte characters: start from whole ones where that changes nothing
            tokens = tuple(encode_from_bounds(data, self.ranks, self._chars.bounds(piece, data)))
        else:
            tokens = tuple(byte_pair_encode(data, self.ranks))
        if len(self) >= PIECE_CACHE_LIMIT:
            self.clear()
        self[piece] = tokens
        return tokens

    def _safe_merges(self, parts: int, upfront: bool) -> bpe_safe.SafeMerges | None:
        """The safe-merge tables, or None while they would not pay (the ``safe`` function of
        :func:`refimpl.bpe_long.bpe_rounds_bounds`). ``upfront``: a segment of ``parts + 1``
        bytes is about to start; else ``parts`` parts are about to go to the heap. Like renting
        skis until the rent adds up to the price: the heap's parts are counted until they reach
        about what building costs, so the total is never much more than twice the better of
        building at once and never building."""
        if self._safe is None:
            if upfront:
                if parts + 1 < SAFE_TABLES_AFTER:  # a segment of parts + 1 bytes
                    return None
            else:
                self._heap_parts += parts
                if self._heap_parts < SAFE_TABLES_AFTER:
                    return None
            index = self._built_index()
            if not index.usable:
                return None
            self._safe = bpe_safe.SafeMerges(index)
        return self._safe

    def _token_index(self, segments: int) -> bpe_batch.TokenIndex | None:
        """The token index, or None while it would not pay or cannot be used (two tokens of
        one hash): ``segments`` distinct short segments are about to be merged."""
        if self._index is None:
            self._short_segments += segments
            if self._short_segments < TOKEN_INDEX_AFTER:
                return None
        index = self._built_index()
        return index if index.usable else None

    def _built_index(self) -> bpe_batch.TokenIndex:
        if self._index is None:
            self._index = bpe_batch.TokenIndex(self.ranks)
        return self._index
