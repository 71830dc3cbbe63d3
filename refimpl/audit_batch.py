"""Audit a Batch API job: the input file's requests against the output file's responses.

The Batch API takes a JSONL file of ``{"custom_id", "method", "url", "body"}`` lines and returns
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`` lines, in
any order. Requests and responses are matched by ``custom_id``. The report has one record per
input line (``line``, the input line number; ``output_line``, where its response was), in
input order, then one ``unmatched`` error record per output line no input line asked for, so
every line of both files is accounted for.

Memory: the output file is indexed once (custom_id -> byte offset; a Batch file holds at most
50,000 requests), then the input is streamed and each response read at its offset.

>>> import io, json
>>> body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
>>> inp = io.BytesIO(json.dumps({"custom_id": "r1", "url": "/v1/chat/completions", "body": body}).encode())
>>> out = io.BytesIO(json.dumps({"custom_id": "r1", "error": None, "response": {"status_code": 200,
...     "body": {"created": 1727740800, "usage": {"prompt_tokens": 8}}}}).encode())
>>> [(r["line"], r["output_line"], r["custom_id"], r["status"]) for r in iter_audit_batch(inp, out)]
[(1, 1, 'r1', 'match')]
"""
from __future__ import annotations

import json
import os
from typing import Callable, Iterator

from .audit import AuditSummary, LineError, _check_jobs, _error_record, _snippet, audit_pair, parse_line, \
    run_items, write_report

__all__ = ["iter_audit_batch", "audit_batch"]

CHAT_URL = "/v1/chat/completions"


def _open_binary(source):
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True
    return source, False


def _custom_id(raw: bytes):
    """The line's custom_id (a str), or None when the line or its custom_id is unusable."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    cid = obj.get("custom_id") if isinstance(obj, dict) else None
    return cid if isinstance(cid, str) else None


def _index_output(f) -> tuple[dict[str, tuple[int, int]], list[tuple[int, bytes]]]:
    """custom_id -> (byte offset, line number) of its first response; and the lines that have
    no usable custom_id or repeat one (line number, raw)."""
    index, orphans = {}, []
    offset = 0
    for n, raw in enumerate(iter(f.readline, b""), 1):
        cid = _custom_id(raw)
        if cid is None or cid in index:
            orphans.append((n, raw.rstrip(b"\r\n")))
        else:
            index[cid] = (offset, n)
        offset += len(raw)
    return index, orphans


def _batch_item(item, as_of) -> dict:
    """One input line and its response line (or the problem found while pairing) -> a record."""
    n, out_n, raw_in, raw_out, problem = item
    cid = None
    try:
        if problem is not None:
            cid = _custom_id(raw_in if raw_in is not None else raw_out)
            raise LineError(*problem)
        obj = parse_line(raw_in)
        cid = obj.get("custom_id") if isinstance(obj.get("custom_id"), str) else None
        if cid is None:
            raise LineError("missing_field", f"`custom_id` is missing or not a string: found "
                                             f"{_snippet(obj.get('custom_id'))}; allowed: a unique string per line. "
                                             "Fix: give every batch input line its custom_id")
        url = obj.get("url", CHAT_URL)
        if url != CHAT_URL:
            raise LineError("invalid_record", f"`url` is not the Chat Completions endpoint: found {url!r}; allowed: "
                                              f"{CHAT_URL!r}. Fix: audit only chat completion batches")
        if not isinstance(obj.get("body"), dict):
            raise LineError("missing_field", f"`body` is missing or not an object: found {_snippet(obj.get('body'))}; "
                                             "allowed: the chat request body. Fix: write the request under `body`")
        if raw_out is None:
            raise LineError("unmatched", f"no response in the batch output for custom_id {cid!r}: found none; "
                                         "allowed: one output line per input line. Fix: check the batch's "
                                         "error_file and that the batch completed")
        out = parse_line(raw_out)
        if out.get("error"):
            raise LineError("api_error", f"the batch output has an error for this request: found "
                                         f"{_snippet(out['error'])}; allowed: error null. Fix: see the error and resend")
        response = out.get("response") if isinstance(out.get("response"), dict) else {}
        if response.get("status_code") != 200:
            raise LineError("api_error", f"the API answered status {response.get('status_code')!r}: found "
                                         f"{_snippet(response.get('body'))}; allowed: status_code 200. "
                                         "Fix: see the error body and resend")
        rec = audit_pair(obj["body"], response.get("body"), line=n, custom_id=cid, as_of=as_of)
    except LineError as e:
        rec = _error_record(n, e, custom_id=cid)
    return {"line": rec.pop("line"), "output_line": out_n, **rec}


def _items(fin, fout, index, orphans) -> Iterator[tuple]:
    used: set[str] = set()
    seen: set[str] = set()
    for n, raw in enumerate(iter(fin.readline, b""), 1):
        raw = raw.rstrip(b"\r\n")
        cid = _custom_id(raw)
        if cid is not None and cid in seen:
            yield n, None, raw, None, ("duplicate_id", f"custom_id {cid!r} repeats an earlier input line: found it "
                                                      "again; allowed: a unique custom_id per line. Fix: make "
                                                      "custom_ids unique")
            continue
        where = index.get(cid) if cid is not None else None
        raw_out = None
        if where is not None:
            seen.add(cid)
            used.add(cid)
            fout.seek(where[0])
            raw_out = fout.readline().rstrip(b"\r\n")
        yield n, where[1] if where else None, raw, raw_out, None
    # Output lines no input line asked for, in output order.
    leftovers = [(out_n, off, None) for cid, (off, out_n) in index.items() if cid not in used]
    leftovers += [(out_n, None, raw) for out_n, raw in orphans]
    for out_n, off, raw in sorted(leftovers, key=lambda t: t[0]):
        if raw is None:
            fout.seek(off)
            raw = fout.readline().rstrip(b"\r\n")
        cid = _custom_id(raw)
        why = (f"custom_id {cid!r} is in the batch output but not in the batch input" if cid is not None and
               cid not in seen else "the output line has no usable custom_id or repeats one")
        yield None, out_n, None, raw, ("unmatched", f"{why}: found {_snippet(raw.decode('utf-8', 'replace'))}; "
                                                    "allowed: one output line per input custom_id. Fix: pass the "
                                                    "input file of this batch")


def iter_audit_batch(batch_input, batch_output, *, as_of=None, jobs: int = 1, cache: bool = True,
                     on_bytes: Callable[[int], None] | None = None) -> Iterator[dict]:
    """Report records for a Batch API input file and its output file (paths or binary files).

    Error types besides `refimpl.audit`'s: ``duplicate_id`` (a custom_id used twice in the
    input), ``unmatched`` (a request without a response, or a response without a request),
    ``api_error`` (the batch answered with an error). Raises OSError when a file cannot be read.
    """
    _check_jobs(jobs)
    fin, close_in = _open_binary(batch_input)
    fout, close_out = _open_binary(batch_output)
    try:
        index, orphans = _index_output(fout)
        items = _items(fin, fout, index, orphans)
        if on_bytes is not None:
            items = _tracking(items, fin, on_bytes)
        yield from run_items(_batch_item, items, as_of=as_of, jobs=jobs, cache=cache)
    finally:
        if close_in:
            fin.close()
        if close_out:
            fout.close()


def _tracking(items, fin, on_bytes):
    for item in items:
        try:
            on_bytes(fin.tell())
        except (OSError, ValueError):
            pass
        yield item


def audit_batch(batch_input, batch_output, report=None, *, as_of=None, jobs: int = 1, cache: bool = True,
                on_bytes: Callable[[int], None] | None = None) -> AuditSummary:
    """Audit a Batch API pair and write the report (see `refimpl.audit.write_report`)."""
    return write_report(iter_audit_batch(batch_input, batch_output, as_of=as_of, jobs=jobs, cache=cache,
                                         on_bytes=on_bytes), report)
