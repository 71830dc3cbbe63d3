"""Tool and function definitions as the model sees them: a TypeScript ``namespace functions``.

The API does not show the model your JSON schemas. It rewrites them into TypeScript type
declarations and appends them to the first system message (or inserts a system message):

    You are a bot.                                   <- your system message, if any

    # Tools

    ## functions

    namespace functions {

    // Get the current weather in a given location   <- function description
    type get_current_weather = (_: {
    // The city and state, e.g. San Francisco, CA     <- property description
    location: string,
    unit?: "celsius" | "fahrenheit",                  <- optional: `?`; string enum: a union
    }) => any;

    } // namespace functions

Sources: the shape was revealed on the OpenAI forum ("How to calculate the tokens when using
function call", June 2023, community.openai.com/t/266573) and fitted to live API counts by
hmarr/openai-chat-tokens (2023); OpenAI's harmony guide for gpt-oss publishes the same
``# Tools / ## functions / namespace functions`` layout. What we fitted ourselves is in
`REVISIONS` and in `namespace_adjustments` (each an estimate with its evidence).

>>> print(render_functions([{"name": "ping", "description": "Ping a host"}], revision="2023-11"))
namespace functions {
<BLANKLINE>
// Ping a host
type ping = () => any;
<BLANKLINE>
} // namespace functions
"""
from __future__ import annotations

import json

__all__ = ["REVISIONS", "TOOLS_HEADER", "render_functions", "render_type",
           "namespace_adjustments", "choice_cost"]

TOOLS_HEADER = "# Tools\n\n## functions\n\n"

# What changed between renderings, as measured (cl100k, live API counts):
# * "2023-06" (gpt-3.5-turbo-0613, hmarr tests Jul-Sep 2023): descriptions of nested properties
#   are dropped (hmarr-34/35 match only without them); nested objects are indented 2 spaces.
# * "2023-11" (gpt-4-turbo-preview Mar 2024, gpt-35-turbo May 2024): nested descriptions are
#   kept and nested lines are not indented (pamelafox inner_object_* cases: -1/-1/-3/-3 against
#   the indented form, exactly the indentation tokens).
REVISIONS = {
    "2023-06": dict(nested_descriptions=False, nested_indent=2, last_plain_discount=False),
    "2023-11": dict(nested_descriptions=True, nested_indent=0, last_plain_discount=True),
    "harmony": dict(nested_descriptions=True, nested_indent=0, last_plain_discount=False),
}

# tool_choice / function_call effects in tokens, measured: "none" +1 (hmarr-12, pamelafox
# search_sources_toolchoice_none); a named legacy function_call +4 + name (hmarr-14, -32); a
# named tool_choice +7 + name (pamelafox *_tool_choice_name, three cases). "auto" is the default
# and costs 0. "required" has no public measurement: counted like "auto", flagged estimate.
_CHOICE = {"none": (1, False), "auto": (0, False), "required": (0, True)}
_NAMED_EXTRA = {"function_call": 4, "tool_choice": 7}


def _comment(text: str, indent: str) -> list[str]:
    # Multi-line descriptions: every line becomes its own comment line (an estimate for
    # ChatML; harmony's renderer does the same).
    return [f"{indent}// {line}" for line in str(text).split("\n")]


def render_type(schema: dict, *, revision: str = "2023-11", depth: int = 0) -> str:
    """One JSON-schema type as TypeScript: ``string``, ``"a" | "b"``, ``1 | 2``, ``T[]``, ``{...}``.

    `const` is ignored (the type is used): hmarr-24..27 (anyOf of objects with a const `kind`)
    match only that way. `integer` prints as ``number``.

    >>> render_type({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}})
    '"a" | "b"[]'
    >>> render_type({"anyOf": [{"type": "string", "const": "a"}, {"type": "number"}]})
    'string | number'
    """
    if not isinstance(schema, dict):
        return "any"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return " | ".join(render_type(s, revision=revision, depth=depth) for s in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(render_type(dict(schema, type=k), revision=revision, depth=depth) for k in kind)
    enum = schema.get("enum")
    if isinstance(enum, list) and kind in ("string", "number", "integer", None):
        return " | ".join(json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)
                          for v in enum)
    if kind == "string":
        return "string"
    if kind in ("number", "integer"):
        return "number"
    if kind in ("boolean", "null"):
        return kind
    if kind == "array":
        items = schema.get("items")
        return render_type(items, revision=revision, depth=depth) + "[]" if items else "any[]"
    if kind == "object" and isinstance(schema.get("properties"), dict):
        body = _properties(schema, revision=revision, depth=depth + 1)
        return "{\n" + "\n".join(body) + "\n}"
    if kind == "object":
        return "object"
    return "any"


def _properties(schema: dict, *, revision: str, depth: int) -> list[str]:
    rev = REVISIONS[revision]
    indent = " " * (rev["nested_indent"] * depth)
    required = schema.get("required") or []
    lines: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        prop = prop if isinstance(prop, dict) else {}
        if prop.get("description") and (depth == 0 or rev["nested_descriptions"]):
            lines += _comment(prop["description"], indent)
        mark = "" if name in required else "?"
        line = f"{indent}{name}{mark}: {render_type(prop, revision=revision, depth=depth)},"
        if revision == "harmony" and "default" in prop:
            line += f" // default: {prop['default']}"
        lines.append(line)
    return lines


def render_functions(functions: list[dict], *, revision: str = "2023-11") -> str:
    """The ``namespace functions { ... }`` block for a list of function definitions
    (``{"name", "description"?, "parameters"?}``, as in ``tools[i]["function"]``).

    >>> print(render_functions([{"name": "f", "parameters": {"type": "object",
    ...     "properties": {"x": {"type": "integer"}}, "required": ["x"]}}]))
    namespace functions {
    <BLANKLINE>
    type f = (_: {
    x: number,
    }) => any;
    <BLANKLINE>
    } // namespace functions
    """
    lines = ["namespace functions {", ""]
    for fn in functions:
        if fn.get("description"):
            lines += _comment(fn["description"], "")
        params = fn.get("parameters") or {}
        if isinstance(params.get("properties"), dict) and params["properties"]:
            lines.append(f"type {fn['name']} = (_: {{")
            lines += _properties(params, revision=revision, depth=0)
            lines.append("}) => any;")
        else:
            lines.append(f"type {fn['name']} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _plain_last(schema: dict) -> int:
    """How many objects (this one and nested ones) end with a property that has no description
    and is not a string enum."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict) or not props:
        return 0
    count = 0
    for prop in props.values():
        if isinstance(prop, dict):
            count += _plain_last(prop) + (_plain_last(prop["items"]) if isinstance(prop.get("items"), dict) else 0)
    last = list(props.values())[-1]
    last = last if isinstance(last, dict) else {}
    string_enum = last.get("type") == "string" and isinstance(last.get("enum"), list)
    if not last.get("description") and not string_enum:
        count += 1
    return count


def namespace_adjustments(functions: list[dict], *, revision: str) -> list[tuple[int, str, bool]]:
    """Token corrections between the rendered text and the API's count:
    ``[(delta, why, is_estimate), ...]``. The exact text behind them is not public:

    * ChatML header (measured, not an estimate): the block costs one token less than
      ``# Tools\\n\\n## functions\\n\\n`` + namespace encodes to (all 40 cl100k/o200k
      measurements with tools, 2023-2024, with or without a system message).
    * "2023-11" (an estimate: the mechanism is unknown): an object whose last property has no
      description and is not a string enum costs one token less (pamelafox no_parameter_description*, integer_enum*, inner_object;
      chrisdinn two-tools); string-enum and described last properties do not (chrisdinn
      one-tool, pamelafox inner_object_with_enum_only, the cookbook).

    >>> namespace_adjustments([{"name": "f"}], revision="2023-11")[0][0]
    -1
    """
    if revision == "harmony":
        return []
    out = [(-1, "tools block: one token less than its text (measured; header text not public)", False)]
    if REVISIONS[revision]["last_plain_discount"]:
        n = sum(_plain_last(fn.get("parameters") or {}) for fn in functions)
        if n:
            out.append((-n, f"{n} object(s) ending in an undescribed, non-enum property: "
                            "-1 each (fitted to 6 measurements, 2024)", True))
    return out


def choice_cost(choice, *, param: str) -> tuple[int, str | None, bool]:
    """Extra tokens for ``tool_choice`` (param="tool_choice") or legacy ``function_call``:
    returns ``(fixed_tokens, forced_function_name_or_None, is_estimate)``; a forced name also
    costs its own tokens.

    >>> choice_cost("none", param="tool_choice")
    (1, None, False)
    >>> choice_cost({"type": "function", "function": {"name": "f"}}, param="tool_choice")
    (7, 'f', False)
    """
    if choice is None:
        return 0, None, False
    if isinstance(choice, str):
        fixed, estimate = _CHOICE[choice]
        return fixed, None, estimate
    name = choice.get("name") if param == "function_call" else (choice.get("function") or {}).get("name")
    return _NAMED_EXTRA[param], name, False
