"""The audit over many files on a Dask cluster (``pip install 'refimpl[dask]'``).

Same records as `refimpl.audit.iter_audit_files` (one per line, in file then line order), computed
on Dask workers:

1. Index: each file is cut into blocks of about `block_bytes` at line ends, with the number of
   the first line of each block (one task per file, on the workers).
2. Audit: a `dask.bag` with one partition per block; each partition reads its byte range and
   turns every line into its record with the same function as the single-process audit.
3. Report: the client gathers the partitions in order, a few at a time, and writes them as they
   come, so neither the client nor the workers hold the whole report.

The workers open the files themselves: give paths they can read (a shared filesystem, or any
URL fsspec understands, such as ``s3://bucket/log.jsonl`` with s3fs installed).

Dask is imported only when these functions are called; ``import refimpl`` never needs it.

Example (a local cluster of two worker processes)::

    from refimpl.audit_dask import audit_with_dask
    summary = audit_with_dask(["day1.jsonl", "day2.jsonl"], "report.jsonl", scheduler="local", workers=2)
    print(summary.format())

or on a running cluster: ``audit_with_dask(paths, "report.jsonl", scheduler="tcp://scheduler:8786")``;
from the command line: ``refimpl audit day*.jsonl -o report.jsonl --dask local --jobs 2``.
"""
from __future__ import annotations

import io
import os
from collections import deque

from .audit import AuditSummary, _check_jobs, _log_item, _run_chunk, iter_log_lines, write_report

__all__ = ["file_blocks", "audit_bag", "audit_with_dask"]

BLOCK_BYTES = 8 * 2**20


def _open(path):
    try:
        import fsspec  # a dependency of dask
    except ImportError:  # pragma: no cover
        return open(path, "rb")
    return fsspec.open(path, "rb").open()


def file_blocks(path: str, block_bytes: int = BLOCK_BYTES) -> list[tuple[str, int, int, int]]:
    """``(path, byte offset, byte length, first line number)`` of blocks of about `block_bytes`
    that end at line ends and cover the file.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"; _ = p.write_bytes(b"a\\nbb\\nccc\\n")
    >>> [b[1:] for b in file_blocks(str(p), block_bytes=3)]
    [(0, 5, 1), (5, 4, 3)]
    """
    if not isinstance(block_bytes, int) or block_bytes < 1:
        raise ValueError(f"`block_bytes` must be an integer >= 1, got {block_bytes!r}; pass e.g. {BLOCK_BYTES}")
    blocks, offset, line = [], 0, 1
    with _open(path) as f:
        while True:
            data = f.read(block_bytes)
            if not data:
                break
            if not data.endswith(b"\n"):
                data += f.readline()  # finish the block's last line
            blocks.append((path, offset, len(data), line))
            offset += len(data)
            line += data.count(b"\n")
    return blocks


def _audit_block(block, as_of, cache: bool, with_file: bool) -> list[dict]:
    path, offset, length, first = block
    with _open(path) as f:
        f.seek(offset)
        data = f.read(length)
    items = [(path if with_file else None, first - 1 + n, raw) for n, raw in iter_log_lines(io.BytesIO(data))]
    return _run_chunk(_log_item, items, as_of, cache)


def audit_bag(paths, *, as_of=None, cache: bool = True, block_bytes: int = BLOCK_BYTES,
              with_file: bool | None = None):
    """A `dask.bag.Bag` of report records for the files in `paths`, one partition per block.

    Records carry a ``"file"`` key when `with_file` (default: when there is more than one path),
    as in `refimpl.audit.iter_audit_files`. The block index is computed here, on the current
    Dask scheduler (workers read the files). Use the bag like any other, e.g.
    ``audit_bag(paths).filter(lambda r: r["status"] != "match").to_dataframe()``.
    """
    import dask
    import dask.bag as db

    paths = [os.fspath(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not paths:
        raise ValueError("`paths` is empty; pass at least one JSONL log path")
    with_file = len(paths) > 1 if with_file is None else with_file
    index = db.from_sequence(paths, npartitions=len(paths)).map(file_blocks, block_bytes=block_bytes)
    blocks = [b for per_file in dask.compute(index)[0] for b in per_file]
    if not blocks:  # only empty files: an empty bag
        return db.from_sequence([], npartitions=1)
    return db.from_sequence(blocks, npartitions=len(blocks)).map_partitions(
        lambda part: [rec for block in part for rec in _audit_block(block, as_of, cache, with_file)])


def _client(scheduler, workers: int):
    """(client, things to close) for None/'local' (a new LocalCluster), an address, or a Client."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, []
    if scheduler in (None, "local"):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        return client, [client, cluster]
    if isinstance(scheduler, str):
        client = Client(scheduler, timeout="20s")
        return client, [client]
    raise TypeError(f"`scheduler` must be None, 'local', an address like 'tcp://host:8786' or a "
                    f"distributed.Client, got {type(scheduler).__name__}; pass one of those")


def audit_with_dask(paths, report=None, *, scheduler=None, workers: int = 2, as_of=None, cache: bool = True,
                    block_bytes: int = BLOCK_BYTES, window: int | None = None) -> AuditSummary:
    """Audit `paths` (JSONL logs) on a Dask cluster; write the report to `report` (a path,
    ``"-"``, a text file, or None) in file and line order; return the `AuditSummary`.

    `scheduler`: None or ``"local"`` starts a `distributed.LocalCluster` of `workers` processes
    (closed at the end); an address (``"tcp://host:8786"``) or a `distributed.Client` uses that
    cluster. At most `window` partitions (default 4 per worker thread) are in flight at once.
    Raises ImportError without Dask, OSError when a worker cannot read a file.
    """
    import dask

    _check_jobs(workers)
    client, to_close = _client(scheduler, workers)
    try:
        with dask.config.set(scheduler=client.get):
            bag = audit_bag(paths, as_of=as_of, cache=cache, block_bytes=block_bytes)
        parts = bag.to_delayed()
        size = window or 4 * max(sum(client.nthreads().values()), 1)

        def records():
            pending = deque()
            for part in parts:
                pending.append(client.compute(part))
                if len(pending) >= size:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()

        return write_report(records(), report)
    finally:
        for thing in to_close:
            thing.close()
