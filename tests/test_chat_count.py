"""Known-answer tests for chat prompt token counting against live-API measurements.

Data: tests/data/chat_prompt_tokens.json (copied from the shared vectors; 113 entries) and
tests/data/chat_extra_measurements.json (18 more public API measurements from the same
sources' test files). Every `verified_against_api: true` entry must match exactly, at the date
its source recorded. The non-verified entries (the computed gpt-4o rows and OpenAI's documented
image examples) match as well; nothing is marked xfail.
"""
from __future__ import annotations

import json
import pathlib
import re

import pytest

from refimpl.chat_count import (count_completion_tokens, count_prompt_tokens, explain_prompt_tokens,
                                num_tokens_from_messages, usage_for_response)
from refimpl.chat_images import patch_image_patches, tile_image_tokens
from refimpl.chat_rules import resolve_rules

DATA = pathlib.Path(__file__).parent / "data"
VECTORS = json.loads((DATA / "chat_prompt_tokens.json").read_text(encoding="utf-8"))
EXTRA = json.loads((DATA / "chat_extra_measurements.json").read_text(encoding="utf-8"))["entries"]
REQUEST_KEYS = ("messages", "tools", "tool_choice", "functions", "function_call")


def model_of(entry: dict) -> str:
    # Rows whose source did not record the exact model name the family, e.g.
    # "gpt-3.5-turbo/gpt-4 (cl100k; env OPENAI_MODEL)": all cl100k models with the 3-per-message
    # rules (vectors README). The first name stands for the family.
    return entry["model"].split("/")[0].split(" ")[0]


def date_of(entry: dict) -> str | None:
    """The day the source recorded the count: explicit `as_of`, else the last date in `source`,
    else the first date in `note` (e.g. "count added 2024-04-21..26")."""
    if entry.get("as_of"):
        return entry["as_of"]
    dates = re.findall(r"\d{4}-\d\d-\d\d", entry["source"])
    if dates:
        return dates[-1]
    dates = re.findall(r"\d{4}-\d\d-\d\d", entry.get("note", ""))
    return dates[0] if dates else None


def request_of(entry: dict) -> dict:
    req = {k: entry[k] for k in REQUEST_KEYS if k in entry}
    req["model"] = model_of(entry)
    return req


PROMPT_ROWS = [e for e in VECTORS + EXTRA if e.get("kind") != "image_tokens_only"]
IMAGE_ROWS = [e for e in VECTORS if e.get("kind") == "image_tokens_only"]


def test_vector_file_is_complete():
    assert len(VECTORS) == 113
    assert sum(e["verified_against_api"] for e in VECTORS) == 95


@pytest.mark.parametrize("entry", [e for e in PROMPT_ROWS if e["verified_against_api"]], ids=lambda e: e["id"])
def test_verified_entries_match_exactly(entry):
    assert count_prompt_tokens(request_of(entry), as_of=date_of(entry)) == entry["expected_prompt_tokens"]


@pytest.mark.parametrize("entry", [e for e in PROMPT_ROWS if not e["verified_against_api"]], ids=lambda e: e["id"])
def test_unverified_entries_match(entry):
    # The 16 gpt-4o rows were computed by the source (pamelafox count_omni), not asserted
    # against the API; our o200k rules reproduce every one of them.
    assert count_prompt_tokens(request_of(entry), as_of=date_of(entry)) == entry["expected_prompt_tokens"]


@pytest.mark.parametrize("entry", IMAGE_ROWS, ids=lambda e: e["id"])
def test_documented_image_examples(entry):
    image = entry["image"]
    if "before multiplier" in entry["model"]:
        assert patch_image_patches(image["width"], image["height"]) == entry["expected_image_tokens"]
    else:
        rules = resolve_rules(entry["model"]).image
        got = tile_image_tokens(image["width"], image["height"], image["detail"], base=rules.base, tile=rules.tile)
        assert got == entry["expected_image_tokens"]


JARGON = next(e for e in VECTORS if e["id"] == "cookbook-msgs-gpt-3.5-turbo-0301-2023-03-02")["messages"]


@pytest.mark.parametrize("model, as_of, expected", [
    ("gpt-3.5-turbo-0301", "2023-03-02", 126),  # 4 per message, -1 name, +2 priming
    ("gpt-3.5-turbo-0301", "2023-03-24", 127),  # priming became 3
    ("gpt-3.5-turbo", "2023-06-23", 127),       # alias still on 0301
    ("gpt-3.5-turbo", "2023-09-27", 129),       # alias on 0613: 3 per message, +1 name
    ("gpt-4-0314", "2023-03-20", 128),
    ("gpt-4", None, 129),
    ("gpt-4o", None, 124),                      # o200k
    ("gpt-4o-mini", None, 124),
])
def test_cookbook_jargon_example_under_dated_rules(model, as_of, expected):
    assert num_tokens_from_messages(JARGON, model, as_of=as_of) == expected


def test_guide_example_in_the_guide_text():
    # The guide (../shared/guide, Chinese translation of OpenAI's text-generation guide) shows the
    # same six messages; check the copy we use is the same conversation.
    assert JARGON[0]["content"].startswith("You are a helpful, pattern-following assistant")
    assert len(JARGON) == 6 and sum("name" in m for m in JARGON) == 4


def test_breakdown_sums_and_sources():
    entry = next(e for e in VECTORS if e["id"] == "cookbook-tools-gpt-4o-2024-10-08")
    b = explain_prompt_tokens(request_of(entry))
    assert b.total == entry["expected_prompt_tokens"] == sum(b.by_source.values())
    assert b.by_source["tools[0]"] > 0 and b.by_source["reply priming"] == 3
    assert "namespace functions {" in b.rendered and b.snapshot == "gpt-4o-2024-08-06"
    assert not b.estimate  # every piece of this request is measured


def test_estimates_are_flagged():
    req = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}],
           "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}
    b = explain_prompt_tokens(req)
    assert b.estimate
    assert any("tool_choice=required" in n for n in b.notes)
    assert any("message framing" in n for n in b.notes)


def test_image_sizes_for_remote_urls():
    req = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}}]}]}
    got = count_prompt_tokens(req, image_sizes={"https://example.com/a.png": (1024, 1024)})
    assert got == 3 + 1 + 765 + 3


def test_completion_tokens_and_usage():
    response = {"choices": [{"message": {"role": "assistant", "content": "Things working well together."}},
                            {"message": {"role": "assistant", "content": "Hello"}}]}
    assert count_completion_tokens(response, "gpt-4o") == count_completion_tokens(response["choices"], "gpt-4o") == 6
    usage = usage_for_response({"model": "gpt-4o", "messages": JARGON}, response)
    assert usage == {"prompt_tokens": 124, "completion_tokens": 6, "total_tokens": 130}


def test_tool_call_completion_is_counted():
    call = {"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}
    assert count_completion_tokens([call], "gpt-4o") > 3
