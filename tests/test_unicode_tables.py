"""The bundled Unicode 16.0 tables are exactly the classes tiktoken's regex engine uses."""
from __future__ import annotations

import pytest

from refimpl import unicode_tables
from refimpl.pattern import _all_code_points

PROPERTIES = ["L", "N", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "P", "S", "Z", "Nd"]


def _tiktoken_members(tiktoken, pattern: str) -> set[int]:
    # tiktoken drops text its pattern does not match, so an encoding whose pattern is one class
    # and whose ranks are the 256 single bytes returns exactly the members of that class.
    probe = tiktoken.Encoding(
        "probe", pat_str=pattern, mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    return {ord(c) for c in bytes(probe.encode_ordinary(_all_code_points())).decode("utf-8")}


def _ours(name: str) -> set[int]:
    return {cp for lo, hi in unicode_tables.property_ranges(name) for cp in range(lo, hi + 1)}


@pytest.mark.parametrize("name", PROPERTIES)
def test_property_matches_tiktoken_on_every_code_point(tiktoken, name):
    assert _ours(name) == _tiktoken_members(tiktoken, f"\\p{{{name}}}")


def test_white_space_matches_tiktoken(tiktoken):
    assert _ours("White_Space") == _tiktoken_members(tiktoken, r"\s")


@pytest.mark.parametrize("letter", "sdmtlvrek")
def test_case_insensitive_letters_fold_as_in_tiktoken(tiktoken, letter):
    # (?i:s) also matches U+017F LONG S, (?i:k) the KELVIN SIGN: same in both engines.
    import regex

    expected = _tiktoken_members(tiktoken, f"(?i:{letter})")
    assert {ord(c) for c in regex.findall(f"(?i:{letter})", _all_code_points())} == expected


def test_version_and_counts():
    assert unicode_tables.UNICODE_VERSION == "16.0.0"
    assert len(_ours("L")) == 141028  # letters in Unicode 16.0
    assert len(_ours("Cn")) + sum(len(_ours(c)) for c in unicode_tables._categories()) == 0x110000


def test_aliases_and_groups():
    assert unicode_tables.property_ranges("Letter") == unicode_tables.property_ranges("L")
    assert unicode_tables.known_property("Uppercase_Letter")
    assert not unicode_tables.known_property("Greek")


def test_unknown_property_error_names_what_is_known():
    with pytest.raises(KeyError, match=r"unknown Unicode property 'Xx'.*general categories.*White_Space"):
        unicode_tables.property_ranges("Xx")
