"""Start BPE from whole characters where that is provably the same as starting from bytes.

Byte-level BPE starts every piece from single bytes, so a piece of Chinese, Russian or Hindi
spends most of its merges putting UTF-8 characters back together: two merges for every CJK
character, one for every Cyrillic letter. Those merges usually come first, and nothing else
can happen to the bytes of a character until they are done, but not always: cl100k_base has
the token ``" \\xd0"`` (a space and the first byte of most Cyrillic letters) at rank 1301, below
the letter ``"п"`` (``\\xd0\\xbf``, rank 8164), so in ``" п"`` the space takes the first byte
before the letter is whole. This module starts a character whole exactly when no such thing
can happen.

**The rule.** Let character ``c`` have the UTF-8 bytes ``B`` (2 to 4 of them), let BPE of ``B``
alone give the single token ``c``, and let ``m`` be the highest rank among the merges that BPE
makes on ``B``. In a piece, let ``a`` be the byte just before ``c`` and ``z`` the byte just
after it (either may be missing). ``c`` may start whole if no token of rank ``<= m``

1. ends with ``a`` + a proper prefix of ``B`` (the left part takes some of ``c``'s bytes),
2. starts with a proper suffix of ``B`` + ``z`` (the right part does),
3. ends with ``a`` + ``B``, or
4. starts with ``B`` + ``z`` (``c`` joins a neighbour earlier than it would have).

*Why that is exact.* Run BPE from bytes. While ``c`` is not yet whole, BPE on its bytes has a
pair of rank ``<= m`` left to merge, so any pair that would join a part of ``c`` to a part
outside it loses: such a pair is a token of kind 1 or 2 (its outside part ends with ``a`` or
starts with ``z``), so its rank is above ``m``. The bytes of ``c`` merge among themselves, in the
order BPE gives ``B`` alone, and every merge made elsewhere meanwhile has rank ``<= m``. Started
with ``c`` whole, the same merges elsewhere win in the same order: each was the lowest, then
leftmost, of all pairs, so it is also the lowest, then leftmost, of the pairs outside ``c``
(the same in both runs), and the only new pairs are ``c`` with its neighbours, tokens of kind
3 or 4, ranked above ``m``. Once ``c`` is whole the two runs are in the same state. The
argument holds from any state of the rest of the piece, so the characters can be started
whole one after another, all of them together. (This is the argument for cuts in
:mod:`refimpl.bpe_long`, carried to the time before a character is whole.)

**Cost.** Checking the rule needs, for each character, the bytes ``a`` and ``z`` that break it:
its *table entry* (:func:`char_table` makes the whole table). For the bundled rank files the
tables are computed ahead and shipped (``refimpl/_data/char_starts/``, written by ``python -m
refimpl.bpe_chars``, SHA-256 pinned; a test recomputes them). For any other rank table
:class:`CharStarts` builds entries as characters turn up, from an index of every token's two
ends (kinds 1 and 3 look at a token's last character, 2 and 4 at its first), walked in rank
order only as far as the characters seen so far need (a table whose ranks are not 0, 1, 2, ...
in order is indexed whole, sorted). On the benchmark's multilingual text about 70% (cl100k_base)
and 80% (o200k_base) of the multi-byte characters start whole.

:func:`char_bounds_reference` is the rule read straight off the rank table (slow: it looks at
every token); ``tests/test_bpe_chars.py`` holds :class:`CharStarts` to it, and the BPE that
starts from its bounds to BPE from bytes.
"""
from __future__ import annotations

import hashlib
import os
import threading
from importlib import resources
from itertools import compress, count, islice
from operator import eq, itemgetter, not_
from typing import Mapping

from .bpe import bpe_merge_textbook
from .errors import RankFileError
from .load import EXPECTED_HASHES, bundled_name, load_bundled_ranks

Ranks = Mapping[bytes, int]


def utf8_length(lead: int) -> int:
    """Bytes in a UTF-8 character that starts with byte ``lead``; 0 for a continuation byte.

    >>> [utf8_length(c.encode()[0]) for c in "aé中😀"], utf8_length(0x80)
    ([1, 2, 3, 4], 0)
    """
    if lead < 0x80:
        return 1
    if lead < 0xC0:
        return 0
    return 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _is_continuation(byte: int) -> bool:
    return 0x80 <= byte < 0xC0


def max_merge_rank(ranks: Ranks, data: bytes) -> int | None:
    """The highest rank BPE merges on ``data`` alone, or None if that does not end in one token.

    >>> max_merge_rank({b"a": 0, b"b": 1, b"c": 2, b"bc": 3, b"abc": 4}, b"abc")
    4
    >>> max_merge_rank({b"a": 0, b"b": 1}, b"ab") is None
    True
    """
    merged: list[int] = []
    parts = bpe_merge_textbook(ranks, data, merged)
    return max(merged) if len(parts) == 1 and merged else None


def token_ends(token: bytes) -> tuple[tuple[bytes, int] | None, tuple[bytes, int] | None]:
    """What a token can do to a character at each of its ends.

    Returns ``(tail, head)``: ``tail = (t, a)`` if the token ends with ``t``, all or the start
    of one multi-byte character, after the byte ``a`` (kinds 1 and 3 of the rule); ``head = (h,
    z)`` if it starts with ``h``, all or the end of one multi-byte character, before the byte
    ``z`` (kinds 2 and 4). None where the token has no such end. Only the ends are read: a
    token that cannot occur in UTF-8 text at all (a lead byte followed by ASCII inside it, say)
    may still report one, which only makes the rule stricter than it need be.

    >>> token_ends(" \\u043f".encode())   # " п": a space, then the whole letter
    ((b'\\xd0\\xbf', 32), None)
    >>> token_ends(b"\\xb0\\xd0")         # the end of one letter, the start of the next
    ((b'\\xd0', 176), (b'\\xb0', 208))
    """
    n = len(token)
    if n < 2 or token.isascii():
        return None, None
    tail = head = None
    # the last character: back over up to three continuation bytes to its lead byte
    s = n - 1
    while s > 0 and n - s < 4 and _is_continuation(token[s]):
        s -= 1
    if s > 0 and token[s] >= 0xC0 and n - s <= utf8_length(token[s]):
        tail = (token[s:], token[s - 1])
    # the first character: a run of continuation bytes (the end of one), or a whole one
    j = 0
    while j < n and _is_continuation(token[j]):
        j += 1
    if 0 < j <= 3 and j < n:
        head = (token[:j], token[j])
    elif j == 0 and token[0] >= 0xC0:
        k = utf8_length(token[0])
        if n > k:
            head = (token[:k], token[k])
    return tail, head


def char_bounds_reference(ranks: Ranks, data: bytes) -> list[int]:
    """The part starts (plus the end) of ``data`` with every character that may start whole
    merged, read straight off the rule. Slow: it looks at every token for every character.

    With ranks where ``\\xd0\\xbf`` ("п") is a token and nothing else is, both letters of
    "пп" start whole:

    >>> ranks = {bytes([i]): i for i in range(256)}
    >>> ranks[b"\\xd0\\xbf"] = 256
    >>> char_bounds_reference(ranks, "пп".encode())
    [0, 2, 4]
    >>> ranks[b"\\xbf\\xd0"] = 257   # but above "п": it cannot break the rule
    >>> char_bounds_reference(ranks, "пп".encode())
    [0, 2, 4]
    >>> ranks[b"\\xbf\\xd0"] = 100   # below "п": the end of one letter takes the next one's start
    >>> char_bounds_reference(ranks, "пп".encode())
    [0, 1, 2, 3, 4]
    """
    n, o, bounds = len(data), 0, []
    while o < n:
        k = max(1, utf8_length(data[o]))
        char = data[o:o + k]
        m = max_merge_rank(ranks, char) if k > 1 else None
        ok = m is not None
        if ok:
            a = data[o - 1:o]
            z = data[o + k:o + k + 1]
            for token, rank in ranks.items():
                if rank > m or len(token) < 2:
                    continue
                broken = any(
                    (a and token.endswith(a + char[:i]))          # kinds 1 (i < k) and 3 (i = k)
                    or (z and token.startswith(char[i - 1:] + z))  # kinds 4 (i = 1) and 2
                    for i in range(1, k + 1)
                )
                if broken:
                    ok = False
                    break
        bounds.extend([o] if ok else range(o, o + k))
        o += k
    bounds.append(n)
    return bounds


# SHA-256 of the shipped tables (refimpl/_data/char_starts/NAME.txt), checked on reading.
SHIPPED_TABLE_HASHES = {
    "r50k_base": "943b1b50a503e9b03fb921be1fe3382878767ea9f14dd3ef6eea404bb2e561e9",
    "p50k_base": "943b1b50a503e9b03fb921be1fe3382878767ea9f14dd3ef6eea404bb2e561e9",
    "cl100k_base": "1cb537e1045e8eee2a5624ac40584fb3e88316aaedde4f19d9fd939acb361d35",
    "o200k_base": "08bdb9e4ffec8c0bca8dab9b0fe41267ee6106dd189a1324a5121b973825eb47",
}


def _table_text(table: dict[str, tuple[bytes, bytes]]) -> bytes:
    return "".join(f"{ch}\t{left.hex()}\t{right.hex()}\n" for ch, (left, right) in table.items()).encode()


def shipped_table(name: str) -> dict[str, str]:
    """The :func:`char_table` of bundled rank file ``name``, as shipped and verified:
    ``{ch: line}``, each line the character, then the bytes in hex before and after it that
    break the rule, tab-separated (:func:`parse_table_line` reads one; lines are read as
    characters turn up).

    >>> line = shipped_table("cl100k_base")["\u0430"]   # "а"
    >>> parse_table_line(line)   # it starts whole unless a space comes before it
    (b' ', b'')
    """
    path = resources.files("refimpl").joinpath("_data", "char_starts", f"{name}.txt")
    try:
        data = path.read_bytes()
    except (FileNotFoundError, OSError):
        raise RankFileError(f"refimpl/_data/char_starts/{name}.txt is missing; reinstall refimpl") from None
    if hashlib.sha256(data).hexdigest() != SHIPPED_TABLE_HASHES[name]:
        raise RankFileError(
            f"refimpl/_data/char_starts/{name}.txt does not match its pinned sha256 "
            f"{SHIPPED_TABLE_HASHES[name]}; the installation is corrupt: reinstall refimpl (or "
            "rebuild the tables with python -m refimpl.bpe_chars)"
        )
    lines = data.decode("utf-8").split("\n")[:-1]
    return dict(zip(map(itemgetter(0), lines), lines))  # each character is one code point


def parse_table_line(line: str) -> tuple[bytes, bytes]:
    """``(left, right)`` from a line of a shipped table.

    >>> parse_table_line("\\u0430\\t20\\t")
    (b' ', b'')
    """
    _, left, right = line.split("\t")
    return bytes.fromhex(left), bytes.fromhex(right)


def write_shipped_tables(directory: str) -> dict[str, str]:
    """Write ``NAME.txt`` in ``directory``, the :func:`char_table` of every bundled rank file;
    returns their SHA-256 (for ``SHIPPED_TABLE_HASHES``).

    >>> import tempfile
    >>> write_shipped_tables(tempfile.mkdtemp()) == SHIPPED_TABLE_HASHES   # what ships
    True
    """
    os.makedirs(directory, exist_ok=True)
    hashes = {}
    for name in EXPECTED_HASHES:
        data = _table_text(char_table(load_bundled_ranks(name)))
        with open(os.path.join(directory, f"{name}.txt"), "wb") as f:
            f.write(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    return hashes


def char_table(ranks: Ranks) -> dict[str, tuple[bytes, bytes]]:
    """Every character that may start whole, with the bytes before it and after it that
    break the rule: ``{ch: (left, right)}``. The characters are the multi-byte ones that are a
    token of their own (no other can pass the rule).

    >>> ranks = {bytes([i]): i for i in range(256)}
    >>> ranks.update({b"\\xd0\\xbf": 256, b" \\xd0": 100})
    >>> char_table(ranks)   # a space before "п" breaks it (" \\xd0" is below "п")
    {'п': (b' ', b'')}
    """
    starts = CharStarts(ranks, shipped=False)
    table = {}
    for token in ranks:
        if len(token) > 1 and not token.isascii():
            try:
                ch = token.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                k, left, right = starts.char_info(ch)
                if left is not None:
                    table[ch] = (left, right)
    return dict(sorted(table.items()))


class CharStarts:
    """For one rank table: which characters of a piece start whole (the rule above).

    ``info[ch]`` is ``(k, left, right)``: ``ch`` has ``k`` UTF-8 bytes and starts whole unless
    the byte before it is in ``left`` or the byte after it is in ``right`` (both ``bytes``);
    ``left`` is None if it never starts whole, and single-byte characters are ``(1, None,
    None)``. If ``ranks`` is a bundled rank file as :func:`refimpl.load.shared_bundled_ranks`
    returned it, the entries come from the shipped table (unless ``shipped`` is False).

    >>> ranks = {bytes([i]): i for i in range(256)}
    >>> ranks.update({b"\\xd0\\xbf": 256, b" \\xd0": 257, b" \\xd0\\xbf": 258})
    >>> starts = CharStarts(ranks)
    >>> starts.bounds("пп", "пп".encode())
    [0, 2, 4]
    >>> starts.bounds(" п", " п".encode())   # " \\xd0" (257) is above "п" (256): fine
    [0, 1, 3]
    """

    def __init__(self, ranks: Ranks, shipped: bool = True):
        self.ranks = ranks
        self._shipped = shipped  # look for a shipped table at the first multi-byte character
        self.table: dict[str, str] | None = None  # a shipped table (see shipped_table)
        self.info: dict[str, tuple] = {}
        # tails[t] = {a: lowest rank of a token ending with a + t}; heads[h] = {z: ...} for h + z
        self._tails: dict[bytes, dict[int, int]] = {}
        self._heads: dict[bytes, dict[int, int]] = {}
        self._indexed = 0  # every token of rank < _indexed is in the index
        self._in_order: bool | None = None  # ranks are 0, 1, 2, ... in the dict's order
        self._tokens = iter(ranks.keys())  # walked in rank order when _in_order
        self._lock = threading.Lock()

    def _add(self, token: bytes, rank: int) -> None:
        """Index one token; tokens come in rank order, so the first rank kept is the lowest."""
        tail, head = token_ends(token)
        if tail is not None:
            self._tails.setdefault(tail[0], {}).setdefault(tail[1], rank)
        if head is not None:
            self._heads.setdefault(head[0], {}).setdefault(head[1], rank)

    def _add_many(self, tokens, ranks) -> None:
        """``_add`` for each token and its rank, in rank order. The fast path: a token that
        is valid UTF-8 has whole characters at both ends (what most tokens are); the others
        (a character cut at an end) go through :func:`token_ends`."""
        tails, heads = self._tails, self._heads
        for token, rank in zip(tokens, ranks):
            try:
                text = token.decode("utf-8")
            except UnicodeDecodeError:
                self._add(token, rank)
                continue
            if len(text) < 2:
                continue  # one character: it has nothing outside it
            # rank order: the first rank stored for a key is its lowest
            if text[-1] >= "\x80":
                last = text[-1].encode("utf-8")
                tails.setdefault(last, {}).setdefault(token[-len(last) - 1], rank)
            if text[0] >= "\x80":
                first = text[0].encode("utf-8")
                heads.setdefault(first, {}).setdefault(token[len(first)], rank)

    def _index_up_to(self, limit: int) -> None:
        """Index every token of rank < ``limit`` (the caller holds ``_lock``).

        If the ranks are exactly 0, 1, 2, ... in the dict's order (a table read from a rank
        file), the walk goes on from where it stopped, only as far as needed; any other
        table (gaps, negative or repeated ranks, another order) is indexed whole, sorted by
        rank, the first time. That is decided once, on the whole table, before anything is
        indexed."""
        if self._indexed >= limit:
            return
        if self._in_order is None:
            self._in_order = all(map(eq, self.ranks.values(), count()))
            if not self._in_order:
                by_rank = sorted(self.ranks.items(), key=itemgetter(1))
                self._add_all([t for t, _ in by_rank], [r for _, r in by_rank])
                self._indexed = 1 << 62
                return
        start = self._indexed
        size = max(4096, limit - start)
        tokens = list(islice(self._tokens, size))
        self._add_all(tokens, range(start, start + len(tokens)))
        self._indexed = start + len(tokens) if len(tokens) == size else 1 << 62

    def _add_all(self, tokens: list, ranks) -> None:
        # only a token with a byte above 127 can hold part of a multi-byte character
        wanted = list(map(not_, map(bytes.isascii, tokens)))
        self._add_many(compress(tokens, wanted), compress(ranks, wanted))

    def char_info(self, ch: str) -> tuple:
        """``(k, left, right)`` for ``ch``, as described in the class docstring.

        >>> ranks = {bytes([i]): i for i in range(256)}
        >>> ranks.update({b"\\xd0\\xbf": 256, b" \\xd0": 100})
        >>> CharStarts(ranks).char_info("\\u043f"), CharStarts(ranks).char_info("a")
        ((2, b' ', b''), (1, None, None))
        """
        data = ch.encode("utf-8", "surrogatepass")
        k = len(data)
        if k == 1:
            return (1, None, None)
        if self._shipped:  # the first multi-byte character: is there a shipped table?
            with self._lock:
                if self._shipped:
                    name = bundled_name(self.ranks)
                    self.table = shipped_table(name) if name else None
                    self._shipped = False  # only now: other threads wait for the table
        if self.table is not None:
            line = self.table.get(ch)
            return (k, *parse_table_line(line)) if line else (k, None, None)
        m = max_merge_rank(self.ranks, data)
        if m is None:
            return (k, None, None)
        left, right = set(), set()
        # subtle: threads. The index grows under the lock, and is read under it too (a
        # reader iterating a dict another thread is adding to would fail).
        with self._lock:
            self._index_up_to(m + 1)
            for i in range(1, k + 1):  # kinds 1 and 3: tokens ending with a + data[:i]
                left.update(a for a, r in self._tails.get(data[:i], {}).items() if r <= m)
            for i in range(k):  # kinds 4 and 2: tokens starting with data[i:] + z
                right.update(z for z, r in self._heads.get(data[i:], {}).items() if r <= m)
        return (k, bytes(sorted(left)), bytes(sorted(right)))

    def bounds(self, piece: str, data: bytes) -> list[int]:
        """The part starts of ``data`` (``piece`` as UTF-8), plus its end, with every character
        that may start whole merged; equal to :func:`char_bounds_reference`."""
        info = self.info
        out: list[int] = []
        o, n = 0, len(data)
        for ch in piece:
            entry = info.get(ch)
            if entry is None:
                entry = info[ch] = self.char_info(ch)
            k, left, right = entry
            if k == 1:
                out.append(o)
            elif left is None or (o and data[o - 1] in left) or (o + k < n and data[o + k] in right):
                out.extend(range(o, o + k))
            else:
                out.append(o)
            o += k
        out.append(n)
        return out


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, digest in write_shipped_tables(os.path.join(here, "_data", "char_starts")).items():
        print(f'    "{name}": "{digest}",')  # paste into SHIPPED_TABLE_HASHES
