"""The TypeScript `namespace functions` rendering and tool_choice effects."""
from __future__ import annotations

import pytest

from refimpl.chat_count import count_prompt_tokens, explain_prompt_tokens
from refimpl.chat_tools import choice_cost, namespace_adjustments, render_functions, render_type

WEATHER = {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
}


def test_forum_example_shape():
    # community.openai.com/t/266573: "type x = (_: { location: string, unit?: "celsius" | "fahrenheit", }) => any;"
    text = render_functions([WEATHER])
    assert text == (
        "namespace functions {\n\n"
        "// Get the current weather in a given location\n"
        "type get_current_weather = (_: {\n"
        "// The city and state, e.g. San Francisco, CA\n"
        "location: string,\n"
        'unit?: "celsius" | "fahrenheit",\n'
        "}) => any;\n\n"
        "} // namespace functions"
    )


NESTED = {
    "name": "f",
    "parameters": {"type": "object", "properties": {
        "outer": {"type": "object", "description": "Outer", "properties": {
            "inner": {"type": "string", "description": "Inner"}}, "required": ["inner"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "ratio": {"type": "number", "enum": [0.5, -1]},
        "opt": {"type": ["string", "null"]},
        "anything": {},
    }},
}


def test_nested_objects_arrays_enums_and_optional_fields_2023_11():
    text = render_functions([NESTED], revision="2023-11")
    assert "// Outer\nouter?: {\n// Inner\ninner: string,\n}," in text
    assert "tags?: string[]," in text and "level?: 1 | 2 | 3," in text
    assert "ratio?: 0.5 | -1," in text and "opt?: string | null," in text and "anything?: any," in text


def test_nested_descriptions_dropped_and_indented_in_2023_06():
    text = render_functions([NESTED], revision="2023-06")
    assert "outer?: {\n  inner: string,\n}," in text and "// Inner" not in text and "// Outer" in text


@pytest.mark.parametrize("schema, expected", [
    ({"type": "array"}, "any[]"),
    ({"type": "object"}, "object"),
    ({"type": "boolean"}, "boolean"),
    ({"oneOf": [{"type": "string"}, {"type": "number"}]}, "string | number"),
    ({"enum": ["a", 1]}, '"a" | 1'),
    ({"type": "string", "const": "x"}, "string"),
    ("not a schema", "any"),
])
def test_render_type(schema, expected):
    assert render_type(schema) == expected


def test_function_without_parameters():
    assert "type ping = () => any;" in render_functions([{"name": "ping", "parameters": {"type": "object", "properties": {}}}])


def test_adjustments():
    fns = [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}]
    assert [d for d, _, _ in namespace_adjustments(fns, revision="2023-06")] == [-1]
    assert [d for d, _, _ in namespace_adjustments(fns, revision="2023-11")] == [-1, -1]
    assert namespace_adjustments(fns, revision="harmony") == []


@pytest.mark.parametrize("choice, param, expected", [
    (None, "tool_choice", (0, None, False)),
    ("auto", "tool_choice", (0, None, False)),
    ("none", "function_call", (1, None, False)),
    ("required", "tool_choice", (0, None, True)),
    ({"name": "f"}, "function_call", (4, "f", False)),
    ({"type": "function", "function": {"name": "f"}}, "tool_choice", (7, "f", False)),
])
def test_choice_cost(choice, param, expected):
    assert choice_cost(choice, param=param) == expected


def _req(**extra):
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": WEATHER}], **extra}


def test_tool_choice_effects_on_the_count():
    auto = count_prompt_tokens(_req())
    assert count_prompt_tokens(_req(tool_choice="auto")) == auto
    assert count_prompt_tokens(_req(tool_choice="none")) == auto + 1
    named = count_prompt_tokens(_req(tool_choice={"type": "function", "function": {"name": "get_current_weather"}}))
    assert named == auto + 7 + 3  # +7 and the name's 3 tokens


def test_tools_join_the_first_system_message():
    with_system = _req(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    b = explain_prompt_tokens(with_system)
    assert b.rendered.startswith("<|im_start|>system<|im_sep|>Be brief.\n\n# Tools\n\n## functions\n\nnamespace")
    alone = explain_prompt_tokens(_req())
    assert alone.rendered.startswith("<|im_start|>system<|im_sep|># Tools")
    # the inserted message: 3 framing tokens (-1 header correction) + the role "system"
    assert alone.by_source["tools"] == 3 - 1 and alone.by_source["tools.role"] == 1
