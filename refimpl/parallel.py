"""Encode many texts on several cores: pure-Python encoding holds the GIL, so threads cannot
help; processes can.

``Encoding.encode_batch`` and ``encode_ordinary_batch`` call :func:`map_batch`. Small batches
run in this process (starting workers costs more than it saves). A large one, on ``n``
processes, goes like this:

1. Cut the batch into ``CHUNKS_PER_PROCESS * n`` chunks of about equal estimated cost
   (:func:`chunk_bounds`). Non-ASCII text costs several times more per character than ASCII
   (slower splitting, longer pieces), so it counts more: cutting by characters alone left one
   process encoding all the multilingual text while the other waited.
2. Start ``n - 1`` worker processes. This process is the ``n``-th.
3. Every process claims chunks from a shared pair of counters: workers from the front, this
   process from the back, until they meet. Nobody is handed work in advance, so whoever is
   faster (a worker that started late, a core another program is using) simply takes more,
   and at the end nobody waits for more than one chunk.
4. Workers pack each chunk's tokens as uint32 and put them on a queue whose writer thread
   sends them, so a worker never stops while this process is busy encoding. This process
   reads what has arrived between its own chunks, then the rest, and puts the chunks back in
   order. If several texts are bad, the first one's error is raised, as in the serial loop
   (a text that is not a ``str`` sends the whole batch down the serial loop); otherwise the
   output is exactly the serial one.

On Linux (while no other thread runs) workers are forked: they inherit this process's memory,
the loaded encoding, its warm piece cache and the texts, and start in milliseconds. Elsewhere
(``spawn`` on Windows and macOS) each worker is sent the encoding (registered ones by name,
custom ones by value) and the texts, and imports refimpl, which takes a few tenths of a second;
a thread waits for that while this process starts encoding. Correct, and slower: measured on
Linux with ``spawn`` forced, 1.07x on the 1.9 MB corpus and 1.36x on 20 MB (fork: 1.5x, 1.7x).

subtle: ``concurrent.futures.ProcessPoolExecutor`` was the first version. Its workers block on
sending a result until the pool's thread in this process has read it, and that thread needs
the GIL, which the encoding here holds for 5 ms at a time (``sys.getswitchinterval``): the
worker sat idle ~20% of the time. It also hands chunks out ahead, so the end waited for up to
three chunks.

Measured on 2 cores, and not worth doing: a two-phase scheme (BPE once per distinct piece):
each process's cold piece cache repeats only 2-4% of the serial work; ``gc.freeze()``
before forking: no difference. Packing results as uint32 saves no time either, but unpickled
lists hold a fresh int object per token (+110 MB for 20 MB of code, against +52 MB serially);
packed ones share one int per id, as the serial result does.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import sys
import threading
import traceback
import warnings
from array import array
from concurrent.futures.process import BrokenProcessPool
from itertools import chain
from typing import Any, Sequence

import numpy as np

# Below this many characters in the whole batch, one process is faster (automatic mode).
# Spawned workers take a few tenths of a second to start: they need a larger batch.
PARALLEL_MIN_CHARS = 1_000_000
PARALLEL_MIN_CHARS_SPAWN = 6_000_000
# Chunks per process: more chunks balance better at the end, each costs a message.
CHUNKS_PER_PROCESS = 16
# Each UTF-8 byte of a character beyond its first counts this many ASCII characters (measured
# on the benchmark corpus: multilingual text, ~2.1 bytes a character, costs ~7x ASCII per
# character). Overestimating only makes chunks smaller.
EXTRA_BYTE_COST = 6


def _text_cost(text: str) -> int:
    if text.isascii():  # O(1) in CPython
        return len(text)
    extra = len(text.encode("utf-8", "surrogatepass")) - len(text)
    return len(text) + EXTRA_BYTE_COST * extra


def resolve_processes(processes: int | None, texts: Sequence[str],
                      min_chars: int = PARALLEL_MIN_CHARS) -> int:
    """How many processes to use: ``processes`` if given, else all cores for a batch of at
    least ``min_chars`` characters.

    >>> resolve_processes(None, ["a short batch"]), resolve_processes(2, ["a"])
    (1, 2)
    """
    if processes is not None:
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValueError(f"`processes` must be a whole number >= 1 or None (automatic), got {processes!r}")
        return processes
    if len(texts) < 2 or sum(len(t) for t in texts if isinstance(t, str)) < min_chars:
        return 1
    return max(1, min(os.cpu_count() or 1, len(texts)))


def chunk_bounds(texts: Sequence[str], chunks: int) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges that cut ``texts`` into about ``chunks`` runs of about
    equal estimated cost (a text is never split; no run is empty). Here the costs are
    4, 1, 1, 1, 7 ("\u00e9" is two UTF-8 bytes: 1 + EXTRA_BYTE_COST) and 1; 15 / 3 = 5 a run:

    >>> chunk_bounds(["aaaa", "b", "c", "d", "\u00e9", "f"], 3)
    [(0, 2), (2, 5), (5, 6)]
    """
    costs = list(map(_text_cost, texts))
    target = max(1, sum(costs) // max(1, chunks))
    bounds, start, size = [], 0, 0
    for i, cost in enumerate(costs):
        size += cost
        if size >= target:
            bounds.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(texts):
        bounds.append((start, len(texts)))
    return bounds


def _encode_all(encoding, method: str, texts: Sequence[str], kwargs: dict) -> list:
    fn = getattr(encoding, method)
    return [fn(t, **kwargs) for t in texts]


class _RemoteTraceback(Exception):
    """Carries a worker's traceback text, as the ``__cause__`` of the error it raised."""

    def __str__(self) -> str:
        return self.args[0]


def _pack(lists: list) -> tuple[bytes, bytes] | None:
    """Token lists as two uint32 buffers (all tokens, then each list's length); None if they
    are not lists of 32-bit ids (``map_batch`` is generic), and then they travel as they are."""
    try:
        return array("I", chain.from_iterable(lists)).tobytes(), array("I", map(len, lists)).tobytes()
    except (TypeError, OverflowError):
        return None


_INTS = np.arange(0).astype(object)  # _INTS[k] is the int k: one object per id, shared


def _unpack(flat: bytes, lengths: bytes) -> list[list[int]]:
    """The inverse of :func:`_pack`. Each id becomes one shared int object (as in the serial
    result, where tokens are the rank table's ints), not a fresh one per token as unpickling
    a list makes: half the time, and none of the memory.

    >>> _unpack(*_pack([[1, 2], [], [70000]]))
    [[1, 2], [], [70000]]
    """
    global _INTS
    ids = np.frombuffer(flat, dtype=np.uint32)
    if len(ids) and ids.max() >= len(_INTS):
        _INTS = np.arange(max(int(ids.max()) + 1, 2 * len(_INTS))).astype(object)
    tokens = _INTS[ids]  # (T,) object array of ints
    ends = np.cumsum(np.frombuffer(lengths, dtype=np.uint32)).tolist()
    return [tokens[a:b].tolist() for a, b in zip([0, *ends], ends)]


def _claim(counters, lock, front: bool) -> int | None:
    """Take the next chunk index from the front or the back; None when all are taken."""
    with lock:
        i, j = counters[0], counters[1]
        if i > j:
            return None
        if front:
            counters[0] = i + 1
            return i
        counters[1] = j - 1
        return j


def _worker_main(job: tuple, bounds, counters, lock, results) -> None:
    texts, encoding, method, kwargs = job
    while (i := _claim(counters, lock, front=True)) is not None:
        a, b = bounds[i]
        try:
            value = _encode_all(encoding, method, texts[a:b], kwargs)
            payload = pickle.dumps((i, True, _pack(value) or value), -1)
        except Exception as e:
            try:
                payload = pickle.dumps((i, False, (e, traceback.format_exc())), -1)
            except Exception:  # an error that cannot be pickled still reaches the caller
                payload = pickle.dumps((i, False, (RuntimeError(repr(e)), traceback.format_exc())), -1)
        results.put(payload)  # its writer thread sends it; this loop goes on
    results.close()
    results.join_thread()  # everything is sent before the process exits


def _context():
    """``fork`` on Linux while no other thread runs (one could hold a lock the child would
    inherit locked); else the platform's default (``spawn`` on Windows and macOS, where
    system libraries make ``fork`` unsafe)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _start_all(workers: list, failures: list) -> None:
    for w in workers:
        try:
            w.start()
        except Exception as e:  # e.g. a custom encoding that cannot be pickled for spawn
            failures.append(e)
            return


def map_batch(encoding, method: str, texts: Sequence[str], kwargs: dict, processes: int | None) -> list:
    """``[getattr(encoding, method)(t, **kwargs) for t in texts]``, on ``processes`` processes.

    ``method`` returns a list of token ids (other results travel pickled, as they are). Raises
    what the serial loop raises, for the first text that fails.

    >>> from refimpl import get_encoding
    >>> map_batch(get_encoding("gpt2"), "encode_ordinary", ["hello", "world"], {}, processes=2)
    [[31373], [6894]]
    """
    texts = list(texts)
    ctx = _context()
    forking = ctx.get_start_method() == "fork"
    n = resolve_processes(processes, texts, PARALLEL_MIN_CHARS if forking else PARALLEL_MIN_CHARS_SPAWN)
    if n > 1 and not all(isinstance(t, str) for t in texts):
        n = 1  # the serial loop raises the error the first bad text gets
    if multiprocessing.current_process().daemon:
        n = 1  # a daemonic process (a multiprocessing.Pool worker) may not start processes
    bounds = chunk_bounds(texts, CHUNKS_PER_PROCESS * n) if n > 1 else []
    if len(bounds) < 2:
        return _encode_all(encoding, method, texts, kwargs)
    done = _run(ctx, encoding, method, texts, kwargs, bounds, min(n - 1, len(bounds) - 1))
    out: list = []
    for i in range(len(bounds)):
        ok, value = done[i]
        if not ok:
            error, remote = value
            if remote is not None:
                error.__cause__ = _RemoteTraceback(remote)
            raise error
        out += value
    return out


def _run(ctx, encoding, method: str, texts: list, kwargs: dict, bounds: list, n_workers: int) -> dict:
    """Steps 2-4: ``{chunk index: (True, results) or (False, (error, remote traceback))}``."""
    counters = ctx.RawArray("q", [0, len(bounds) - 1])  # next from the front, next from the back
    lock = ctx.Lock()
    results = ctx.Queue()
    # subtle: texts first. A spawned worker unpickles as it reads, and the encoding (by name)
    # means importing refimpl; after the texts, that no longer holds up start() here.
    job = (texts, encoding, method, kwargs)
    workers = [ctx.Process(target=_worker_main, args=(job, bounds, counters, lock, results), daemon=True)
               for _ in range(n_workers)]
    failures: list = []
    if ctx.get_start_method() == "fork":
        _start_all(workers, failures)  # quick: nothing to send
        starter = None
    else:
        # start() waits until a spawned worker has started Python and read its job (all the
        # texts): let a thread wait, and start encoding here at once.
        starter = threading.Thread(target=_start_all, args=(workers, failures), daemon=True)
        starter.start()
    done: dict[int, tuple[bool, Any]] = {}

    def receive(block: bool) -> bool:
        try:
            i, ok, value = pickle.loads(results.get(block, timeout=0.1 if block else None))
        except queue.Empty:
            return False
        done[i] = (ok, _unpack(*value) if ok and isinstance(value, tuple) else value)
        return True

    try:
        # 3. this process takes chunks from the back, reading results in between
        while (i := _claim(counters, lock, front=False)) is not None:
            a, b = bounds[i]
            try:
                done[i] = (True, _encode_all(encoding, method, texts[a:b], kwargs))
            except Exception as e:  # raised only if no earlier text fails
                done[i] = (False, (e, None))
            while receive(block=False):
                pass
        if starter is not None:
            starter.join()
        if failures:
            warnings.warn(f"worker processes could not start ({failures[0]!r}); the batch was encoded "
                          "in this process", RuntimeWarning, stacklevel=4)
        # 4. the rest. Missing results with no worker left alive will never come: one died
        # (killed, out of memory) with a chunk it had claimed.
        while len(done) < len(bounds):
            if receive(block=True) or any(w.is_alive() for w in workers) or receive(block=False):
                continue
            codes = [w.exitcode for w in workers]
            raise BrokenProcessPool(f"a worker process died while encoding the batch (exit codes {codes}); "
                                    "no result is returned: retry, or pass processes=1")
    finally:
        if starter is not None:
            starter.join()
        for w in workers:
            if w.is_alive():  # all results are in (or we are leaving on an error): a worker
                w.terminate()  # still starting up, or finishing, has nothing left to give
            if w.pid is not None:
                w.join()
        results.close()
    return done
