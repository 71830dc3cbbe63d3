"""Compile a tiktoken split pattern for Python's ``regex`` module, exactly.

A tiktoken ``pat_str`` is written for Rust's regex engines (``fancy-regex`` over ``regex``).
Python's ``regex`` module reads the same syntax (possessive quantifiers, ``\\p{..}`` classes,
lookahead, scoped ``(?i:..)``) with two differences that matter here, and this module removes
both:

1. Unicode version. Rust's tables are Unicode 16.0; ``regex``'s are newer (see
   :mod:`refimpl.unicode_tables`). We compile two programs from one pattern:

   * the *fast* one keeps ``\\p{..}`` and ``\\s`` as they are, so ``regex`` uses its own tables;
   * the *exact* one spells every property out as an explicit class of Unicode 16.0 ranges.

   Both give the same pieces on any text without a *suspect* code point: one on which the
   installed ``regex`` and Unicode 16.0 disagree for a property the pattern uses. Each distinct
   character of a non-ASCII text is classified once (and remembered); a text with a suspect
   character is split with the exact program.

   * ASCII text, the common case, gets a third program: the same pattern with every class cut
     down to ASCII, compiled with the standard library's ``re`` (about 2.5x faster than ``regex``
     here; possessive quantifiers need Python >= 3.11, older Pythons use ``regex`` for it).
   * Mostly-ASCII text (prose with curly quotes, code with an accented name) gets the same
     program after each non-ASCII character is replaced by an ASCII *stand-in* that the pattern
     cannot tell from it (`_StandIns`); the pieces are then cut from the original text.

2. ``$``. In Rust (no ``m`` flag) it means end of text; in Python it also matches before a final
   newline. We write ``\\Z``. (For the official patterns the two agree, because ``$`` only
   follows a possessive ``\\s++`` that has already eaten any final newline; the rewrite makes it
   safe for user patterns too.)

Everything else (``(?i:'s)`` matching the long s U+017F, leftmost-first alternation, ...) was
checked to agree on every code point; ``tests/test_pattern.py`` holds that.
"""
from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import regex

from .unicode_tables import complement, known_property, property_ranges

# Shorthand classes Rust reads as Unicode properties.
_SHORTHAND = {"s": ("White_Space", False), "S": ("White_Space", True)}


@dataclass(frozen=True)
class _Parsed:
    fast: str             # pattern for regex's own tables
    exact: str            # pattern with Unicode 16.0 classes spelled out
    ascii: str            # pattern with classes cut down to ASCII, for ASCII-only text
    properties: frozenset  # property names the pattern uses
    atoms: tuple = ()      # every character class, as written (regex's own tables)
    literals: frozenset = frozenset()  # characters matched literally (conservatively: all)
    stand_ins_ok: bool = False  # True if atoms + literals are all the pattern can tell apart


_ASCII = ((0, 0x7F),)


def _intersect(ranges, limits=_ASCII):
    (lo_limit, hi_limit), = limits
    return tuple((max(lo, lo_limit), min(hi, hi_limit)) for lo, hi in ranges
                 if lo <= hi_limit and hi >= lo_limit)


def _class_body(ranges) -> str:
    """The inside of a character class that matches exactly ``ranges``."""
    return "".join(
        f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges
    )


_ESCAPED_CHARS = {"r": "\r", "n": "\n", "t": "\t", "f": "\f", "v": "\v", "0": "\0"}
_GROUP_SYNTAX_OK = regex.compile(r"(?s)(?:[^(\\]|\\.|\((?!\?)|\(\?(?::|i:|[=!]|<[=!]))*")


def _translate(pat_str: str) -> _Parsed:
    """Walk the pattern once, rewriting properties, ``\\s``/``\\S`` and ``$``.

    A tiny scanner is enough: we only need to know whether we are inside ``[...]`` and to
    step over escapes. (subtle: ``]`` right after ``[`` or ``[^`` is a literal.)
    """
    fast, exact, ascii_, props = [], [], [], set()
    i, n, in_class, class_start, ascii_class_start = 0, len(pat_str), False, -1, -1
    atoms, literals, fast_class_start = [], set(), -1
    # Group syntax other than (?: (?i: (?= (?! (?<= (?<! may change what a character means.
    stand_ins_ok = _GROUP_SYNTAX_OK.fullmatch(pat_str) is not None

    def emit(text, ascii_text=None):
        fast.append(text)
        exact.append(text)
        ascii_.append(text if ascii_text is None else ascii_text)

    while i < n:
        c = pat_str[i]
        if c == "\\" and i + 1 < n:
            nxt = pat_str[i + 1]
            name = negate = None
            if nxt in "pP" and i + 2 < n and pat_str[i + 2] == "{":
                close = pat_str.find("}", i + 3)
                if close == -1:
                    raise ValueError(f"unterminated \\{nxt}{{ in pattern at {i}: {pat_str!r}")
                name, negate, length = pat_str[i + 3:close], nxt == "P", close + 1 - i
            elif nxt in "pP" and i + 2 < n:  # one-letter form: \pL
                name, negate, length = pat_str[i + 2], nxt == "P", 3
            elif nxt in _SHORTHAND:
                (name, negate), length = _SHORTHAND[nxt], 2
            if name is not None and known_property(name):
                props.add(name)
                ranges = property_ranges(name)
                if negate:
                    ranges = complement(ranges)
                body, ascii_body = _class_body(ranges), _class_body(_intersect(ranges))
                fast.append(pat_str[i:i + length])
                if in_class:
                    exact.append(body)
                    ascii_.append(ascii_body)
                else:
                    exact.append(f"[{body}]")
                    ascii_.append(f"[{ascii_body}]" if ascii_body else "(?!)")
                    atoms.append(pat_str[i:i + length])
                i += length
                continue
            # Any other escape is copied as is, two characters at a time.
            if nxt in _ESCAPED_CHARS:
                if not in_class:
                    literals.add(_ESCAPED_CHARS[nxt])
            elif nxt.isalnum() and not (nxt in "AZ" and not in_class):
                stand_ins_ok = False  # \d, \w, \b ...: classes we do not model
            elif not in_class and not nxt.isalnum():
                literals.add(nxt)  # an escaped punctuation character
            emit(pat_str[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and i > class_start:
                in_class = False
                atoms.append("".join(fast[fast_class_start:]) + "]")
                if not "".join(ascii_[ascii_class_start:]):
                    # every member was cut away: [] can never match, [^] matches anything
                    opener = ascii_[ascii_class_start - 1]
                    del ascii_[ascii_class_start - 1:]
                    emit(c, "(?!)" if opener == "[" else "[\\x00-\\x7f]")
                    i += 1
                    continue
        elif c == "[":
            in_class = True
            class_start = i + 1
            opener = "["
            if i + 1 < n and pat_str[i + 1] == "^":
                class_start += 1
                opener = "[^"
            if class_start < n and pat_str[class_start] == "]":
                class_start += 1  # a leading ] is a literal
            fast_class_start = len(fast)
            emit(opener)
            ascii_class_start = len(ascii_)
            i += len(opener)
            continue
        elif c == "$":
            emit("\\Z")
            i += 1
            continue
        elif c not in "|()?*+{}.^":
            literals.add(c)  # conservatively, also the letters and digits of (?i: and {1,3}
        emit(c)
        i += 1
    return _Parsed("".join(fast), "".join(exact), "".join(ascii_), frozenset(props),
                   tuple(atoms), frozenset(literals), stand_ins_ok)


@functools.lru_cache(maxsize=None)
def _all_code_points() -> str:
    """Every code point but the surrogates, as one string (built once, ~20 ms)."""
    cps = np.arange(0x110000, dtype="<u4")
    cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]
    return cps.tobytes().decode("utf-32-le")


def _regex_property(name: str):
    """One character of property ``name``, by ``regex``'s own tables."""
    return regex.compile(r"\s" if name == "White_Space" else f"\\p{{{name}}}")


@functools.lru_cache(maxsize=None)
def _disagreement(name: str) -> tuple[tuple[int, int], ...]:
    """Code points where the installed ``regex`` and Unicode 16.0 disagree on ``name``."""
    found = "".join(_regex_property(name).findall(_all_code_points()))
    theirs = np.zeros(0x110000, dtype=bool)
    theirs[np.frombuffer(found.encode("utf-32-le"), dtype="<u4")] = True
    ours = np.zeros(0x110000, dtype=bool)
    for lo, hi in property_ranges(name):
        ours[lo:hi + 1] = True
    diff = np.flatnonzero(theirs != ours)
    if diff.size == 0:
        return ()
    # Collapse sorted code points into (first, last) runs.
    breaks = np.flatnonzero(np.diff(diff) != 1)
    starts = np.concatenate(([diff[0]], diff[breaks + 1]))
    ends = np.concatenate((diff[breaks], [diff[-1]]))
    return tuple(zip(starts.tolist(), ends.tolist()))


def _member_test(name: str):
    """``test(char) -> (in regex's tables, in Unicode 16.0)`` for one property."""
    import bisect

    ranges = property_ranges(name)
    starts = [lo for lo, _ in ranges]
    theirs = _regex_property(name).match

    def test(char: str) -> tuple[bool, bool]:
        cp = ord(char)
        i = bisect.bisect_right(starts, cp) - 1
        return theirs(char) is not None, i >= 0 and cp <= ranges[i][1]

    return test


def _compile_ascii(src: str):
    """The ASCII program with ``re`` if this Python can (possessive quantifiers: 3.11+)."""
    import re

    try:
        return re.compile(src)
    except re.error:
        return regex.compile(src)


class _StandIns:
    """ASCII stand-ins for non-ASCII characters, so that ``re`` can split mostly-ASCII text.

    The split pattern can only tell characters apart through its character classes (its
    *atoms*) and its literal characters. Two characters that fall in exactly the same atoms
    (case-sensitively and case-insensitively) and that are not literals are interchangeable:
    the regex takes the same path on either. So a non-ASCII character may be replaced by an
    ASCII character with the same membership, the text split with the fast ASCII program, and
    the pieces cut from the original text at the same offsets. Characters with no ASCII twin
    (for o200k, letters that are both "upper" and "lower", like CJK) keep the other path.

    Membership is tested with the atoms as written (``regex``'s own tables, quick to compile),
    and only for characters on which those tables agree with Unicode 16.0 on every property
    the pattern uses (`SplitPattern._classify`); a suspect character never gets a stand-in.
    """

    def __init__(self, parsed: _Parsed):
        flags = (0, regex.IGNORECASE)
        self.tests = [regex.compile(a, f).match for a in parsed.atoms for f in flags]
        self.literals = [regex.compile("(?i)" + regex.escape(lit)).match for lit in parsed.literals]
        self.table: dict[int, int] = {}      # ord(char) -> ord(stand-in), for str.translate
        self.missing: set[str] = set()       # characters with no stand-in
        self.by_signature: dict[tuple, str] = {}
        for code in range(128):  # the first ASCII character of each signature stands in for it
            r = chr(code)
            if not self._is_literal(r):
                self.by_signature.setdefault(self._signature(r), r)

    def _is_literal(self, char: str) -> bool:
        return any(m(char) for m in self.literals)

    def _signature(self, char: str) -> tuple:
        return tuple(t(char) is not None for t in self.tests)

    def cover(self, chars, suspect) -> bool:
        """Find stand-ins for the new non-ASCII ``chars``; True if every one has one.
        ``suspect`` is the set of characters whose tables disagree (they get none)."""
        new = [c for c in chars if c > "\x7f" and ord(c) not in self.table and c not in self.missing]
        for c in new:
            r = None if c in suspect or self._is_literal(c) else self.by_signature.get(self._signature(c))
            if r is None:
                self.missing.add(c)
            else:
                self.table[ord(c)] = ord(r)
        return self.missing.isdisjoint(chars)


_NON_ASCII = __import__("re").compile(r"[^\x00-\x7f]+")
# SplitPattern checks a multilingual text's characters this many at a time.
_CODEPOINTS_AT_ONCE = 1 << 20


class SplitPattern:
    """A compiled split pattern that finds the pieces tiktoken finds.

    >>> p = SplitPattern(r"\\p{L}+|\\p{N}+|\\s+")
    >>> p.findall("abc 123")
    ['abc', ' ', '123']
    """

    def __init__(self, pat_str: str):
        self.pat_str = pat_str
        parsed = _translate(pat_str)
        try:
            self._fast = regex.compile(parsed.fast)
        except regex.error as e:
            raise ValueError(f"cannot compile pat_str {pat_str!r}: {e}") from None
        self._ascii = _compile_ascii(parsed.ascii)
        self._exact_src = parsed.exact
        self._properties = parsed.properties
        self._exact = None
        self._tests = None
        # Characters already classified: safe (both tables agree) or suspect.
        self._safe_chars: set[str] = set()
        self._suspect_chars: set[str] = set()
        # The same, by code point, for whole texts at once: 0 not seen, 1 safe, 2 suspect.
        self._state: np.ndarray | None = None
        self._parsed = parsed
        self._stand_ins = None  # built on the first mostly-ASCII text

    def _classify(self, chars: set[str]) -> bool:
        """Remember each new character as safe or suspect; True if any of ``chars`` is suspect."""
        if self._tests is None:
            self._tests = [_member_test(name) for name in sorted(self._properties)]
        for char in chars - self._safe_chars - self._suspect_chars:
            if any(a != b for a, b in (test(char) for test in self._tests)):
                self._suspect_chars.add(char)
            else:
                self._safe_chars.add(char)
        return not chars.isdisjoint(self._suspect_chars)

    def _classify_codepoints(self, cps: np.ndarray) -> None:
        """:meth:`_classify` for new code points ``cps`` (unique, uint32), all at once: each
        table is asked about all of them in one call (``regex`` searching a string of them,
        ``numpy`` searching the Unicode 16.0 ranges) instead of once per character."""
        chars = "".join(map(chr, cps.tolist()))
        suspect = np.zeros(len(cps), dtype=bool)
        for name in sorted(self._properties):
            theirs = np.zeros(len(cps), dtype=bool)
            theirs[[m.start() for m in _regex_property(name).finditer(chars)]] = True
            ranges = np.array(property_ranges(name), dtype=np.int64).reshape(-1, 2)
            i = np.searchsorted(ranges[:, 0], cps, side="right") - 1
            ours = (i >= 0) & (cps <= ranges[np.maximum(i, 0), 1])
            suspect |= theirs != ours
        self._state[cps] = np.where(suspect, 2, 1)
        for char, bad in zip(chars, suspect.tolist()):
            (self._suspect_chars if bad else self._safe_chars).add(char)

    def _program_for_text(self, text: str):
        """:meth:`_program_for_chars` for ``set(text)``, by code point in numpy: on
        multilingual text, about a third of the time of building the set of characters."""
        if self._state is None:
            self._state = np.zeros(0x110000, dtype=np.uint8)
        suspect = False
        for start in range(0, len(text), _CODEPOINTS_AT_ONCE):  # bounded memory: 5 bytes a char
            part = text[start:start + _CODEPOINTS_AT_ONCE]
            cps = np.frombuffer(part.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            state = self._state[cps]
            if state.min() == 0:  # characters never seen: classify them first
                seen = np.zeros(len(self._state), dtype=bool)
                seen[cps[state == 0]] = True  # (quicker than np.unique here)
                self._classify_codepoints(np.flatnonzero(seen).astype(np.uint32))
                state = self._state[cps]
            suspect = suspect or state.max() == 2
        return self._exact_program() if suspect else self._fast

    def _exact_program(self):
        if self._exact is None:  # compiled on first need: the spelled-out classes are large
            self._exact = regex.compile(self._exact_src)
        return self._exact

    def _program_for_chars(self, chars: set[str]):
        """``regex`` with its own tables, unless ``chars`` holds a suspect: then the exact one."""
        if chars <= self._safe_chars or not self._classify(chars):
            return self._fast
        return self._exact_program()

    def program_for(self, text: str):
        """The compiled program that splits ``text`` exactly as tiktoken does (without the
        stand-in path of :meth:`findall`)."""
        if text.isascii():
            return self._ascii
        return self._program_for_chars(set(text))

    def findall(self, text: str) -> list[str]:
        """The pieces of ``text``, in order, exactly as tiktoken splits it."""
        if text.isascii():
            return self._ascii.findall(text)
        # Mostly ASCII (few non-ASCII runs, and characters, in the first 4 KB): try the ASCII
        # program. (Counting runs alone sent a megabyte of CJK text, one run, this way, to find
        # stand-ins for 20,000 distinct characters.)
        runs = _NON_ASCII.findall(text, 0, 4096)
        if self._parsed.stand_ins_ok and len(runs) <= 64 and sum(map(len, runs)) <= 1024:
            chars = set(text)  # quick when most characters are ASCII (cached one-letter strs)
            program = self._program_for_chars(chars)  # classifies the new characters first
            pieces = self._findall_with_stand_ins(text, chars)
            return program.findall(text) if pieces is None else pieces
        return self._program_for_text(text).findall(text)

    def _findall_with_stand_ins(self, text: str, chars: set[str]):
        """Split ``text`` with the ASCII program (see `_StandIns`), or None if some character of
        ``chars`` (the set of ``text``'s characters, already classified) has no stand-in."""
        if self._stand_ins is None:
            self._stand_ins = _StandIns(self._parsed)
        if not self._stand_ins.cover(chars, self._suspect_chars):
            return None
        table, parts, prev = self._stand_ins.table, [], 0
        runs = [m.span() for m in _NON_ASCII.finditer(text)]
        for a, b in runs:
            parts.append(text[prev:a])
            parts.append(text[a:b].translate(table))
            prev = b
        parts.append(text[prev:])
        pieces = self._ascii.findall("".join(parts))
        # Same offsets in both texts: put the original characters back where they were replaced.
        ends = list(accumulate(map(len, pieces)))
        for a, b in runs:
            i = bisect_right(ends, a)
            while i < len(pieces) and (ends[i - 1] if i else 0) < b:
                pieces[i] = text[ends[i - 1] if i else 0:ends[i]]
                i += 1
        return pieces

    def exact_findall(self, text: str) -> list[str]:
        """Like :meth:`findall`, always with the spelled-out Unicode 16.0 classes (slow, exact)."""
        return self._exact_program().findall(text)

    def fast_findall(self, text: str) -> list[str]:
        """Like :meth:`findall`, always with ``regex``'s own tables (exact only without suspects)."""
        return self._fast.findall(text)
