"""Every validation error: what was wrong, where, what was found, what is allowed, the fix."""
from __future__ import annotations

import pytest

from refimpl.chat_count import count_prompt_tokens
from refimpl.chat_errors import ChatRequestError

USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "f"}}


def req(**kw):
    return {"model": "gpt-4o", "messages": [USER], **kw}


CASES = [
    ("not a dict", r"the request must be a dict at request: found 'not a dict'"),
    ({"model": "gpt-4o"}, r"`messages` is missing at request\.messages: found None; allowed: a non-empty list.*Fix: add `messages`"),
    (req(messages="hi"), r"`messages` must be a list at request\.messages: found 'hi'"),
    (req(messages=[]), r"`messages` is empty at request\.messages: found \[\]"),
    (req(messages=["hi"]), r"a message must be a dict at messages\[0\]: found 'hi'"),
    (req(messages=[USER, {"content": "x"}]), r"a message has no `role` at messages\[1\]\.role: found None; allowed: 'system', 'developer', 'user'"),
    (req(messages=[{"role": "robot", "content": "x"}]), r"unknown role at messages\[0\]\.role: found 'robot'"),
    (req(messages=[{"role": "user", "content": 42}]), r"`content` has the wrong type at messages\[0\]\.content: found 'int'; allowed: a string or a list of content parts"),
    (req(messages=[{"role": "user"}]), r"`content` is missing at messages\[0\]\.content: found None"),
    (req(messages=[{"role": "user", "content": [{"type": "input_audio"}]}]), r"unsupported content part at messages\[0\]\.content\[0\]\.type: found 'input_audio'; allowed: 'text' or 'image_url'"),
    (req(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]), r"a text part needs a string `text` at messages\[0\]\.content\[0\]\.text: found 3"),
    (req(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]), r"an image part needs `image_url\.url` at messages\[0\]\.content\[0\]\.image_url: found 'x'"),
    (req(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}]}]), r"unknown image detail at messages\[0\]\.content\[0\]\.image_url\.detail: found 'max'"),
    (req(messages=[{"role": "user", "content": "x", "name": 5}]), r"`name` must be a string at messages\[0\]\.name: found 5"),
    (req(messages=[{"role": "function", "content": "{}"}]), r"a function message needs `name` at messages\[0\]\.name: found None"),
    (req(messages=[{"role": "tool", "content": "{}"}]), r"a tool message needs `tool_call_id` at messages\[0\]\.tool_call_id: found None"),
    (req(messages=[{"role": "user", "content": "x", "tool_calls": []}]), r"`tool_calls` belongs to assistant messages as a list at messages\[0\]\.tool_calls"),
    (req(messages=[{"role": "assistant", "content": None, "tool_calls": [{"function": {}}]}]), r"a tool call needs `function\.name` at messages\[0\]\.tool_calls\[0\]\.function\.name"),
    (req(messages=[{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}]), r"tool call `arguments` must be a JSON string at messages\[0\]\.tool_calls\[0\]\.function\.arguments: found 'dict'"),
    (req(tools="f"), r"`tools` must be a list at tools: found 'f'"),
    (req(tools=[{"type": "function", "function": {"description": "no name"}}]), r"a tool has no name at tools\[0\]\.function\.name: found None; allowed: a non-empty string. Fix: give every function a `name`"),
    (req(functions=[{"name": ""}]), r"a tool has no name at functions\[0\]\.name: found ''"),
    (req(tools=[{"type": "file_search"}]), r"only function tools can be counted at tools\[0\]\.type: found 'file_search'"),
    (req(tools=[{"type": "function", "function": {"name": "f", "parameters": "x"}}]), r"`parameters` must be a JSON schema object at tools\[0\]\.parameters"),
    (req(tools=[TOOL], tool_choice="always"), r"unknown `tool_choice` at tool_choice: found 'always'; allowed: 'none', 'auto', 'required' or a named function"),
    (req(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "g"}}), r"`tool_choice` names a function that is not defined at tool_choice: found 'g'; allowed: f"),
    (req(functions=[{"name": "f"}], function_call="required"), r"unknown `function_call` at function_call: found 'required'"),
    (req(parallel_tool_calls="yes"), r"`parallel_tool_calls` must be a bool at parallel_tool_calls: found 'yes'"),
    (req(response_format={"type": "xml"}), r"unknown `response_format` at response_format: found 'dict'"),
]


@pytest.mark.parametrize("request_body, pattern", CASES, ids=[str(i) for i in range(len(CASES))])
def test_error_messages(request_body, pattern):
    with pytest.raises(ChatRequestError, match=pattern):
        count_prompt_tokens(request_body)


def test_errors_are_value_errors_with_fields():
    with pytest.raises(ValueError) as info:
        count_prompt_tokens(req(messages=[{"role": "robot", "content": "x"}]))
    assert (info.value.where, info.value.found) == ("messages[0].role", "robot")


def test_valid_shapes_pass():
    ok = req(messages=[
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "{}"},
    ], functions=[{"name": "f"}], function_call={"name": "f"}, response_format={"type": "json_object"},
        parallel_tool_calls=False)
    assert count_prompt_tokens(ok) > 0
