"""Measure what the audit's content-keyed text cache buys, side by side in one run.

``python -m refimpl.audit_bench [--lines 2000] [--repeat 3]`` writes a synthetic log with the
repetition of a real application (a handful of long system prompts and tool sets shared by
many conversations of 1-4 turns with unique user text), audits it with and without the cache
(`refimpl.audit_cache.TextCache`) in alternation, after a warm-up, and prints the best time of
each and their ratio. Both runs must give the same report; the script checks it.

>>> lines = synthetic_log(20, seed=1)
>>> len(lines), len({json.loads(l)["request"]["messages"][0]["content"] for l in lines}) <= 6
(20, True)
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random
import sys
import tempfile
import time

from . import audit
from .chat_count import count_prompt_tokens

__all__ = ["synthetic_log", "measure", "main"]

_CORPUS = pathlib.Path(__file__).parent / "_data" / "ngram" / "corpus.txt"


def _sentences() -> list[str]:
    text = _CORPUS.read_text(encoding="utf-8").replace("\n", " ")
    return [s.strip() + "." for s in text.split(".") if len(s.strip()) > 20]


def _tool(rng: random.Random, k: int, sentences) -> dict:
    props = {f"field_{j}": {"type": rng.choice(["string", "integer", "boolean"]),
                            "description": rng.choice(sentences)} for j in range(rng.randint(2, 5))}
    return {"type": "function", "function": {
        "name": f"tool_{k}", "description": " ".join(rng.sample(sentences, 2)),
        "parameters": {"type": "object", "properties": props, "required": sorted(props)[:1]}}}


def synthetic_log(lines: int, *, seed: int = 0, prompts: int = 6, tool_sets: int = 3) -> list[str]:
    """`lines` log lines ({"request", "response"}) with shared system prompts and tool sets.

    System prompts are 40-160 sentences (about 1,000-4,000 tokens), tool sets 3-8 functions;
    each conversation has 1-4 user turns of unique text. Each response reports the count
    refimpl predicts, so every line matches.
    """
    rng = random.Random(seed)
    sentences = _sentences()
    systems = [" ".join(rng.choice(sentences) for _ in range(rng.randint(40, 160))) for _ in range(prompts)]
    tools = [[_tool(rng, k, sentences) for k in range(rng.randint(3, 8))] for _ in range(tool_sets)]
    out = []
    for i in range(lines):
        messages = [{"role": "system", "content": rng.choice(systems)}]
        for turn in range(rng.randint(1, 4)):
            if turn:
                messages.append({"role": "assistant", "content": " ".join(rng.sample(sentences, 2))})
            messages.append({"role": "user", "content": f"Ticket {i}-{turn}: " + " ".join(rng.sample(sentences, 2))})
        request = {"model": rng.choice(["gpt-4o", "gpt-4o-mini", "gpt-4.1"]), "messages": messages}
        if rng.random() < 0.6:
            request["tools"] = rng.choice(tools)
        usage = {"prompt_tokens": count_prompt_tokens(request, as_of="2025-06-02")}
        response = {"object": "chat.completion", "created": 1748865600, "usage": usage}
        out.append(json.dumps({"request": request, "response": response}))
    return out


def _run(path, cache: bool) -> tuple[float, list]:
    audit._WORKER_CACHE = None  # a cold cache for every cached run
    start = time.perf_counter()
    records = list(audit.iter_audit(path, cache=cache))
    return time.perf_counter() - start, records


def measure(lines: int = 2000, repeat: int = 3, seed: int = 0) -> dict:
    """Best-of-`repeat` seconds without and with the cache on a synthetic log, and the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "log.jsonl"
        path.write_text("\n".join(synthetic_log(lines, seed=seed)) + "\n", encoding="utf-8")
        _run(path, cache=False)  # warm-up: encodings loaded, the tokenizer's piece cache filled
        plain, cached = [], []
        for _ in range(repeat):
            t, a = _run(path, cache=False)
            plain.append(t)
            t, b = _run(path, cache=True)
            cached.append(t)
            if a != b:
                raise AssertionError("the cache changed the report")
        bytes_ = path.stat().st_size
    statuses = {r["status"] for r in b}
    return {"lines": lines, "log_bytes": bytes_, "statuses": sorted(statuses),
            "seconds_without_cache": min(plain), "seconds_with_cache": min(cached),
            "speedup": min(plain) / min(cached)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m refimpl.audit_bench", description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=2000, help="log lines (default 2000)")
    p.add_argument("--repeat", type=int, default=3, help="alternating runs of each (default 3)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    r = measure(args.lines, args.repeat, args.seed)
    print(f"{r['lines']:,} lines ({r['log_bytes'] / 1e6:.1f} MB), statuses {r['statuses']}")
    print(f"without cache {r['seconds_without_cache']:.3f} s, with cache {r['seconds_with_cache']:.3f} s: "
          f"{r['speedup']:.2f}x faster (best of {args.repeat}, alternating, one process)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
