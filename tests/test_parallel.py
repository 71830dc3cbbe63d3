"""Batch encoding on several processes gives exactly the serial result."""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from refimpl import Encoding, get_encoding, parallel
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


def _slow_here(monkeypatch, seconds=0.02):
    """Make this process encode each chunk slowly (workers, forked or spawned, stay fast), so
    that workers get chunks even in a small batch; returns the list of chunks done here."""
    here, mine, encode_all = os.getpid(), [], parallel._encode_all

    def slow(encoding, method, texts, kwargs):
        if os.getpid() == here:
            mine.append(len(texts))
            time.sleep(seconds)
        return encode_all(encoding, method, texts, kwargs)

    monkeypatch.setattr(parallel, "_encode_all", slow)
    return mine


def test_first_bad_text_wins_as_in_the_serial_loop(monkeypatch):
    # Two different bad texts: an early one (a worker's chunk) and the last one (this process's).
    texts = ["fine text"] * 60
    texts[3], texts[-1] = "early <|endofprompt|>", "late <|endoftext|>"
    enc = get_encoding("cl100k_base")
    with pytest.raises(ValueError, match="disallowed special token") as serial:
        enc.encode_batch(texts, processes=1)
    _slow_here(monkeypatch)
    with pytest.raises(ValueError, match="disallowed special token") as parallel_error:
        enc.encode_batch(texts, processes=2)
    assert parallel_error.value.token == serial.value.token == "<|endofprompt|>"
    assert isinstance(parallel_error.value.__cause__, parallel._RemoteTraceback)  # from a worker
    assert "Traceback" in str(parallel_error.value.__cause__)


@pytest.mark.parametrize("bad", [None, b"bytes", 3])
def test_a_text_that_is_not_a_str_raises_the_serial_error(bad):
    enc = get_encoding("gpt2")
    texts = ["a"] * 30 + [bad] + ["b"] * 30
    with pytest.raises(TypeError) as serial:
        enc.encode_ordinary_batch(texts, processes=1)
    with pytest.raises(TypeError) as parallel:
        enc.encode_ordinary_batch(texts, processes=2)
    assert str(parallel.value) == str(serial.value)
    assert str(serial.value).startswith("text must be a str, got ")


def test_spawned_workers_give_the_same_result(monkeypatch):
    # Windows and macOS start workers with 'spawn': nothing is inherited, all travels by pickle.
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("spawn"))
    mine = _slow_here(monkeypatch, seconds=0.05)  # a spawned worker takes ~0.3 s to start
    enc = get_encoding("cl100k_base")
    texts = TEXTS * 3
    assert enc.encode_ordinary_batch(texts, processes=2) == [enc.encode_ordinary(t) for t in texts]
    assert sum(mine) < len(texts)  # the workers did some


class _SlowHere:
    """Encodes slowly in the calling process (so workers get chunks too); a worker dies."""

    def __init__(self):
        self.parent = os.getpid()

    def encode(self, text):
        if os.getpid() != self.parent:
            os._exit(3)
        time.sleep(0.01)
        return [len(text)]


def test_a_worker_that_dies_is_an_error_not_a_hang():
    if parallel._context().get_start_method() != "fork":
        pytest.skip("needs fork (Linux): the stand-in encoding is defined in this test module")
    with pytest.raises(BrokenProcessPool, match=r"a worker process died while encoding the batch \(exit codes"):
        parallel.map_batch(_SlowHere(), "encode", ["x"] * 20, {}, processes=2)


@pytest.mark.parametrize("sizes", [[5], [1] * 100, [1000, 1, 1, 1], [3, 0, 0, 7, 2] * 9])
def test_chunks_cover_the_batch_in_order(sizes):
    texts = ["x" * s for s in sizes]
    bounds = parallel.chunk_bounds(texts, 8)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(texts)
    assert all(a < b for a, b in bounds)
    assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))


def test_tokens_from_workers_are_plain_ints(monkeypatch):
    mine = _slow_here(monkeypatch)
    enc = get_encoding("cl100k_base")
    texts = TEXTS * 2
    out = enc.encode_ordinary_batch(texts, processes=2)
    assert sum(mine) < len(texts)  # the workers did some
    assert out == [enc.encode_ordinary(t) for t in texts]
    assert {type(t) for tokens in out for t in tokens} == {int}


class _Upper:
    def encode(self, text):
        return [text.upper(), len(text)]


def test_results_that_are_not_token_lists_travel_as_they_are(monkeypatch):
    mine = _slow_here(monkeypatch)
    texts = [f"t{i}" for i in range(40)]
    assert parallel.map_batch(_Upper(), "encode", texts, {}, processes=2) == [[t.upper(), len(t)] for t in texts]
    assert sum(mine) < len(texts)


class _Unpicklable:
    def __init__(self):
        self.encode = lambda text: [len(text)]  # a lambda cannot be pickled for spawn


def test_workers_that_cannot_start_leave_the_work_here_with_a_warning(monkeypatch):
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("spawn"))
    texts = [f"t{i}" for i in range(40)]
    with pytest.warns(RuntimeWarning, match=r"worker processes could not start \(.*\); the batch was encoded"):
        assert parallel.map_batch(_Unpicklable(), "encode", texts, {}, processes=2) == [[len(t)] for t in texts]


def test_spawned_workers_need_a_larger_batch_in_automatic_mode():
    big = ["x" * 1000] * (parallel.PARALLEL_MIN_CHARS // 1000 + 1)
    assert resolve_processes(None, big, parallel.PARALLEL_MIN_CHARS_SPAWN) == 1
    assert resolve_processes(2, big, parallel.PARALLEL_MIN_CHARS_SPAWN) == 2
