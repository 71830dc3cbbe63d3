"""Split non-ASCII text with the standard library's ``re``, exactly: Unicode 16.0 classes spelled
out over the parts of Unicode that the texts use.

:mod:`refimpl.pattern` splits ASCII text with ``re`` and a program whose classes are cut down to
ASCII. Other text would need ``regex``: with ``regex``'s own tables (exact only on texts without
a character on which those tables and Unicode 16.0 disagree, so every character must be checked
first) or with every class spelled out as Unicode 16.0 ranges (always exact, five times
slower). ``re`` has no ``\\p{..}``, but it runs the spelled-out pattern as fast as the ASCII
program: it turns a class of many ranges into one bitmap, one lookup a character.

The catch is the compile. ``re`` fills that bitmap one code point at a time in Python
(``_optimize_charset`` in ``re/_compiler.py``): o200k's classes over all of Unicode take about
40 ms. So each class is written

1. over only the *pages* the texts have used so far: blocks of 256 code points (U+0000 to U+00FF
   is ASCII and Latin-1; U+2000 to U+20FF holds the curly quotes and dashes; Chinese text uses
   some of the 82 pages from U+4E00). A text with a character on a page not covered yet gets a
   program for the union, compiled once (a few ms); after ``MAX_RECOMPILES`` programs the next
   covers every page;
2. as the shorter of its members and its non-members on those pages (``[...]`` or ``[^...]``).
   Both match the same characters *on* the covered pages, and the program is never given a text
   with a character elsewhere.

A class inside ``(?i:`` is written whole, as it stands (not cut to pages, never as a
complement): ``re`` applies case folding to it, and a complement would fold differently. The
official patterns have one, cl100k's ``[sdmt]``.

Nothing here depends on the installed ``regex`` or ``unicodedata``: the ranges are
:mod:`refimpl.unicode_tables`' Unicode 16.0. ``tests/test_pattern_re.py`` holds a program
covering one page equal to ``regex`` on every character of that page, in contexts, for every
page of the Basic Multilingual Plane and every page beyond it with cased letters, marks or
numbers; and the whole encoder equal to tiktoken on every character of the Basic Multilingual
Plane.

>>> from refimpl.registry import CL100K_PAT_STR
>>> split = ReSplit.for_pattern(CL100K_PAT_STR)
>>> split.program_for("naïve café 12345").findall("naïve café 12345")
['na\u00efve', ' caf\u00e9', ' ', '123', '45']
>>> split.covered_pages()
[0]
"""
from __future__ import annotations

import re
import threading
from bisect import bisect_right

import numpy as np

from .unicode_tables import _merge, complement, known_property, property_ranges

PAGE_BITS = 8                    # a page is 2**8 = 256 code points
N_PAGES = 0x110000 >> PAGE_BITS  # 4,352
# After this many programs the next one covers every page, so that a stream of texts that
# keeps reaching new pages costs a bounded number of compiles (each a few ms; the last one,
# all of Unicode, 14 ms for cl100k and 41 ms for o200k here).
MAX_RECOMPILES = 16
# Texts are turned into code points this many characters at a time (memory: 2 or 4 bytes each).
_CODEPOINTS_AT_ONCE = 1 << 20

# Shorthand classes Rust reads as Unicode properties (refimpl.pattern reads them too).
_SHORTHAND = {"s": ("White_Space", False), "S": ("White_Space", True)}
_ESCAPED = {"r": 0x0D, "n": 0x0A, "t": 0x09, "f": 0x0C, "v": 0x0B, "0": 0x00}
_NEVER, _ALWAYS = r"[^\s\S]", r"[\s\S]"  # cheap for re: categories, not code point lists


# ---------------------------------------------------------------------------------------------
# 1. What each class of the pattern matches, as Unicode 16.0 ranges
# ---------------------------------------------------------------------------------------------

def _property(name: str, negate: bool):
    if not known_property(name):
        return None  # a script or another property: left to regex's own tables
    ranges = property_ranges(name)
    return complement(ranges) if negate else ranges


def _escape(body: str, i: int):
    """Read the escape at ``body[i]`` (a backslash): returns (code point or ranges, next index),
    or None for an escape this module does not model (``\\d``, ``\\w``, ``\\b``, ...)."""
    nxt = body[i + 1:i + 2]
    if nxt in ("p", "P"):
        if body[i + 2:i + 3] == "{":
            close = body.find("}", i + 3)
            name, end = body[i + 3:close], close + 1
        else:
            name, end = body[i + 2:i + 3], i + 3
        ranges = _property(name, nxt == "P")
        return None if ranges is None else (ranges, end)
    if nxt in _SHORTHAND:
        return _property(*_SHORTHAND[nxt]), i + 2
    if nxt in _ESCAPED:
        return _ESCAPED[nxt], i + 2
    for letter, digits in (("x", 2), ("u", 4), ("U", 8)):
        if nxt == letter:
            hex_digits = body[i + 2:i + 2 + digits]
            if len(hex_digits) != digits or not all(c in "0123456789abcdefABCDEF" for c in hex_digits):
                return None
            return int(hex_digits, 16), i + 2 + digits
    if nxt and not nxt.isalnum():
        return ord(nxt), i + 2  # an escaped punctuation character: itself
    return None


def class_ranges(atom: str):
    """The code points that ``atom`` (a class as the pattern writes it: ``[...]``, ``\\p{..}``,
    ``\\P{..}``, ``\\s`` or ``\\S``) matches, as sorted, merged ranges; None for syntax this module
    does not model (scripts, ``\\d``, ``\\w``, nested classes, set operations).

    >>> class_ranges(r"[^\\r\\n a-c]")[:3]
    ((0, 9), (11, 12), (14, 31))
    >>> class_ranges(r"\\p{Greek}") is None
    True
    """
    if not atom.startswith("["):
        got = _escape(atom, 0)
        return None if got is None or isinstance(got[0], int) else got[0]
    body, negate = atom[1:-1], False
    if body.startswith("^"):
        body, negate = body[1:], True
    items: list = []     # ranges of the class
    singles: list = []   # (index in items, code point) of single characters, for a-z ranges
    i = 0
    while i < len(body):
        c = body[i]
        if c == "[" or body.startswith(("&&", "--", "~~", "||"), i):
            return None  # nested classes and set operations: not modelled
        if c == "-" and singles and singles[-1][0] == len(items) - 1 and i + 1 < len(body):
            got = _escape(body, i + 1) if body[i + 1] == "\\" else (ord(body[i + 1]), i + 2)
            if got is None:
                return None
            if isinstance(got[0], int):  # a range from the last single character to this one
                lo = singles.pop()[1]
                if got[0] < lo:
                    return None
                items[-1] = (lo, got[0])
                i = got[1]
                continue
        if c == "\\":
            got = _escape(body, i)
            if got is None:
                return None
            value, i = got
        else:
            value, i = ord(c), i + 1
        if isinstance(value, int):
            singles.append((len(items), value))
            items.append((value, value))
        else:
            items.extend(value)
    ranges = _merge(items)
    return complement(ranges) if negate else ranges


# ---------------------------------------------------------------------------------------------
# 2. Writing a class for re, over some pages
# ---------------------------------------------------------------------------------------------

def _char(cp: int) -> str:
    c = chr(cp)
    if cp < 0x20 or cp == 0x7F or 0xD800 <= cp <= 0xDFFF or c in "\\]^-[&~|":
        return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"
    return c


def _body(ranges) -> str:
    return "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in ranges)


def _within(ranges, starts, spans) -> list[tuple[int, int]]:
    """``ranges`` (whose first code points are ``starts``) cut to ``spans``, both sorted and
    merged. Bisects: the cost goes with the answer, not with all of ``ranges``."""
    out = []
    for s_lo, s_hi in spans:
        i = max(bisect_right(starts, s_lo) - 1, 0)
        while i < len(ranges) and ranges[i][0] <= s_hi:
            lo, hi = ranges[i]
            if hi >= s_lo:
                out.append((max(lo, s_lo), min(hi, s_hi)))
            i += 1
    return out


def _size(ranges) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


class CharClass:
    """One class of the pattern: its Unicode 16.0 ranges, and whether ``(?i:`` holds it.

    >>> letters = CharClass(((0x61, 0x7A),))
    >>> letters.write(((0, 0xFFF),))                 # few members: list them
    '[a-z]'
    >>> CharClass(complement(letters.ranges)).write(((0, 0xFFF),))  # few non-members
    '[^a-z]'
    """

    def __init__(self, ranges, ignorecase: bool = False):
        self.ranges, self.ignorecase = ranges, ignorecase
        self.others = complement(ranges)
        self._starts = [lo for lo, _ in ranges]
        self._other_starts = [lo for lo, _ in self.others]

    def write(self, spans) -> str:
        """``re`` syntax for this class, right for every character in ``spans``."""
        if self.ignorecase:
            return f"[{_body(self.ranges)}]" if self.ranges else _NEVER
        members = _within(self.ranges, self._starts, spans)
        others = _within(self.others, self._other_starts, spans)
        if not members:
            return _NEVER
        if not others:
            return _ALWAYS
        if _size(members) <= _size(others):
            return f"[{_body(members)}]"
        return f"[^{_body(others)}]"


def _spans(covered: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The covered pages (a bool per page) as merged code point ranges."""
    pages = np.flatnonzero(covered).tolist()
    return _merge((p << PAGE_BITS, ((p + 1) << PAGE_BITS) - 1) for p in pages)


def text_pages(text: str) -> np.ndarray:
    """A bool per page: does ``text`` have a character there? (Page 0 always counts.)

    >>> np.flatnonzero(text_pages("a\u00e9\u2019b\u4e2d")).tolist()
    [0, 32, 78]
    """
    used = np.zeros(N_PAGES, dtype=bool)
    used[0] = True  # ASCII and Latin-1: nearly every text
    for start in range(0, len(text), _CODEPOINTS_AT_ONCE):
        part = text[start:start + _CODEPOINTS_AT_ONCE]
        data = part.encode("utf-16-le", "surrogatepass")
        if len(data) == 2 * len(part):  # no character beyond U+FFFF: 2 bytes each
            cps = np.frombuffer(data, dtype="<u2")
        else:
            cps = np.frombuffer(part.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        beyond = cps[cps > 0xFF]  # only these can be off page 0 (in prose, a handful)
        if beyond.size:
            used |= np.bincount(beyond >> PAGE_BITS, minlength=N_PAGES) > 0
    return used


# ---------------------------------------------------------------------------------------------
# 3. The program, recompiled when a text reaches a new page
# ---------------------------------------------------------------------------------------------

class ReSplit:
    """A split pattern compiled for ``re`` over the pages its texts use (see the module
    docstring). Build it with :meth:`for_pattern`, which returns None when this module cannot
    write the pattern for ``re``."""

    def __init__(self, pieces: list, classes: list):
        self._pieces = pieces      # pattern text between the classes (len(classes) + 1 parts)
        self._classes = classes    # a CharClass for each class, in order
        self._lock = threading.Lock()
        self._current = (np.zeros(N_PAGES, dtype=bool), None)  # (covered, compiled program)
        self.compiles = 0

    @classmethod
    def for_pattern(cls, pat_str: str, parsed=None):
        """The ``ReSplit`` of ``pat_str``, or None if ``re`` cannot run it exactly: group syntax
        or classes this module does not model, or a Python whose ``re`` lacks possessive
        quantifiers (before 3.11)."""
        if parsed is None:
            from .pattern import _translate
            parsed = _translate(pat_str)
        if not parsed.modelled:
            return None  # group syntax or escapes that could change what a character means
        classes = []
        for atom, ignorecase in zip(parsed.atoms, parsed.atom_ignorecase):
            ranges = class_ranges(atom)
            if ranges is None:
                return None
            classes.append(CharClass(ranges, ignorecase))
        pieces, prev = [], 0
        for start, end in parsed.atom_spans:
            pieces.append(parsed.fast[prev:start])
            prev = end
        pieces.append(parsed.fast[prev:])
        split = cls(pieces, classes)
        try:  # with no page covered every class is written as a category: a quick compile
            re.compile(split.source(np.zeros(N_PAGES, dtype=bool)))
        except re.error:
            return None  # e.g. possessive quantifiers before Python 3.11
        return split

    def source(self, covered: np.ndarray) -> str:
        """The ``re`` source for the pages ``covered`` (a bool per page).

        >>> split = ReSplit.for_pattern(r"[a-c]+|[^a-c]")
        >>> split.source(np.arange(N_PAGES) == 0)  # 3 members, or 253 non-members: list the 3
        '[a-c]+|[^a-c]'
        """
        spans = _spans(covered)
        out = [self._pieces[0]]
        for char_class, piece in zip(self._classes, self._pieces[1:]):
            out.append(char_class.write(spans))
            out.append(piece)
        return "".join(out)

    def _compile(self, covered: np.ndarray):
        program = re.compile(self.source(covered))
        self.compiles += 1
        return program

    def program_for(self, text: str):
        """A compiled ``re`` program that splits ``text`` exactly as tiktoken does."""
        need = text_pages(text)
        covered, program = self._current
        if program is not None and not (need & ~covered).any():
            return program
        with self._lock:
            covered, program = self._current
            if program is None or (need & ~covered).any():
                covered = covered | need
                if self.compiles >= MAX_RECOMPILES:
                    covered[:] = True
                program = self._compile(covered)
                self._current = (covered, program)  # one assignment: readers see a pair
        return program

    def covered_pages(self) -> list[int]:
        """The pages the current program covers (page p: U+0100 * p to U+0100 * p + U+00FF)."""
        return np.flatnonzero(self._current[0]).tolist()
