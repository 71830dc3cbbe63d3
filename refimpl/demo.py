"""Sections of ``refimpl demo`` beyond the tokenizer: chat counting, generation, the audit.

Each section is a function ``(out, colour) -> None`` that `refimpl.cli.DEMO_SECTIONS` lists.
"""
from __future__ import annotations

import time

__all__ = ["JARGON", "JARGON_ROWS", "demo_chat_counts", "demo_completion", "demo_audit"]

#: The guide's corporate-jargon conversation ("counting chat tokens"), as the cookbook sends it.
JARGON = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]

#: (model, as_of, usage.prompt_tokens the API reported that day or None): the cookbook's runs
#: of How_to_count_tokens_with_tiktoken.ipynb (tests/data/chat_prompt_tokens.json).
JARGON_ROWS = [
    ("gpt-3.5-turbo-0301", "2023-03-02", 126),
    ("gpt-3.5-turbo-0301", "2023-03-24", 127),
    ("gpt-4-0314", "2023-03-20", 128),
    ("gpt-3.5-turbo", "2023-06-23", 127),
    ("gpt-3.5-turbo", "2023-09-27", 129),
    ("gpt-4", None, 129),
    ("gpt-4o", None, 124),
    ("gpt-4o-mini", None, 124),
    ("gpt-4.1", None, None),
    ("o3", None, None),
    ("gpt-5", None, None),
    ("gpt-oss-120b", None, None),
]


def demo_chat_counts(out, colour: bool) -> None:
    from .chat_count import explain_prompt_tokens

    out("\n4. The guide's corporate-jargon conversation: usage.prompt_tokens per model and day\n")
    out("   (6 messages, 4 with a name; the guide prints ~126 for the 0301-era rules)\n\n")
    out(f"   {'model':<20} {'as of':<11} {'snapshot':<26} {'encoding':<14} {'refimpl':>7}  API reported\n")
    for model, day, reported in JARGON_ROWS:
        b = explain_prompt_tokens({"model": model, "messages": JARGON}, as_of=day)
        seen = f"{reported} (cookbook)" if reported is not None else ("none (estimate)" if b.estimate else "none")
        out(f"   {model:<20} {day or 'today':<11} {b.snapshot:<26} {b.encoding:<14} {b.total:>7}  {seen}\n")
    out("   why they differ: 0301 frames a message with 4 tokens and a name replaces the role; later\n"
        "   models use 3 and add 1 for a name; o200k spells the text in fewer tokens; gpt-oss speaks harmony.\n"
        "   `refimpl render` shows each token: refimpl render request.json\n")


def demo_completion(out, colour: bool) -> None:
    from .generation import create_chat_completion

    request = {"model": "gpt-4o", "seed": 7, "max_tokens": 24, "temperature": 0.8,
               "messages": JARGON[:1] + [{"role": "user", "content": "Tell me about the sea."}]}
    first = create_chat_completion(request)
    again = create_chat_completion(request)
    other = create_chat_completion(dict(request, seed=8))
    msg = first["choices"][0]["message"]["content"]
    out("\n5. A seeded completion from the bundled n-gram model (the API's loop: logits -> penalties ->\n"
        "   temperature -> top_p -> a draw fixed by (seed, choice, position))\n")
    out(f"   seed 7: {msg!r}\n")
    out(f"   usage {first['usage']}, finish_reason {first['choices'][0]['finish_reason']!r}, "
        f"system_fingerprint {first['system_fingerprint']!r}\n")
    same = again["choices"][0]["message"]["content"] == msg
    differs = other["choices"][0]["message"]["content"] != msg
    out(f"   seed 7 again: identical = {same}; seed 8: different = {differs}\n")


def demo_audit(out, colour: bool) -> None:
    from .audit import iter_audit
    from .audit import AuditSummary
    from .sample_log import SAMPLE_LOG

    out("\n6. An audit of the bundled sample log: real requests from public sources, each with the\n"
        "   usage.prompt_tokens the API reported, and six deliberate mistakes\n")
    start = time.perf_counter()
    summary, odd = AuditSummary(), []
    for rec in iter_audit(SAMPLE_LOG):
        summary.add(rec)
        if rec["status"] != "match":
            odd.append(rec)
    seconds = time.perf_counter() - start
    for line in summary.format().splitlines():
        out(f"   {line}\n")
    out(f"   ({seconds:.2f} s) the records that did not match:\n")
    for rec in odd:
        if rec["status"] == "mismatch":
            out(f"   line {rec['line']:>3}: mismatch, predicted {rec['predicted_prompt_tokens']} vs billed "
                f"{rec['reported_prompt_tokens']} ({rec['model']}, {rec['as_of']})\n")
        else:
            message = rec["error"] if len(rec["error"]) <= 84 else rec["error"][:81] + "..."
            out(f"   line {rec['line']:>3}: {rec['error_type']}: {message}\n")
    out("   the full report: refimpl audit --demo -o report.jsonl   (your log: refimpl audit LOG.jsonl -o report.jsonl)\n")
