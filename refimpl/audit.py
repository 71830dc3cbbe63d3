"""Audit a request log: does the API's ``usage.prompt_tokens`` agree with refimpl, line by line?

A log is JSON Lines; each line is ``{"request": <chat request body>, "response": <chat
completion response body>}``. Every input line gives exactly one report record, in input order:

* ``line``: the 1-based line number; ``custom_id``: the Batch API id, or None;
* ``status``: ``"match"``, ``"mismatch"`` or ``"error"``;
* ``model``, ``as_of`` (the day whose counting rules applied: the response's ``created`` date,
  or the ``as_of`` you pass), ``predicted_prompt_tokens``, ``reported_prompt_tokens``,
  ``difference`` (predicted - reported), ``estimate`` (a rule or piece of the prediction is
  inferred rather than measured: see the breakdown's notes);
* ``error_type`` and ``error`` (one line: what, the value found, what is allowed, the fix) for
  errors: ``invalid_json``, ``not_utf8``, ``empty_line``, ``invalid_record``, ``missing_field``,
  ``no_usage``, ``unknown_model``, ``invalid_request``, ``image_size``; ``api_error``,
  ``unmatched`` and ``duplicate_id`` (Batch API, see `refimpl.audit_batch`); ``internal_error``
  (a refimpl bug: please report it);
* ``breakdown`` for mismatches: the snapshot, encoding, tokens per source and the notes.

A bad line never stops the run: it becomes an error record. Lines are streamed (memory stays
flat whatever the file size), optionally over ``jobs`` processes in ordered chunks (the report
is the same, byte for byte, as with one process), and texts seen before (system prompts, tool
definitions) are tokenized once (`refimpl.audit_cache.TextCache`).

>>> line = json.dumps({"request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]},
...                    "response": {"created": 1727740800, "usage": {"prompt_tokens": 8}}})
>>> r = audit_line(line, 1); r["status"], r["predicted_prompt_tokens"], r["as_of"]
('match', 8, '2024-10-01')
>>> audit_line("{oops", 2)["error_type"]
'invalid_json'
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator

from .audit_cache import TextCache, active_get_encoding
from .audit_summary import AuditSummary, write_report
from .chat_count import explain_prompt_tokens
from .chat_errors import ChatRequestError, ImageSizeError, UnknownModelError
from .chat_rules import parse_date

__all__ = ["RECORD_KEYS", "AuditSummary", "audit_line", "audit_pair", "iter_audit", "audit_log",
           "write_report", "iter_log_lines", "iter_audit_files", "LineError"]

#: The keys of every report record, in order (a "file" key comes first in multi-file audits).
RECORD_KEYS = ("line", "custom_id", "status", "model", "as_of", "predicted_prompt_tokens",
               "reported_prompt_tokens", "difference", "estimate", "error_type", "error", "breakdown")

_SNIPPET = 80  # characters of a bad value quoted in an error message


class LineError(Exception):
    """A bad input line: `error_type` (see the module notes) and a one-line message."""

    def __init__(self, error_type: str, message: str):
        self.error_type = error_type
        super().__init__(message)


def _snippet(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


def _record(line, **values) -> dict:
    rec = dict.fromkeys(RECORD_KEYS)
    rec["line"] = line
    rec.update(values)
    return rec


def _error_record(line, err: LineError, **values) -> dict:
    return _record(line, status="error", error_type=err.error_type, error=str(err), **values)


# ---------------------------------------------------------------------------------------
# one line
# ---------------------------------------------------------------------------------------

def _as_of_from(response: dict, as_of) -> str | None:
    """`as_of` if given, else the UTC day of the response's ``created`` (Unix seconds)."""
    if as_of is not None:
        return parse_date(as_of).isoformat()
    created = response.get("created")
    if isinstance(created, (int, float)) and not isinstance(created, bool) and 0 < created < 1e11:
        return _dt.datetime.fromtimestamp(created, _dt.timezone.utc).date().isoformat()
    return None


def _reported(response) -> int:
    usage = response.get("usage") if isinstance(response, dict) else None
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        return tokens
    found = usage if usage is not None else "no usage"
    raise LineError("no_usage", f"`response.usage.prompt_tokens` is missing or invalid: found {_snippet(found)}; "
                                "allowed: a non-negative integer. Fix: log complete (non-streamed) responses, "
                                "or stream with stream_options={\"include_usage\": true}")


def audit_pair(request, response, *, line=None, custom_id=None, as_of=None) -> dict:
    """The report record of one request body and its response body (dicts).

    `as_of` (``"YYYY-MM-DD"`` or a date) overrides the response's ``created`` day. Never raises
    for bad input: problems become an error record.

    >>> req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    >>> r = audit_pair(req, {"usage": {"prompt_tokens": 9}}, line=7)
    >>> r["status"], r["difference"], sorted(r["breakdown"]["by_source"])
    ('mismatch', -1, ['messages[0]', 'messages[0].content', 'messages[0].role', 'reply priming'])
    """
    model = request.get("model") if isinstance(request, dict) else None
    base = dict(custom_id=custom_id, model=model if isinstance(model, str) else None)
    try:
        if not isinstance(request, dict):
            raise LineError("missing_field", f"`request` must be a chat request object: found {_snippet(request)}; "
                                             "allowed: a JSON object with `model` and `messages`. "
                                             "Fix: log the request body you sent")
        if not isinstance(response, dict):
            raise LineError("missing_field", f"`response` must be a chat completion object: found "
                                             f"{_snippet(response)}; allowed: a JSON object with `usage`. "
                                             "Fix: log the response body you received")
        reported = _reported(response)
        day = _as_of_from(response, as_of)
        base.update(as_of=day, reported_prompt_tokens=reported)
        b = explain_prompt_tokens(request, as_of=day, get_encoding=active_get_encoding())
    except LineError as e:
        return _error_record(line, e, **base)
    except UnknownModelError as e:
        return _error_record(line, LineError("unknown_model", str(e)), **base)
    except ImageSizeError as e:
        return _error_record(line, LineError("image_size", str(e)), **base)
    except ChatRequestError as e:
        return _error_record(line, LineError("invalid_request", str(e)), **base)
    except Exception as e:  # a bug in refimpl must not stop an audit of a million lines
        message = " ".join(f"refimpl failed on this line: {type(e).__name__}: {e}".split())
        return _error_record(line, LineError("internal_error", message + "; please report it with the line"), **base)
    match = b.total == reported
    rec = _record(line, status="match" if match else "mismatch", predicted_prompt_tokens=b.total,
                  difference=b.total - reported, estimate=b.estimate, **base)
    if not match:
        rec["breakdown"] = {"snapshot": b.snapshot, "encoding": b.encoding,
                            "by_source": b.by_source, "notes": list(b.notes)}
    return rec


def parse_line(raw) -> dict:
    """A log line (bytes or str) as a JSON object, or `LineError`."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise LineError("not_utf8", f"line is not UTF-8: invalid byte {raw[e.start:e.start + 1]!r} at "
                                        f"byte {e.start}; allowed: UTF-8 JSON. Fix: re-encode the log as UTF-8") from None
    if not raw.strip():
        raise LineError("empty_line", "line is empty: found ''; allowed: one JSON object per line. "
                                      "Fix: remove blank lines")
    try:
        value = json.loads(raw)
    except ValueError as e:
        msg = getattr(e, "msg", str(e))
        col = getattr(e, "colno", "?")
        raise LineError("invalid_json", f"line is not JSON ({msg}, column {col}): found {_snippet(raw.strip())}; "
                                        "allowed: one JSON object per line. Fix: repair or remove the line") from None
    if not isinstance(value, dict):
        raise LineError("invalid_record", f"line is a JSON {type(value).__name__}, not an object: found "
                                          f"{_snippet(value)}; allowed: {{\"request\": ..., \"response\": ...}}. "
                                          "Fix: write one object per line")
    return value


def audit_line(raw, line: int | None = None, *, as_of=None) -> dict:
    """The report record of one log line (``{"request": ..., "response": ...}``, bytes or str).

    >>> print(audit_line('{"request": {"model": "gpt-4o", "messages": []}}', 3)["error"])
    `response` is missing: found keys ['request']; allowed: an object with `request` and `response`. Fix: log both bodies on each line
    """
    try:
        obj = parse_line(raw)
        for key in ("request", "response"):
            if key not in obj:
                raise LineError("missing_field", f"`{key}` is missing: found keys {sorted(obj)[:8]}; allowed: an "
                                                 "object with `request` and `response`. Fix: log both bodies on each line")
    except LineError as e:
        return _error_record(line, e)
    custom_id = obj.get("custom_id")
    return audit_pair(obj["request"], obj["response"], line=line, as_of=as_of,
                      custom_id=custom_id if isinstance(custom_id, str) else None)


# ---------------------------------------------------------------------------------------
# many lines: streaming, in ordered chunks over processes
# ---------------------------------------------------------------------------------------

def iter_log_lines(log, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw bytes)`` for each line of `log` (a path, ``"-"`` for stdin, a binary
    file, or an iterable of str/bytes lines), without the line ending. `on_bytes(n)` is called
    with the bytes read so far (for a progress bar).

    >>> list(iter_log_lines(io.BytesIO(b'{"a": 1}\\n\\nlast')))
    [(1, b'{"a": 1}'), (2, b''), (3, b'last')]
    """
    if isinstance(log, (str, os.PathLike)):
        if str(log) == "-":
            yield from iter_log_lines(sys.stdin.buffer, on_bytes=on_bytes)
            return
        with open(log, "rb") as f:
            yield from iter_log_lines(f, on_bytes=on_bytes)
        return
    seen = 0
    for n, raw in enumerate(log, 1):
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        seen += len(raw)
        if on_bytes is not None:
            on_bytes(seen)
        yield n, raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw


# Work items are tuples; a top-level function turns one into a record (it is pickled by name
# for the worker processes).
def _log_item(item, as_of) -> dict:
    file, n, raw = item
    rec = audit_line(raw, n, as_of=as_of)
    return {"file": file, **rec} if file is not None else rec


_WORKER_CACHE: TextCache | None = None  # one per process, kept across chunks


def _run_chunk(fn: Callable, items: list, as_of, use_cache: bool) -> list[dict]:
    global _WORKER_CACHE
    if not use_cache:
        return [fn(item, as_of) for item in items]
    if _WORKER_CACHE is None:
        _WORKER_CACHE = TextCache()
    with _WORKER_CACHE:
        return [fn(item, as_of) for item in items]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_jobs(jobs) -> int:
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"`jobs` must be an integer >= 1, got {jobs!r}; pass e.g. jobs={os.cpu_count() or 1}")
    return jobs


def _check_as_of(as_of) -> None:
    """A bad `as_of` is the caller's mistake, not every line's: refuse it before reading."""
    try:
        parse_date(as_of)
    except UnknownModelError:
        raise ValueError(f"`as_of` must be a date 'YYYY-MM-DD' or a datetime.date, got {as_of!r}; "
                         "pass e.g. as_of='2024-10-01', or None for each response's `created` day") from None


def run_items(fn: Callable, items: Iterable, *, as_of=None, jobs: int = 1, cache: bool = True,
              chunk_lines: int = 200) -> Iterator[dict]:
    """``fn(item, as_of)`` for each work item, in order. With ``jobs > 1``, chunks of `chunk_lines` items go to
    a pool of `jobs` processes; at most ``2 * jobs`` chunks are in flight, so memory is bounded."""
    jobs = _check_jobs(jobs)
    _check_as_of(as_of)
    if jobs == 1:
        for chunk in _chunks(items, chunk_lines):
            yield from _run_chunk(fn, chunk, as_of, cache)
        return
    # spawn: a clean interpreter per worker (no forked locks or threads), the same on every OS
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for chunk in _chunks(items, chunk_lines):
            pending.append(pool.submit(_run_chunk, fn, chunk, as_of, cache))
            while len(pending) >= 2 * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def iter_audit(log, *, as_of=None, jobs: int = 1, cache: bool = True,
               on_bytes: Callable[[int], None] | None = None) -> Iterator[dict]:
    """Report records for every line of `log` (a path, ``"-"``, a binary file or an iterable
    of lines: see `iter_log_lines`), in order. Raises OSError when the file cannot be opened,
    ValueError for a bad `jobs`.

    >>> recs = list(iter_audit(["{}", "not json"]))
    >>> [(r["line"], r["error_type"]) for r in recs]
    [(1, 'missing_field'), (2, 'invalid_json')]
    """
    _check_jobs(jobs)
    items = ((None, n, raw) for n, raw in iter_log_lines(log, on_bytes=on_bytes))
    yield from run_items(_log_item, items, as_of=as_of, jobs=jobs, cache=cache)


def iter_audit_files(paths, *, as_of=None, jobs: int = 1, cache: bool = True,
                     on_bytes: Callable[[int], None] | None = None) -> Iterator[dict]:
    """Like `iter_audit` over several files, one after the other, with one pool of processes;
    each record starts with a ``"file"`` key (the path as given). `on_bytes` gets the bytes
    read so far over all files."""
    _check_jobs(jobs)
    done = [0]

    def lines(path):
        base = done[0]
        tell = (lambda n: on_bytes(base + n)) if on_bytes else None
        for n, raw in iter_log_lines(path, on_bytes=tell):
            yield str(path), n, raw
        done[0] = base + (os.path.getsize(path) if str(path) != "-" else 0)

    items = (item for p in paths for item in lines(p))
    yield from run_items(_log_item, items, as_of=as_of, jobs=jobs, cache=cache)


def audit_log(log, report=None, *, as_of=None, jobs: int = 1, cache: bool = True,
              on_bytes: Callable[[int], None] | None = None) -> AuditSummary:
    """Audit `log` (a path, binary file or lines; see `iter_audit`) and write the report to
    `report` (a path, ``"-"`` for stdout, a text file, or None); returns the `AuditSummary`.

    >>> audit_log(["{}"]).to_dict()["errors_by_type"]
    {'missing_field': 1}
    """
    return write_report(iter_audit(log, as_of=as_of, jobs=jobs, cache=cache, on_bytes=on_bytes), report)
