"""Batch encoding on several processes gives exactly the serial result."""
from __future__ import annotations

import pytest

from refimpl import Encoding, get_encoding
from refimpl.parallel import PARALLEL_MIN_CHARS, resolve_processes

TEXTS = [f"text number {i}: caf\u00e9 {'x' * (i % 7)} <|endoftext|>" for i in range(40)] + ["", "\U00010940"]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_two_processes_equal_one(name):
    enc = get_encoding(name)
    serial = [enc.encode_ordinary(t) for t in TEXTS]
    assert enc.encode_ordinary_batch(TEXTS, processes=2) == serial
    assert enc.encode_batch(TEXTS, processes=2, disallowed_special=()) == serial
    assert enc.encode_batch(TEXTS, processes=2, allowed_special="all") == \
        [enc.encode(t, allowed_special="all") for t in TEXTS]


def test_custom_encodings_travel_by_value():
    enc = Encoding("tiny", pat_str=r"\S+|\s+", mergeable_ranks={bytes([i]): i for i in range(256)},
                   special_tokens={})
    assert enc.encode_ordinary_batch(["ab", "c d"], processes=2) == [[97, 98], [99, 32, 100]]


def test_errors_in_workers_reach_the_caller():
    with pytest.raises(ValueError, match=r"^Encountered text corresponding to disallowed special token "
                                         r"'<\|endoftext\|>'\.") as e:
        get_encoding("cl100k_base").encode_batch(TEXTS, processes=2)
    assert e.value.token == "<|endoftext|>"


def test_automatic_choice():
    assert resolve_processes(None, ["a", "b"]) == 1
    assert resolve_processes(None, ["a" * PARALLEL_MIN_CHARS, "b"]) >= 1
    assert resolve_processes(3, ["a"]) == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_process_counts(bad):
    with pytest.raises(ValueError, match=r"`processes` must be a whole number >= 1 or None \(automatic\), got"):
        get_encoding("gpt2").encode_ordinary_batch(["a"], processes=bad)
