"""The bundled sample request log (`SAMPLE_LOG`), and the script that builds it.

``refimpl/_data/sample_log.jsonl`` is synthetic: each line pairs a *real* request from the public
vectors (``tests/data/chat_prompt_tokens.json``: requests whose ``usage.prompt_tokens`` the API
reported, from the cookbook, hmarr, chrisdinn, pamelafox ...) with a *synthetic* response
carrying that reported count, the day the source recorded it (``created``) and the snapshot the
alias pointed at. So an audit of it should match line for line, except for the deliberate
mistakes mixed in, one of each kind an audit must survive (`BROKEN`): a line that is not JSON,
a missing response, an unknown model, a response without usage, an invalid message, and a
billing mismatch. Two vectors whose data: URL images weigh 140 KB each are left out to keep the
package small (the other image requests are in).

Rebuild it (byte for byte the same) from a source checkout::

    python -m refimpl.sample_log                # writes refimpl/_data/sample_log.jsonl
    python -m refimpl.sample_log --check        # exit 1 if the shipped file differs

>>> lines = SAMPLE_LOG.read_text(encoding="utf-8").splitlines()
>>> len(lines), sum('"deliberate"' in line for line in lines)
(112, 6)
"""
from __future__ import annotations

import argparse
import calendar
import json
import pathlib
import re
import sys

__all__ = ["SAMPLE_LOG", "BROKEN", "build_sample_log", "main"]

SAMPLE_LOG = pathlib.Path(__file__).parent / "_data" / "sample_log.jsonl"
DEFAULT_VECTORS = pathlib.Path(__file__).parents[1] / "tests" / "data" / "chat_prompt_tokens.json"
MAX_LINE_BYTES = 20_000   # leaves out the two 140 KB image requests
DEFAULT_CREATED = "2025-06-02"  # for sources that recorded no date
_REQUEST_KEYS = ("model", "messages", "tools", "tool_choice", "functions", "function_call")
_JARGON = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]

#: The deliberate mistakes: (insert before good line k, the line's text). `"deliberate"` in each
#: line says what it is; the audit must report each as the error type named there.
BROKEN: list[tuple[int, str]] = [
    (5, '{"deliberate": "invalid_json", "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hel'),
    (20, json.dumps({"deliberate": "missing_field", "request": {"model": "gpt-4o", "messages": _JARGON}})),
    (40, json.dumps({"deliberate": "unknown_model", "request": {"model": "gpt-9-turbo", "messages": _JARGON},
                     "response": {"object": "chat.completion", "created": 1748865600, "model": "gpt-9-turbo",
                                  "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}}})),
    (60, json.dumps({"deliberate": "no_usage", "request": {"model": "gpt-4o-mini", "messages": _JARGON, "stream": True},
                     "response": {"object": "chat.completion.chunk", "created": 1748865600, "model": "gpt-4o-mini-2024-07-18",
                                  "choices": [{"index": 0, "delta": {"content": "OK"}, "finish_reason": "stop"}]}})),
    (80, json.dumps({"deliberate": "invalid_request", "request": {"model": "gpt-4o", "messages": [{"role": "robot", "content": "beep"}]},
                     "response": {"object": "chat.completion", "created": 1748865600, "model": "gpt-4o-2024-08-06",
                                  "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}}})),
    (100, json.dumps({"deliberate": "mismatch", "request": {"model": "gpt-4o", "messages": _JARGON},
                      "response": {"object": "chat.completion", "created": 1748865600, "model": "gpt-4o-2024-08-06",
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "We are out of time."},
                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 45, "completion_tokens": 6, "total_tokens": 51}}})),
]


def _model_of(entry: dict) -> str:
    # "gpt-3.5-turbo/gpt-4 (cl100k; env OPENAI_MODEL)" names a family: its first model stands for it
    return entry["model"].split("/")[0].split(" ")[0]


def _date_of(entry: dict) -> str:
    """The day the source recorded the count (the last date in `source`, else the first in `note`)."""
    dates = re.findall(r"\d{4}-\d\d-\d\d", entry["source"]) or [None]
    day = dates[-1] or (re.findall(r"\d{4}-\d\d-\d\d", entry.get("note", "")) or [None])[0]
    return day or DEFAULT_CREATED


def _noon_utc(day: str) -> int:
    y, m, d = map(int, day.split("-"))
    return calendar.timegm((y, m, d, 12, 0, 0))


def _good_line(i: int, entry: dict) -> str:
    from .chat_count import count_completion_tokens
    from .chat_rules import resolve_rules

    request = {k: entry[k] for k in _REQUEST_KEYS if k in entry}
    request["model"] = _model_of(entry)
    day = _date_of(entry)
    snapshot = resolve_rules(request["model"], as_of=day).snapshot
    message = {"role": "assistant", "content": "Understood."}
    completion = count_completion_tokens({"choices": [{"message": message}]}, request["model"], as_of=day)
    prompt = entry["expected_prompt_tokens"]
    response = {"id": f"chatcmpl-sample{i:04d}", "object": "chat.completion", "created": _noon_utc(day),
                "model": snapshot,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}
    return json.dumps({"vector": entry["id"], "request": request, "response": response}, ensure_ascii=False)


def build_sample_log(vectors_path=DEFAULT_VECTORS) -> list[str]:
    """The sample log's lines, from the public vectors file (deterministic).

    Raises FileNotFoundError when the vectors file is not there (it ships with the source, not
    with the wheel).
    """
    entries = json.loads(pathlib.Path(vectors_path).read_text(encoding="utf-8"))
    good = [_good_line(i, e) for i, e in enumerate(
        (e for e in entries if e.get("kind") != "image_tokens_only"), 1)]
    good = [line for line in good if len(line.encode("utf-8")) <= MAX_LINE_BYTES]
    lines, broken = [], dict(BROKEN)
    for k, line in enumerate(good):
        if k in broken:
            lines.append(broken[k])
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m refimpl.sample_log [--vectors PATH] [-o PATH] [--check]``."""
    p = argparse.ArgumentParser(prog="python -m refimpl.sample_log", description=__doc__.splitlines()[0])
    p.add_argument("--vectors", default=str(DEFAULT_VECTORS), help="chat_prompt_tokens.json (default: tests/data)")
    p.add_argument("-o", "--output", default=str(SAMPLE_LOG), help="where to write (default: the bundled file)")
    p.add_argument("--check", action="store_true", help="compare with --output instead of writing; exit 1 if different")
    args = p.parse_args(argv)
    try:
        text = "\n".join(build_sample_log(args.vectors)) + "\n"
    except OSError as e:
        print(f"sample_log: error: cannot read the vectors {args.vectors!r}: {e.strerror}; "
              "run from a source checkout or pass --vectors PATH", file=sys.stderr)
        return 1
    out = pathlib.Path(args.output)
    if args.check:
        same = out.exists() and out.read_text(encoding="utf-8") == text
        print(f"{out}: {'up to date' if same else 'differs from a fresh build'}")
        return 0 if same else 1
    out.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {out} ({len(text.encode('utf-8')):,} bytes, {text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
