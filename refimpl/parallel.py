"""Encode many texts on several cores: pure-Python encoding holds the GIL, so threads cannot
help; processes can.

``Encoding.encode_batch`` and ``encode_ordinary_batch`` call :func:`map_batch`. Small batches
run in this process (starting workers costs more than it saves); large ones are cut into
chunks that worker processes encode, and the results come back in input order, so the output
is exactly the serial one. A registered encoding travels to the workers by name (they load
it once); a custom one travels by value.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

# Below this many characters in the whole batch, one process is faster.
PARALLEL_MIN_CHARS = 1_000_000


def _work(job: tuple[Any, str, Sequence[str], dict]) -> list:
    encoding, method, texts, kwargs = job
    fn = getattr(encoding, method)
    return [fn(t, **kwargs) for t in texts]


def resolve_processes(processes: int | None, texts: Sequence[str]) -> int:
    """How many processes to use: ``processes`` if given, else all cores for a large batch.

    >>> resolve_processes(None, ["a short batch"]), resolve_processes(2, ["a"])
    (1, 2)
    """
    if processes is not None:
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValueError(f"`processes` must be a whole number >= 1 or None (automatic), got {processes!r}")
        return processes
    if len(texts) < 2 or sum(map(len, texts)) < PARALLEL_MIN_CHARS:
        return 1
    return max(1, min(os.cpu_count() or 1, len(texts)))


def map_batch(encoding, method: str, texts: Sequence[str], kwargs: dict, processes: int | None) -> list:
    """``[getattr(encoding, method)(t, **kwargs) for t in texts]``, on ``processes`` processes.

    >>> from refimpl import get_encoding
    >>> map_batch(get_encoding("gpt2"), "encode_ordinary", ["hello", "world"], {}, processes=2)
    [[31373], [6894]]
    """
    texts = list(texts)
    n = resolve_processes(processes, texts)
    if n == 1:
        return _work((encoding, method, texts, kwargs))
    # About four chunks per process, balanced by characters, keeps workers busy to the end.
    target = max(1, sum(map(len, texts)) // (4 * n))
    chunks, current, size = [], [], 0
    for t in texts:
        current.append(t)
        size += len(t)
        if size >= target:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    with ProcessPoolExecutor(max_workers=n) as pool:
        parts = pool.map(_work, [(encoding, method, c, kwargs) for c in chunks])
        return [r for part in parts for r in part]
