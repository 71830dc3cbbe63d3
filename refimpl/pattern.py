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
   installed ``regex`` and Unicode 16.0 disagree for a property the pattern uses. The suspect set
   is measured once per process, over all 1.1 million code points, the first time a non-ASCII text
   is split (about 0.1 s). ASCII text never needs it.

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

import regex

from .unicode_tables import known_property, property_ranges

# Shorthand classes Rust reads as Unicode properties.
_SHORTHAND = {"s": ("White_Space", False), "S": ("White_Space", True)}


@dataclass(frozen=True)
class _Parsed:
    fast: str             # pattern for regex's own tables
    exact: str            # pattern with Unicode 16.0 classes spelled out
    properties: frozenset  # property names the pattern uses


def _class_body(ranges) -> str:
    """The inside of a character class that matches exactly ``ranges``."""
    return "".join(
        f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges
    )


def _negated_ranges(ranges):
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= 0x10FFFF:
        out.append((nxt, 0x10FFFF))
    return tuple(out)


def _translate(pat_str: str) -> _Parsed:
    """Walk the pattern once, rewriting properties, ``\\s``/``\\S`` and ``$``.

    A tiny scanner is enough: we only need to know whether we are inside ``[...]`` and to
    step over escapes. (subtle: ``]`` right after ``[`` or ``[^`` is a literal.)
    """
    fast, exact, props = [], [], set()
    i, n, in_class, class_start = 0, len(pat_str), False, -1
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
                token = pat_str[i:i + length]
                props.add(name)
                ranges = property_ranges(name)
                if negate:
                    ranges = _negated_ranges(ranges)
                body = _class_body(ranges)
                fast.append(token)
                exact.append(body if in_class else f"[{body}]")
                i += length
                continue
            # Any other escape is copied as is, two characters at a time.
            fast.append(pat_str[i:i + 2])
            exact.append(pat_str[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and i > class_start:
                in_class = False
        elif c == "[":
            in_class = True
            class_start = i + 1
            if i + 1 < n and pat_str[i + 1] == "^":
                class_start += 1
            if class_start < n and pat_str[class_start] == "]":
                class_start += 1  # a leading ] is a literal
        elif c == "$":
            fast.append("\\Z")
            exact.append("\\Z")
            i += 1
            continue
        fast.append(c)
        exact.append(c)
        i += 1
    return _Parsed("".join(fast), "".join(exact), frozenset(props))


@functools.lru_cache(maxsize=None)
def _all_code_points() -> str:
    """Every code point but the surrogates, as one string (built once, ~20 ms)."""
    import numpy as np

    cps = np.arange(0x110000, dtype="<u4")
    cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]
    return cps.tobytes().decode("utf-32-le")


@functools.lru_cache(maxsize=None)
def _disagreement(name: str) -> tuple[tuple[int, int], ...]:
    """Code points where the installed ``regex`` and Unicode 16.0 disagree on ``name``."""
    import numpy as np

    token = r"\s" if name == "White_Space" else f"\\p{{{name}}}"
    found = "".join(regex.findall(token, _all_code_points()))
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
        self._exact_src = parsed.exact
        self._properties = parsed.properties
        self._exact = None
        self._suspect = None  # compiled lazily; False means "no disagreement"

    def _suspects(self):
        if self._suspect is None:
            ranges = sorted(r for name in self._properties for r in _disagreement(name))
            self._suspect = regex.compile(f"[{_class_body(ranges)}]") if ranges else False
        return self._suspect

    def program_for(self, text: str):
        """The compiled program that splits ``text`` exactly as tiktoken does."""
        if text.isascii():
            return self._fast
        suspect = self._suspects()
        if suspect is False or suspect.search(text) is None:
            return self._fast
        if self._exact is None:
            self._exact = regex.compile(self._exact_src)
        return self._exact

    def findall(self, text: str) -> list[str]:
        """The pieces of ``text``, in order."""
        return self.program_for(text).findall(text)

    def exact_findall(self, text: str) -> list[str]:
        """Like :meth:`findall`, always with the spelled-out Unicode 16.0 classes (slow, exact)."""
        if self._exact is None:
            self._exact = regex.compile(self._exact_src)
        return self._exact.findall(text)
