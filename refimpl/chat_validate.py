"""Check a Chat Completions request body before counting: every problem names where it is.

Errors are `ChatRequestError` (a ValueError) whose message says what was wrong, where
(``messages[2].content``), what was found, what is allowed and how to fix it.

>>> validate_request({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
>>> validate_request({"model": "gpt-4o", "messages": [{"content": "hi"}]})
Traceback (most recent call last):
...
refimpl.chat_errors.ChatRequestError: a message has no `role` at messages[0].role: found None; allowed: 'system', 'developer', 'user', 'assistant', 'tool', 'function'. Fix: add a role to the message.
"""
from __future__ import annotations

from .chat_errors import ChatRequestError

__all__ = ["ROLES", "validate_request"]

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_ROLES_TXT = ", ".join(repr(r) for r in ROLES)
_PART_TYPES = ("text", "image_url")
_DETAILS = ("low", "high", "auto")


def _err(what, where, found, allowed, fix):
    raise ChatRequestError(what, where=where, found=found, allowed=allowed, fix=fix)


def _short(value):
    return value if not isinstance(value, (dict, list)) else type(value).__name__


def _content(content, where: str, role: str) -> None:
    if content is None:
        if role in ("assistant", "function"):
            return
        _err("`content` is missing", where, None, "a string or a list of content parts",
             "set `content` (null is allowed only for assistant messages)")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        _err("`content` has the wrong type", where, type(content).__name__,
             "a string or a list of content parts", "send text as a string, or as [{'type': 'text', 'text': ...}]")
    for j, part in enumerate(content):
        here = f"{where}[{j}]"
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
            found = part.get("type") if isinstance(part, dict) else _short(part)
            _err("unsupported content part", here + ".type", found,
                 "'text' or 'image_url'", "count audio/file parts separately; they have no public token rule")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            _err("a text part needs a string `text`", here + ".text", _short(part.get("text")), "a string",
                 "set part['text']")
        if part["type"] == "image_url":
            image = part.get("image_url")
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                _err("an image part needs `image_url.url`", here + ".image_url", _short(image),
                     "{'url': 'data:image/png;base64,...' or 'https://...', 'detail': 'auto'}", "set image_url.url")
            if image.get("detail") not in (None,) + _DETAILS:
                _err("unknown image detail", here + ".image_url.detail", image.get("detail"),
                     "'low', 'high' or 'auto'", "use one of the allowed values")


def _call(call, where: str) -> None:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        _err("a tool call needs `function.name`", where + ".function.name", _short(fn),
             "{'name': str, 'arguments': str}", "copy tool_calls from the API response unchanged")
    if not isinstance(fn.get("arguments", ""), str):
        _err("tool call `arguments` must be a JSON string", where + ".function.arguments",
             _short(fn.get("arguments")), "a string such as '{\"x\": 1}'", "json.dumps the arguments")


def _message(m, i: int) -> None:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        _err("a message must be a dict", where, _short(m), "{'role': ..., 'content': ...}",
             "wrap the text in a message dict")
    role = m.get("role")
    if role is None:
        _err("a message has no `role`", where + ".role", None, _ROLES_TXT, "add a role to the message")
    if role not in ROLES:
        _err("unknown role", where + ".role", role, _ROLES_TXT, "use one of the allowed roles")
    if "name" in m and not isinstance(m["name"], str):
        _err("`name` must be a string", where + ".name", _short(m["name"]), "a string",
             "set name to a string or drop it")
    if role == "function" and not isinstance(m.get("name"), str):
        _err("a function message needs `name`", where + ".name", m.get("name"), "the function's name", "set name")
    has_call = bool(m.get("tool_calls") or m.get("function_call"))
    _content(m.get("content"), where + ".content", "assistant" if has_call else role)
    if role == "tool" and not isinstance(m.get("tool_call_id"), str):
        _err("a tool message needs `tool_call_id`", where + ".tool_call_id", m.get("tool_call_id"),
             "the id of an earlier assistant tool call", "set tool_call_id")
    calls = m.get("tool_calls")
    if calls is not None:
        if role != "assistant" or not isinstance(calls, list):
            _err("`tool_calls` belongs to assistant messages as a list", where + ".tool_calls", _short(calls),
                 "a list on an assistant message", "move or fix tool_calls")
        for k, c in enumerate(calls):
            _call(c, f"{where}.tool_calls[{k}]")
    if m.get("function_call") is not None:
        _call({"function": m["function_call"]}, where + ".function_call")


def _definitions(request: dict) -> list[str]:
    names = []
    for key in ("tools", "functions"):
        items = request.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            _err(f"`{key}` must be a list", key, _short(items), "a list of definitions", f"wrap {key} in a list")
        for k, item in enumerate(items):
            fn = item.get("function") if key == "tools" and isinstance(item, dict) else item
            if key == "tools" and (not isinstance(item, dict) or item.get("type", "function") != "function"):
                _err("only function tools can be counted", f"tools[{k}].type",
                     item.get("type") if isinstance(item, dict) else _short(item), "'function'",
                     "count built-in tools separately; their prompt text is not public")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                where = f"tools[{k}].function.name" if key == "tools" else f"functions[{k}].name"
                _err("a tool has no name", where, _short(fn.get("name") if isinstance(fn, dict) else fn),
                     "a non-empty string", "give every function a `name`")
            if fn.get("parameters") is not None and not isinstance(fn["parameters"], dict):
                _err("`parameters` must be a JSON schema object", f"{key}[{k}].parameters",
                     _short(fn["parameters"]), "a dict like {'type': 'object', 'properties': {...}}", "fix the schema")
            names.append(fn["name"])
    return names


def _choice(request: dict, names: list[str]) -> None:
    for key, named in (("tool_choice", lambda c: (c.get("function") or {}).get("name")),
                       ("function_call", lambda c: c.get("name"))):
        choice = request.get(key)
        if choice is None:
            continue
        allowed = ("none", "auto", "required") if key == "tool_choice" else ("none", "auto")
        if isinstance(choice, str) and choice in allowed:
            continue
        name = named(choice) if isinstance(choice, dict) else None
        if name is None:
            _err(f"unknown `{key}`", key, _short(choice), ", ".join(repr(a) for a in allowed) + " or a named function",
                 "use an allowed value")
        if name not in names:
            _err(f"`{key}` names a function that is not defined", key, name, ", ".join(names) or "(no tools)",
                 "define the function in tools/functions or fix the name")


def validate_request(request) -> None:
    """Raise `ChatRequestError` for the first problem in `request`; return None if it is fine.

    >>> validate_request({"model": "gpt-4o", "messages": []})
    Traceback (most recent call last):
    ...
    refimpl.chat_errors.ChatRequestError: `messages` is empty at request.messages: found []; allowed: a non-empty list of message dicts. Fix: add at least one message.
    """
    if not isinstance(request, dict):
        _err("the request must be a dict", "request", _short(request), "a Chat Completions body",
             "pass the JSON body as a dict")
    if "messages" not in request:
        _err("`messages` is missing", "request.messages", None, "a non-empty list of message dicts",
             "add `messages`")
    messages = request["messages"]
    if not isinstance(messages, list):
        _err("`messages` must be a list", "request.messages", _short(messages), "a non-empty list of message dicts",
             "wrap the messages in a list")
    if not messages:
        _err("`messages` is empty", "request.messages", [], "a non-empty list of message dicts",
             "add at least one message")
    for i, m in enumerate(messages):
        _message(m, i)
    _choice(request, _definitions(request))
    if "parallel_tool_calls" in request and not isinstance(request["parallel_tool_calls"], bool):
        _err("`parallel_tool_calls` must be a bool", "parallel_tool_calls", _short(request["parallel_tool_calls"]),
             "true or false", "pass a bool")
    rf = request.get("response_format")
    if rf is not None and (not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema")):
        _err("unknown `response_format`", "response_format", _short(rf),
             "{'type': 'text' | 'json_object' | 'json_schema', ...}", "use an allowed type")
