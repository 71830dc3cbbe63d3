"""Predict a Chat Completions request's ``usage.prompt_tokens``, and explain every token.

Public functions: `count_prompt_tokens`, `explain_prompt_tokens`, `num_tokens_from_messages`
(the cookbook's function), `count_completion_tokens` and `usage_for_response`.

How a request becomes tokens (chat_render.py shows the pieces):

1. Resolve the model to a dated snapshot and its rules (chat_rules.py; `as_of` picks the day).
2. If tools/functions are present, render them as a TypeScript ``namespace functions`` block and
   append it to the first system message, or insert one (chat_tools.py).
3. Frame every message (3 tokens, or 4 for gpt-3.5-turbo-0301), add the role, an optional name
   (+1), the content (text encoded on its own; images by OpenAI's formulas, chat_images.py),
   tool calls and tool results; then 3 tokens of reply priming.

What is measured and what is an estimate is listed in `explain_prompt_tokens(...).notes`; every
estimated piece carries ``estimate=True``. Known gaps: ``response_format`` with a JSON schema,
built-in tools, audio/file parts and reasoning items are not counted (no public rule).

>>> messages = [{"role": "system", "content": "You are a helpful assistant."},
...             {"role": "user", "content": "Hello!"}]
>>> count_prompt_tokens({"model": "gpt-4o", "messages": messages})
19
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from .chat_render import Piece, compact_arguments, render_pieces
from .chat_rules import ChatRules, parse_date, resolve_rules
from .chat_validate import validate_request
from .registry import get_encoding

__all__ = ["PromptBreakdown", "count_prompt_tokens", "explain_prompt_tokens",
           "num_tokens_from_messages", "count_completion_tokens", "usage_for_response"]


@dataclass(frozen=True)
class PromptBreakdown:
    """Where each prompt token comes from.

    * `total`: the predicted ``usage.prompt_tokens``.
    * `pieces`: the rendered prompt in order (`chat_render.Piece`).
    * `by_source`: tokens per origin: ``"messages[0]"`` (framing and role), ``"messages[0].content"``,
      ``"tools[1]"``, ``"tool_choice"``, ``"reply priming"``, ...
    * `estimate`: True when any piece or rule is inferred rather than measured; `notes` say which.
    """

    model: str
    snapshot: str
    encoding: str
    total: int
    pieces: tuple[Piece, ...]
    by_source: dict
    estimate: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def rendered(self) -> str:
        """The prompt text (special tokens spelled out, images as ``<image>``)."""
        return "".join(p.text for p in self.pieces)


def _rules_for(request: dict, as_of, rules: ChatRules | None) -> ChatRules:
    return rules if rules is not None else resolve_rules(request.get("model"), as_of=as_of)


def explain_prompt_tokens(request: dict, *, as_of=None, rules: ChatRules | None = None,
                          image_sizes=None, get_encoding=None) -> PromptBreakdown:
    """A `PromptBreakdown` of `request` (a Chat Completions body as a dict).

    `as_of` (date or ``"YYYY-MM-DD"``) counts as the API did that day; `rules` overrides the
    table (e.g. ``resolve_rules("gpt-4o").replace(tokens_per_message=4)``); `image_sizes` maps
    an image URL to ``(width, height)`` for URLs that are not ``data:`` URLs; `get_encoding`
    (name -> Encoding) replaces `refimpl.get_encoding` for the text (e.g. a cache). Raises
    `ChatRequestError` (ValueError) for a malformed request, `UnknownModelError` (KeyError) for
    an unknown model and `ImageSizeError` when an image size cannot be known.

    >>> b = explain_prompt_tokens({"model": "gpt-4", "messages": [
    ...     {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."}]})
    >>> b.total, b.by_source["messages[0].content"], b.by_source["messages[0].name"], b.by_source["reply priming"]
    (20, 10, 3, 3)
    """
    validate_request(request)
    rules = _rules_for(request, as_of, rules)
    pieces = tuple(render_pieces(request, rules, as_of=as_of, image_sizes=image_sizes,
                                 get_encoding=get_encoding))
    by_source: dict[str, int] = {}
    for p in pieces:
        by_source[p.source] = by_source.get(p.source, 0) + p.tokens
    notes = list(rules.estimated)
    notes += sorted({f"{p.source}: {p.note}" for p in pieces if p.estimate and p.note})
    day = parse_date(as_of)
    if (request.get("tools") or request.get("functions")) and day is not None and \
            _dt.date(2023, 9, 29) <= day <= _dt.date(2024, 3, 27):
        notes.append(f"tools rendering: no measurement between 2023-09-28 and 2024-03-28; the "
                     f"'{rules.tools_revision}' rendering is assumed (switch dated 2023-11-06)")
    rf = request.get("response_format") or {}
    if rf.get("type") == "json_schema":
        notes.append("response_format json_schema: the schema's prompt text is not public; not counted")
    return PromptBreakdown(model=request["model"], snapshot=rules.snapshot, encoding=rules.encoding,
                           total=sum(p.tokens for p in pieces), pieces=pieces, by_source=by_source,
                           estimate=bool(notes), notes=tuple(notes))


def count_prompt_tokens(request: dict, *, as_of=None, rules: ChatRules | None = None, image_sizes=None,
                        get_encoding=None) -> int:
    """Predicted ``usage.prompt_tokens`` for a Chat Completions request body.

    Same arguments and errors as `explain_prompt_tokens`.

    >>> jargon = [{"role": "system", "content": "You are a helpful, pattern-following assistant."},
    ...           {"role": "user", "content": "Hi"}]
    >>> [count_prompt_tokens({"model": "gpt-3.5-turbo", "messages": jargon}, as_of=day)
    ...  for day in ("2023-03-20", "2023-03-24", None)]  # 0301 (+2 priming), 0301 (+3), today
    [23, 24, 22]
    """
    return explain_prompt_tokens(request, as_of=as_of, rules=rules, image_sizes=image_sizes,
                                 get_encoding=get_encoding).total


def num_tokens_from_messages(messages: list[dict], model: str = "gpt-4o-mini-2024-07-18", *, as_of=None) -> int:
    """The cookbook's ``num_tokens_from_messages(messages, model)``, backed by the dated table.

    The cookbook (How_to_count_tokens_with_tiktoken.ipynb) hard-codes per-model constants; here
    they come from `chat_rules`, so ``model="gpt-3.5-turbo-0301"`` gives 0301's rules and
    `as_of` reproduces old notebook runs (126 on 2023-03-20, 127 from 2023-03-24).

    >>> example = [{"role": "system", "content": "You are a bot."}, {"role": "user", "content": "Hi"}]
    >>> num_tokens_from_messages(example, "gpt-4"), num_tokens_from_messages(example, "gpt-4o")
    (17, 17)
    """
    return count_prompt_tokens({"model": model, "messages": messages}, as_of=as_of)


def _choices(response_or_choices) -> list:
    if isinstance(response_or_choices, dict):
        return list(response_or_choices.get("choices") or [])
    return list(response_or_choices or [])


def count_completion_tokens(response_or_choices, model: str, *, as_of=None) -> int:
    """``usage.completion_tokens`` for a response (or its ``choices`` list), summed over choices.

    Text content counts its own tokens (chrisdinn/tokens, checked against the API). A tool call
    counts its name, its compact JSON arguments and 3 framing tokens: an estimate. Hidden
    reasoning tokens of o-series models cannot be seen in the response and are not included.

    >>> count_completion_tokens({"choices": [{"message": {"role": "assistant", "content": "Hello there!"}}]}, "gpt-4o")
    3
    """
    enc = get_encoding(resolve_rules(model, as_of=as_of).encoding)
    total = 0
    for choice in _choices(response_or_choices):
        message = choice.get("message") or choice.get("delta") or {}
        content = message.get("content")
        if isinstance(content, str):
            total += len(enc.encode_ordinary(content))
        calls = list(message.get("tool_calls") or [])
        if message.get("function_call"):
            calls.append({"function": message["function_call"]})
        for call in calls:
            fn = call.get("function") or {}
            total += 3 + len(enc.encode_ordinary(fn.get("name", ""))) + \
                len(enc.encode_ordinary(compact_arguments(fn.get("arguments", ""))))
    return total


def usage_for_response(request: dict, response, *, as_of=None, image_sizes=None) -> dict:
    """The ``usage`` object a response should carry: prompt, completion and total tokens.

    >>> req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hi"}]}
    >>> usage_for_response(req, {"choices": [{"message": {"role": "assistant", "content": "Hi!"}}]})
    {'prompt_tokens': 9, 'completion_tokens': 2, 'total_tokens': 11}
    """
    prompt = count_prompt_tokens(request, as_of=as_of, image_sizes=image_sizes)
    completion = count_completion_tokens(response, request["model"], as_of=as_of)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
