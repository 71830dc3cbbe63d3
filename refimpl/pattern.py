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
   * Other text goes to ``re`` too, where the pattern allows (:mod:`refimpl.pattern_re`): a
     fourth program, with the Unicode 16.0 classes spelled out over the pages of Unicode the
     texts use. It is exact on every text, so nothing needs classifying. The fast and exact
     ``regex`` programs remain for patterns it cannot write (``\\p{Greek}``, ``\\d``, ...) and
     for Pythons before 3.11.

2. ``$``. In Rust (no ``m`` flag) it means end of text; in Python it also matches before a final
   newline. We write ``\\Z``. (For the official patterns the two agree, because ``$`` only
   follows a possessive ``\\s++`` that has already eaten any final newline; the rewrite makes it
   safe for user patterns too.)

Everything else (``(?i:'s)`` matching the long s U+017F, leftmost-first alternation, ...) was
checked to agree on every code point; ``tests/test_pattern.py`` holds that.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import regex

from .pattern_re import _SHORTHAND, ReSplit
from .unicode_tables import complement, known_property, property_ranges



@dataclass(frozen=True)
class _Parsed:
    fast: str             # pattern for regex's own tables
    exact: str            # pattern with Unicode 16.0 classes spelled out
    ascii: str            # pattern with classes cut down to ASCII, for ASCII-only text
    properties: frozenset  # property names the pattern uses
    atoms: tuple = ()      # every character class, as written
    modelled: bool = False  # True if its group syntax and escapes are all ones we model
    atom_spans: tuple = ()  # where each atom stands in ``fast``: (start, end) offsets
    atom_ignorecase: tuple = ()  # for each atom, whether it lies inside a (?i: group


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
    atoms, fast_class_start = [], -1
    # For each atom, the fragments of ``fast`` it spans, and whether a (?i: group holds it.
    atom_frags, atom_ignorecase, groups = [], [], []
    # Group syntax other than (?: (?i: (?= (?! (?<= (?<! may change what a character means.
    modelled = _GROUP_SYNTAX_OK.fullmatch(pat_str) is not None

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
                    atom_frags.append((len(fast) - 1, len(fast)))
                    atom_ignorecase.append(any(groups))
                i += length
                continue
            # Any other escape is copied as is, two characters at a time.
            if nxt.isalnum() and nxt not in _ESCAPED_CHARS and not (nxt in "AZ" and not in_class):
                modelled = False  # \d, \w, \b ...: classes we do not model
            emit(pat_str[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and i > class_start:
                in_class = False
                atoms.append("".join(fast[fast_class_start:]) + "]")
                atom_frags.append((fast_class_start, len(fast) + 1))  # with the "]" emitted below
                atom_ignorecase.append(any(groups))
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
        elif c == "(":
            groups.append(pat_str.startswith("(?i:", i))
        elif c == ")" and groups:
            groups.pop()
        emit(c)
        i += 1
    offsets = [0, *accumulate(map(len, fast))]
    return _Parsed("".join(fast), "".join(exact), "".join(ascii_), frozenset(props),
                   tuple(atoms), modelled,
                   tuple((offsets[a], offsets[b]) for a, b in atom_frags), tuple(atom_ignorecase))


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


_NOT_BUILT = object()  # SplitPattern._re before the first non-ASCII text
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
        # Non-ASCII text, where the pattern allows: re with the Unicode 16.0 classes spelled out
        # (refimpl.pattern_re), built on the first such text: its class tables take a few ms,
        # which a process that only ever sees ASCII should not pay at load. None leaves such
        # text to regex, below.
        self._re = _NOT_BUILT

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
        """``regex`` with its own tables, unless ``text`` holds a suspect character: then the
        exact program. The characters are classified by code point in numpy, a third of the
        time of building ``set(text)`` on multilingual text (:meth:`_classify` is the same
        decision a character at a time)."""
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

    def _re_split(self):
        """The :class:`~refimpl.pattern_re.ReSplit` for non-ASCII text, or None (regex)."""
        if self._re is _NOT_BUILT:  # (two threads may both build it: either result is right)
            self._re = ReSplit.for_pattern(self.pat_str, self._parsed)
        return self._re

    def program_for(self, text: str):
        """The compiled program that splits ``text`` exactly as tiktoken does."""
        if text.isascii():
            return self._ascii
        re_split = self._re_split()
        if re_split is not None:
            return re_split.program_for(text)
        return self._program_for_text(text)

    def findall(self, text: str) -> list[str]:
        """The pieces of ``text``, in order, exactly as tiktoken splits it."""
        return self.program_for(text).findall(text)

    def exact_findall(self, text: str) -> list[str]:
        """Like :meth:`findall`, always with the spelled-out Unicode 16.0 classes (slow, exact)."""
        return self._exact_program().findall(text)

    def fast_findall(self, text: str) -> list[str]:
        """Like :meth:`findall`, always with ``regex``'s own tables (exact only without suspects)."""
        return self._fast.findall(text)
