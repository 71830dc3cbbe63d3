"""o200k's split pattern with shortcuts in front: the same pieces, found with less backtracking.

o200k's pattern (``registry.O200K_PAT_STR``) is seven alternatives::

    A1  X? U* L+ C?          X = [^\\r\\n\\p{L}\\p{N}]   (an optional prefix)
    A2  X? U+ L* C?          U = [\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]
    A3  N{1,3}               L = [\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]
    A4  ' '? Q+ [\\r\\n/]*     Q = [^\\s\\p{L}\\p{N}]   C = (?i:'s|'t|'re|'ve|'m|'ll|'d)
    A5  \\s* [\\r\\n]+
    A6  \\s+ (?!\\S)
    A7  \\s+

A regex engine tries them in order at each position, and A1 and A2 start with optional,
backtracking parts: at a space before a digit, say, A1 takes the space as X, fails, gives it back,
fails again, and so on through A2 to A7. Python's ``re`` skips an alternative cheaply only when it
starts with a plain class or literal.

So refimpl puts *shortcuts* in front: alternatives that start with a plain class and that, at any
position where they match, match exactly what the official pattern matches there. Where no
shortcut matches, the official alternatives follow unchanged. Leftmost-first alternation then gives
the official pieces everywhere. The proofs below take the character kinds

    l = \\p{Ll}   u = [\\p{Lu}\\p{Lt}]   b = [\\p{Lm}\\p{Lo}]   m = \\p{M}   (U = u|b|m, L = l|b|m)
    Y = X minus the marks m (X holds the marks; Y holds no letter, number or mark)

and use that ``'`` has no case variants, so C? is ``(?:'(?i:s|t|re|ve|m|ll|d))?``, and that a
greedy quantifier at the end of an alternative (or before an optional C?) never gives anything
back, so it may be possessive. Each step is a regex engine's first success, in its order:

S1 ``l L*+ C?`` at an l: A1 takes no prefix (l is not in X) and no U (l is not in U); L+ takes
   the longest run of L. That is A1's first success.
S2 ``u u*+ (l L*+ | (?![\\p{L}\\p{M}])) C?`` at a u, R = the run of u from there: if an l follows
   R, A1's U* takes R (l is not in U) and L+ the run from there. If neither letter nor mark
   follows, A1 fails (U* backing off leaves L+ facing a u) and A2 takes R. (A b or m after R is
   left to the official alternatives: then U* runs on, and backs off in more ways.)
S3 ``' ' l L*+ C?``: A1 takes the space as X, then as S1. (S5 holds this too; a piece so common in
   prose is worth a literal first character.)
S4 ``b [bm]*+ (?![\\p{L}\\p{M}]) C?`` at a b, R = the run of b and m: A1's U* takes R, L+ fails
   after it, U* gives back R's last character, which L+ takes (b and m are in L). So R.
S5 ``Y (S1's rest | S2's rest | S4's rest) C?``: A1 and A2 try the prefix first, and a Y is in X;
   from the next character on it is S1, S2 or S4 (where S2 falls to A2, A1 without the prefix fails
   too: a Y is no letter or mark).
S6 ``\\p{N} \\p{N}? \\p{N}?`` is A3 moved to the front: at a number A1 and A2 fail (no prefix: N is
   not in X; no letter), and elsewhere S6 fails.
S7 ``[Q minus m] (?![\\p{L}\\p{M}]) Q*+ [\\r\\n/]*+``: A1 and A2 fail with the prefix (no letter or
   mark next) and without it (a Q that is no mark is no letter); A3 fails; A4 takes no space (a Q is
   not whitespace) and then Q+ from here.
S8 ``' ' [Q minus m] Q*+ [\\r\\n/]*+``: as S7 after the space, which A4 takes.
S9 ``[\\r\\n] (?!\\s)``: A1 to A4 fail (\\r and \\n are in none of X, U, L, N, Q); A5's \\s* takes the
   newline, [\\r\\n]+ fails after it, \\s* gives it back and [\\r\\n]+ takes it alone.
S10 ``(?=\\s\\s)(A5' | A6 | A7)`` where A5' = ``(?:[^\\S\\r\\n]*+[\\r\\n])++``: with whitespace next,
   A1 and A2 fail (no letter after a prefix), A3 and A4 fail (whitespace is not in Q). A5 matches the
   whitespace run up to its last \\r or \\n (\\s* backs off to it; [\\r\\n]+ can take only that one)
   and fails without one; A5' matches the same (each round ends at a newline) and fails the same.

``tests/test_pattern_o200k.py`` checks each shortcut's claim on its own (wherever it matches,
the official pattern matches the same) and the whole pattern against the official one;
``tests/test_pattern_re.py`` runs it over every character of every page.

:class:`~refimpl.pattern.SplitPattern` uses it for the ASCII program only. Instructions that
callgrind counted for splitting the benchmark corpus (the official pattern = 100): ASCII code 72,
English prose 81, multilingual text 99. But on other text the shortcuts' extra classes cost
``re`` more to compile (:mod:`refimpl.pattern_re`; 7 ms instead of 2 for the prose's pages, 23 ms
instead of 3 for the multilingual text's) than they save there.
"""
from __future__ import annotations

_C = r"(?:'(?i:s|t|re|ve|m|ll|d))?"
_L = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
_U_RUN = r"[\p{Lu}\p{Lt}][\p{Lu}\p{Lt}]*+(?:\p{Ll}" + _L + r"*+|(?![\p{L}\p{M}]))"
_B_RUN = r"[\p{Lm}\p{Lo}][\p{Lm}\p{Lo}\p{M}]*+(?![\p{L}\p{M}])"
_Q = r"[^\s\p{L}\p{N}]"
_Q_NOT_MARK = r"[^\s\p{L}\p{N}\p{M}]"

SHORTCUTS = (
    r"\p{Ll}" + _L + "*+" + _C,                                          # S1
    _U_RUN + _C,                                                         # S2
    r" \p{Ll}" + _L + "*+" + _C,                                         # S3
    _B_RUN + _C,                                                         # S4
    r"[^\r\n\p{L}\p{N}\p{M}](?:\p{Ll}" + _L + "*+|" + _U_RUN + "|" + _B_RUN + ")" + _C,  # S5
    r"\p{N}\p{N}?\p{N}?",                                                # S6
    _Q_NOT_MARK + r"(?![\p{L}\p{M}])" + _Q + r"*+[\r\n/]*+",             # S7
    " " + _Q_NOT_MARK + _Q + r"*+[\r\n/]*+",                             # S8
    r"[\r\n](?!\s)",                                                     # S9
    r"(?=\s\s)(?:(?:[^\S\r\n]*+[\r\n])++|\s+(?!\S)|\s+)",               # S10
)


def faster_equivalent(pat_str: str) -> str:
    """``pat_str`` with the shortcuts in front if it is o200k's pattern, else ``pat_str``.

    >>> from refimpl.registry import CL100K_PAT_STR, O200K_PAT_STR
    >>> faster_equivalent(O200K_PAT_STR).endswith("|" + O200K_PAT_STR)
    True
    >>> faster_equivalent(CL100K_PAT_STR) == CL100K_PAT_STR
    True
    """
    from .registry import O200K_PAT_STR  # here, not above: registry imports the Encoding

    if pat_str == O200K_PAT_STR:
        return "|".join(SHORTCUTS) + "|" + pat_str
    return pat_str
