"""Unicode 16.0 character classes, the version tiktoken's regex engine uses.

Why this module exists
----------------------
The split patterns of every OpenAI encoding are written with Unicode properties (``\\p{L}``,
``\\p{N}``, ``\\p{Lu}``, ``\\p{M}``, ``\\s`` ...). tiktoken runs them with Rust's ``regex`` crate,
whose tables are Unicode **16.0** (tiktoken 0.14.0; checked code point by code point by
``tests/test_unicode_tables.py``). Python's ``regex`` module follows newer Unicode releases, so
about 17,000 code points that were unassigned in 16.0 (e.g. U+10940, a letter since Unicode
17.0) are letters to ``regex`` and not to tiktoken. Splitting with ``regex``'s own tables would
give a different answer on any text that contains them.

refimpl therefore ships the general categories of Unicode 16.0 (below, generated from the
Unicode Character Database 16.0.0 through ``unicodedata2==16.0.0``) and follows Unicode 16.0
exactly, whatever ``regex`` version is installed: :mod:`refimpl.pattern` uses these tables to
build an exact pattern, and uses the faster built-in properties whenever a text holds no code
point on which the two disagree.

Regenerate (needs ``pip install unicodedata2==16.0.0``)::

    python -m refimpl.unicode_tables > refimpl/_unicode16_data.py
"""
from __future__ import annotations

import functools

UNICODE_VERSION = "16.0.0"

# White_Space from PropList-16.0.0.txt (it has not changed since Unicode 6.1). Rust's ``\s`` is
# this property; ``regex``'s ``\s`` matches the same 25 code points (tested).
WHITE_SPACE: tuple[tuple[int, int], ...] = (
    (0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)

# The one-letter groups a pattern may name, as unions of two-letter categories.
GROUPS = {
    "L": ("Lu", "Ll", "Lt", "Lm", "Lo"),
    "M": ("Mn", "Mc", "Me"),
    "N": ("Nd", "Nl", "No"),
    "P": ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),
    "S": ("Sm", "Sc", "Sk", "So"),
    "Z": ("Zs", "Zl", "Zp"),
    "C": ("Cc", "Cf", "Cs", "Co", "Cn"),
}
# Long names accepted by both regex engines for the same classes.
ALIASES = {
    "Letter": "L", "Mark": "M", "Number": "N", "Punctuation": "P", "Symbol": "S",
    "Separator": "Z", "Other": "C", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll",
    "Titlecase_Letter": "Lt", "Modifier_Letter": "Lm", "Other_Letter": "Lo",
    "Nonspacing_Mark": "Mn", "Spacing_Mark": "Mc", "Enclosing_Mark": "Me",
    "Decimal_Number": "Nd", "Letter_Number": "Nl", "Other_Number": "No",
}


@functools.lru_cache(maxsize=None)
def _categories() -> dict[str, tuple[tuple[int, int], ...]]:
    from ._unicode16_data import CATEGORY_RANGES

    out = {}
    for cat, text in CATEGORY_RANGES.items():
        pairs = []
        for item in text.split(","):
            lo, _, hi = item.partition("-")
            pairs.append((int(lo, 16), int(hi or lo, 16)))
        out[cat] = tuple(pairs)
    return out


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def complement(ranges) -> tuple[tuple[int, int], ...]:
    """The code points 0..0x10FFFF not in the sorted, merged ``ranges``.

    >>> complement(((0, 9), (20, 0x10FFFF)))
    ((10, 19),)
    """
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= 0x10FFFF:
        out.append((nxt, 0x10FFFF))
    return tuple(out)


def known_property(name: str) -> bool:
    """True if :func:`property_ranges` knows ``name`` (a category, a group or ``White_Space``).

    >>> known_property("Lu"), known_property("Letter"), known_property("Greek")
    (True, True, False)
    """
    name = ALIASES.get(name, name)
    return name == "White_Space" or name in GROUPS or name in _categories() or name == "Cn"


@functools.lru_cache(maxsize=None)
def property_ranges(name: str) -> tuple[tuple[int, int], ...]:
    """Sorted, merged code point ranges ``(first, last)`` of a property in Unicode 16.0.

    ``name`` is a general category (``"Lu"``), a group (``"L"``), one of their long names
    (``"Letter"``), or ``"White_Space"``. Unassigned code points are category ``Cn``.

    >>> property_ranges("Lu")[0]
    (65, 90)
    >>> property_ranges("White_Space")[1]
    (32, 32)
    """
    name = ALIASES.get(name, name)
    if name == "White_Space":
        return WHITE_SPACE
    if name == "Cn":
        return complement(_merge([r for rs in _categories().values() for r in rs]))
    if name in GROUPS:
        return _merge([r for cat in GROUPS[name] for r in property_ranges(cat)])
    if name not in _categories():
        raise KeyError(
            f"unknown Unicode property {name!r}; refimpl knows the general categories "
            f"({', '.join(sorted(_categories()))}, Cn), the groups {', '.join(GROUPS)} and "
            "White_Space"
        )
    return _categories()[name]


def _generate() -> str:  # pragma: no cover - developer tool, needs unicodedata2==16.0.0
    import unicodedata2

    if unicodedata2.unidata_version != UNICODE_VERSION:
        raise SystemExit(f"need unicodedata2 {UNICODE_VERSION}, have {unicodedata2.unidata_version}")
    runs: dict[str, list[list[int]]] = {}
    prev = None
    for cp in range(0x110000):
        cat = unicodedata2.category(chr(cp))
        if cat == "Cn":
            prev = None
            continue
        rs = runs.setdefault(cat, [])
        if prev == cat and rs and rs[-1][1] == cp - 1:
            rs[-1][1] = cp
        else:
            rs.append([cp, cp])
        prev = cat
    lines = [
        f'"""General categories of Unicode {UNICODE_VERSION} as code point ranges (hex).',
        "",
        "Generated by `python -m refimpl.unicode_tables` from unicodedata2",
        f"{unicodedata2.unidata_version}; do not edit by hand. Unassigned code points (Cn) are left out.",
        '"""',
        "CATEGORY_RANGES = {",
    ]
    for cat in sorted(runs):
        text = ",".join(f"{lo:x}" if lo == hi else f"{lo:x}-{hi:x}" for lo, hi in runs[cat])
        lines.append(f"    {cat!r}: (")
        for i in range(0, len(text), 88):
            lines.append(f"        {text[i:i + 88]!r}")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(_generate(), end="")
