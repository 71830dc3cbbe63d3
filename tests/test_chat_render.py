"""The rendered prompt and the count are the same thing: their lengths must agree everywhere."""
from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given, strategies as st

from refimpl.chat_count import count_prompt_tokens, explain_prompt_tokens
from refimpl.chat_render import render_pieces, render_prompt
from refimpl.chat_rules import resolve_rules
from refimpl.registry import get_encoding

DATA = pathlib.Path(__file__).parent / "data"
ROWS = [e for e in json.loads((DATA / "chat_prompt_tokens.json").read_text(encoding="utf-8"))
        if e.get("messages")]
KEYS = ("messages", "tools", "tool_choice", "functions", "function_call")


def _request(e):
    return {**{k: e[k] for k in KEYS if k in e}, "model": e["model"].split("/")[0].split(" ")[0]}


@pytest.mark.parametrize("entry", ROWS, ids=lambda e: e["id"])
def test_rendered_length_equals_count(entry):
    req = _request(entry)
    b = explain_prompt_tokens(req)
    assert sum(p.tokens for p in b.pieces) == b.total == count_prompt_tokens(req)
    for p in b.pieces:  # text pieces really encode to their token count
        if p.kind == "text" and p.ids is not None:
            assert len(p.ids) == p.tokens
        if p.kind == "special":
            assert p.tokens == 1


def test_chatml_layouts():
    msgs = [{"role": "system", "name": "example_user", "content": "Hi"}]
    new = render_prompt({"model": "gpt-4", "messages": msgs}, resolve_rules("gpt-4"))
    assert new == "<|im_start|>system<|im_sep|>Hi<|im_end|><|im_start|>assistant<|im_sep|>".replace(
        "system<|im_sep|>", "systemexample_user<|im_sep|>")
    old = render_prompt({"model": "gpt-3.5-turbo-0301", "messages": msgs},
                        resolve_rules("gpt-3.5-turbo-0301", as_of="2023-03-02"))
    assert old == "<|im_start|>example_user\nHi<|im_end|>\n<|im_start|>assistant"


def test_harmony_uses_o200k_harmony_special_tokens():
    req = {"model": "gpt-oss-20b", "messages": [
        {"role": "system", "content": "Answer in riddles."},
        {"role": "user", "content": "Weather in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 20}'}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Gets the weather.",
                                                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]}
    rules = resolve_rules("gpt-oss-20b")
    pieces = render_pieces(req, rules, as_of="2025-08-05")
    text = "".join(p.text for p in pieces)
    assert "<|start|>developer<|message|># Instructions\n\nAnswer in riddles.\n\n# Tools\n\n## functions" in text
    assert "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>" in text
    assert "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>" in text
    assert text.endswith("<|start|>assistant")
    enc = get_encoding("o200k_harmony")
    ids = [i for p in pieces for i in (p.ids or ())]
    assert len(ids) == sum(p.tokens for p in pieces) == count_prompt_tokens(req, as_of="2025-08-05")
    # the rendered text re-encodes to the same number of tokens with the special tokens allowed
    assert len(enc.encode(text, allowed_special="all")) <= len(ids) + 5
    assert enc.decode(ids) == text


@given(st.lists(st.tuples(st.sampled_from(["user", "assistant", "system"]),
                          st.text(alphabet="ab .,\n\u00e9", max_size=20)), min_size=1, max_size=4))
def test_pieces_sum_to_the_count(turns):
    req = {"model": "gpt-4o", "messages": [{"role": r, "content": c} for r, c in turns]}
    b = explain_prompt_tokens(req)
    enc = get_encoding("o200k_base")
    content = sum(len(enc.encode_ordinary(c)) for _, c in turns)
    assert b.total == content + 4 * len(turns) + 3  # 3 framing + 1 role token each, + priming


def test_adding_a_message_costs_at_least_its_framing():
    base = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    more = {"model": "gpt-4o", "messages": base["messages"] + [{"role": "assistant", "content": "x"}]}
    assert count_prompt_tokens(more) - count_prompt_tokens(base) >= 4


def test_content_and_tool_calls_render_as_two_messages():
    req = {"model": "gpt-4-turbo", "messages": [
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}
    text = explain_prompt_tokens(req).rendered
    assert text.count("<|im_start|>assistant") == 3  # content message, call message, reply priming


def test_unparsable_arguments_and_unknown_tool_call_ids_still_count():
    calls = [{"id": str(k), "type": "function", "function": {"name": "f", "arguments": "{not json"}} for k in range(2)]
    req = {"model": "gpt-4o", "messages": [{"role": "assistant", "content": None, "tool_calls": calls},
                                           {"role": "tool", "tool_call_id": "missing", "content": "ok"}]}
    b = explain_prompt_tokens(req)
    assert b.total == sum(p.tokens for p in b.pieces) and b.estimate
    assert "<|im_start|>tool<|im_sep|>ok" in b.rendered  # unknown call id: framed by the role
