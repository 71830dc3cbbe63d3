"""Malformed requests only ever raise the documented errors (never a traceback from inside)."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

import refimpl
from refimpl import ChatRequestError, ImageSizeError, UnknownModelError
from refimpl.audit import audit_line

KEYS = ["role", "content", "name", "type", "text", "image_url", "url", "detail", "tool_calls", "function",
        "arguments", "id", "tool_call_id", "parameters", "properties", "description", "required", "enum",
        "items", "request", "response", "model", "messages", "usage", "prompt_tokens", "created"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12,
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "function", "developer", "robot", 5])},
    optional={k: JSON for k in ("content", "name", "tool_calls", "function_call", "tool_call_id")},
)
REQUEST = st.fixed_dictionaries(
    {"model": st.sampled_from(["gpt-4o", "gpt-3.5-turbo-0301", "gpt-oss-120b", "gpt-4", 7, None]),
     "messages": st.one_of(st.lists(MESSAGE, max_size=3), JSON)},
    optional={k: JSON for k in ("tools", "tool_choice", "functions", "function_call")},
)


@given(REQUEST)
def test_count_prompt_tokens_raises_only_documented_errors(request):
    try:
        n = refimpl.count_prompt_tokens(request)
    except (ChatRequestError, UnknownModelError, ImageSizeError):
        return
    assert isinstance(n, int) and n > 0


@given(st.one_of(JSON.map(json.dumps), st.text(max_size=30)))
def test_audit_line_always_returns_a_record(line):
    record = audit_line(line, 1)
    assert record["line"] == 1 and record["status"] in ("match", "mismatch", "error")
    assert record["error_type"] != "internal_error", record
