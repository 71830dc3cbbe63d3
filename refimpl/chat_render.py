"""Render a Chat Completions request into the prompt the model reads, piece by piece.

Every token of ``usage.prompt_tokens`` comes from one `Piece`: a special token, a run of text
(encoded on its own), an image, or an *adjustment*: tokens we know from measurements but whose
text is not public (negative or positive, always ``estimate=True``, with the evidence in
`note`). The prompt's token count is the sum of the pieces, so the count and the rendering
cannot drift apart.

Two formats:

* ChatML (gpt-3.5/gpt-4/gpt-4o/o-series/gpt-5): every message is
  ``<|im_start|>{role}<|im_sep|>{content}<|im_end|>`` (3 framing tokens, the cookbook's
  "every message follows <|start|>{role/name}\\n{content}<|end|>\\n"), the reply is primed with
  ``<|im_start|>assistant<|im_sep|>`` (3). gpt-3.5-turbo-0301 used
  ``<|im_start|>{role or name}\\n{content}<|im_end|>\\n`` (4 framing tokens; a name replaces the
  role). The im_* tokens are not in the public cl100k/o200k vocabularies, so their ids are None.
* Harmony (gpt-oss, public: OpenAI's "harmony response format" guide), with o200k_harmony's
  special tokens ``<|start|>``, ``<|channel|>``, ``<|message|>``, ``<|end|>``, ``<|call|>``.

>>> from refimpl.chat_rules import resolve_rules
>>> pieces = render_pieces({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
...                        resolve_rules("gpt-4o"))
>>> "".join(p.text for p in pieces), sum(p.tokens for p in pieces)
('<|im_start|>user<|im_sep|>hi<|im_end|><|im_start|>assistant<|im_sep|>', 8)
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass

from .chat_images import image_size_from_data_url, patch_image_tokens, tile_image_tokens
from .chat_errors import ImageSizeError
from .chat_rules import ChatRules, parse_date
from .chat_tools import TOOLS_HEADER, choice_cost, namespace_adjustments, render_functions
from .registry import get_encoding

__all__ = ["Piece", "render_pieces", "render_prompt", "compact_arguments"]

# Measured overheads whose text is not public (estimates; see the module notes in chat_count).
_LEGACY_CALL_EXTRA = 3   # assistant `function_call` (0613): hmarr-22/23
_TOOL_CALL_EXTRA = 6     # one assistant tool call (gpt-4-turbo, 2024): chrisdinn, 12 cases
_PARALLEL_EXTRA = 2      # 2+ tool calls, rendered as one multi_tool_use.parallel call: chrisdinn


@dataclass(frozen=True)
class Piece:
    """One part of the rendered prompt.

    `kind`: ``"special"`` (one token), ``"text"`` (encoded on its own), ``"image"`` or
    ``"adjust"`` (measured tokens without public text). `source` says where it came from
    (``"messages[2].content"``, ``"tools[0]"``, ``"reply priming"``, ...). `ids` are the token
    ids when known.
    """

    text: str
    tokens: int
    kind: str
    source: str
    estimate: bool = False
    note: str = ""
    ids: tuple | None = None


class _Builder:
    def __init__(self, rules: ChatRules, get_encoding=get_encoding):
        self.rules, self.enc, self.pieces = rules, get_encoding(rules.encoding), []
        self.specials = getattr(self.enc, "special_tokens_set", set())

    def special(self, token: str, source: str, estimate: bool = False, note: str = ""):
        ids = tuple(self.enc.encode(token, allowed_special={token})) if token in self.specials else None
        self.pieces.append(Piece(token, 1, "special", source, estimate, note, ids))

    def text(self, text: str, source: str, estimate: bool = False, note: str = ""):
        if text:
            ids = tuple(self.enc.encode_ordinary(text))
            self.pieces.append(Piece(text, len(ids), "text", source, estimate, note, ids))

    def adjust(self, tokens: int, source: str, note: str, estimate: bool):
        # measured-but-textless tokens have estimate=False; fitted guesses have estimate=True
        if tokens:
            self.pieces.append(Piece("", tokens, "adjust", source, estimate, note))


def _text_of(content) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content or ""


def _image_tokens(part: dict, rules: ChatRules, where: str, image_sizes) -> tuple[int, str, bool]:
    image = part.get("image_url") or {}
    url, detail = image.get("url", ""), image.get("detail") or "auto"
    if rules.image is None:
        raise ImageSizeError("this model does not accept images", where=where, found=rules.snapshot,
                             allowed="a vision model (gpt-4o, gpt-4.1, gpt-4-turbo, o1, o3, gpt-5, ...)",
                             fix="remove the image part or choose a vision model")
    if image_sizes and url in image_sizes:
        width, height = image_sizes[url]
    else:
        width, height = image_size_from_data_url(url, where=where + ".image_url.url")
    if rules.image.kind == "patch":
        tokens = patch_image_tokens(width, height, multiplier=rules.image.multiplier)
        return tokens, f"{width}x{height} px, patches x {rules.image.multiplier}", True
    tokens = tile_image_tokens(width, height, detail, base=rules.image.base, tile=rules.image.tile)
    return tokens, f"{width}x{height} px, detail={detail}", False


def _content(b: _Builder, content, where: str, image_sizes) -> None:
    if isinstance(content, str):
        b.text(content, where)
        return
    for j, part in enumerate(content or []):
        if part.get("type") == "text":
            b.text(part.get("text", ""), f"{where}[{j}].text",
                   estimate=len(content) > 1, note="parts are counted one by one" if len(content) > 1 else "")
        elif part.get("type") == "image_url":
            tokens, note, est = _image_tokens(part, b.rules, f"{where}[{j}]", image_sizes)
            b.pieces.append(Piece("<image>", tokens, "image", f"{where}[{j}]", est, note))


def compact_arguments(arguments: str) -> str:
    # Tool-call arguments are re-serialized compactly by the API (chrisdinn: counts depend on
    # the parsed JSON, not the spacing sent); unparsable arguments are counted as sent.
    try:
        return json.dumps(json.loads(arguments), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return arguments


def _tools_and_choice(request: dict) -> tuple[list[dict], str, object]:
    if request.get("tools"):
        return [t["function"] for t in request["tools"]], "tool_choice", request.get("tool_choice")
    if request.get("functions"):
        return list(request["functions"]), "function_call", request.get("function_call")
    return [], "", None


def _calls_header(b: _Builder, calls: list, src: str, call_names: dict) -> None:
    """Recipient of an assistant tool-call message: one call names its function; two or more
    are one call to ``multi_tool_use.parallel`` (fitted to chrisdinn's 2-call counts)."""
    for c in calls:
        call_names[c.get("id")] = c["function"]["name"]
    if len(calls) == 1:
        b.adjust(_TOOL_CALL_EXTRA, src + ".tool_calls[0]", "tool call framing (fitted, 2024)", True)
        b.text(calls[0]["function"]["name"], src + ".tool_calls[0].function.name")
    elif calls:
        b.adjust(_PARALLEL_EXTRA, src + ".tool_calls", "parallel tool calls framing (fitted, 2024)", True)
        b.text("multi_tool_use.parallel", src + ".tool_calls", estimate=True)


def _calls_body(b: _Builder, calls: list, src: str) -> None:
    """Arguments of the tool-call message: compact JSON (one call) or the parallel tool_uses list."""
    if len(calls) == 1:
        b.text(compact_arguments(calls[0]["function"]["arguments"]), src + ".tool_calls[0].function.arguments")
    elif calls:
        uses = []
        for c in calls:
            args = compact_arguments(c["function"]["arguments"])
            try:
                params = json.loads(args)
            except ValueError:
                params = args
            uses.append({"recipient_name": "functions." + c["function"]["name"], "parameters": params})
        b.text(json.dumps({"tool_uses": uses}, separators=(",", ":"), ensure_ascii=False),
               src + ".tool_calls", estimate=True)


def _chatml(b: _Builder, request: dict, image_sizes) -> None:
    rules, messages = b.rules, list(request["messages"])
    functions, param, choice = _tools_and_choice(request)
    tools_at = next((i for i, m in enumerate(messages) if m["role"] in ("system", "developer")), None)
    if functions and tools_at is None:
        messages.insert(0, {"role": "system", "content": "", "_inserted": True})
        tools_at = 0
    call_names: dict[str, str] = {}
    shift = 1 if functions and messages[0].get("_inserted") else 0
    old = rules.tokens_per_message == 4  # the 0301 layout
    for i, m in enumerate(messages):
        src = "tools" if m.get("_inserted") else f"messages[{i - shift}]"
        role, name = m["role"], m.get("name")
        calls = m.get("tool_calls") or []
        if calls and _text_of(m.get("content")):  # content and tool calls: two messages
            for tok, s in (("<|im_start|>", src), ("assistant", src + ".role"), ("<|im_sep|>", src)):
                (b.text if tok == "assistant" else b.special)(tok, s)
            _content(b, m["content"], src + ".content", image_sizes)
            b.special("<|im_end|>", src)
            m = dict(m, content="")
        b.special("<|im_start|>", src)
        if not old and rules.tokens_per_message != 3:
            b.adjust(rules.tokens_per_message - 3, src, "explicit rules: tokens_per_message", False)
        if role in ("function", "tool"):  # a result: the function's name replaces the role
            fname = name if role == "function" else call_names.get(m.get("tool_call_id"))
            b.text(fname or role, src + (".name" if role == "function" else ".tool_call_id"),
                   estimate=role == "tool", note="tool results are framed by the function name (fitted)")
        elif old and name:
            b.text(name, src + ".name", note="0301: the name replaces the role")
        else:
            b.text(role, src + ".role")
            if name:
                b.adjust(rules.tokens_per_name, src + ".name", "name separator (measured)", False)
                b.text(name, src + ".name")
        _calls_header(b, calls, src, call_names)
        if m.get("function_call"):
            b.adjust(_LEGACY_CALL_EXTRA, src + ".function_call", "function_call framing (measured, 0613)", False)
            b.text(m["function_call"]["name"], src + ".function_call.name")
        b.text("\n", src) if old else b.special("<|im_sep|>", src)
        if i == tools_at and functions:
            _tools_block(b, _text_of(m.get("content")), functions, param, choice, src)
        else:
            _content(b, m.get("content"), src + ".content", image_sizes)
        _calls_body(b, calls, src)
        if m.get("function_call"):
            b.text(m["function_call"].get("arguments", ""), src + ".function_call.arguments")
        b.special("<|im_end|>", src)
        if old:
            b.text("\n", src)
    b.special("<|im_start|>", "reply priming")
    b.text("assistant", "reply priming")
    if rules.reply_priming == 3:  # 0301 after 2023-03-24: "<|im_start|>assistant\n"
        b.text("\n", "reply priming") if old else b.special("<|im_sep|>", "reply priming")
    elif rules.reply_priming != 2:
        b.adjust(rules.reply_priming - 2, "reply priming", "explicit rules", False)


def _tools_block(b: _Builder, content: str, functions, param, choice, src) -> None:
    """System content + "\\n\\n" + header + namespace, encoded together (the join can merge
    tokens, e.g. ".\\n\\n"), attributed: content, then each function, then the rest."""
    rev = b.rules.tools_revision
    block = TOOLS_HEADER + render_functions(functions, revision=rev)
    full = (content + "\n\n" + block) if content else block
    total = len(b.enc.encode_ordinary(full))
    own = len(b.enc.encode_ordinary(content))
    b.pieces.append(Piece(content, own, "text", src + ".content"))
    group = "tools" if param == "tool_choice" else "functions"
    per_fn = []
    head, tail = "namespace functions {\n\n", "\n\n} // namespace functions"
    for k, fn in enumerate(functions):
        text = render_functions([fn], revision=rev)[len(head):-len(tail)] + "\n\n"
        per_fn.append(Piece(text, len(b.enc.encode_ordinary(text)), "text", f"{group}[{k}]"))
    rest = total - own - sum(p.tokens for p in per_fn)
    b.pieces.append(Piece(full[len(content):len(full) - len(block)] + TOOLS_HEADER + head, rest, "text",
                          "tools header", note="header, separators and closing line (joint encoding)"))
    b.pieces.extend(per_fn)
    b.pieces.append(Piece("} // namespace functions", 0, "text", "tools header"))
    for delta, why, est in namespace_adjustments(functions, revision=rev):
        b.adjust(delta, "tools", why, est)
    fixed, forced, est = choice_cost(choice, param=param)
    label = choice if isinstance(choice, str) else "named"
    if fixed or est:
        b.adjust(fixed, param, f"{param}={label} " + ("(no public measurement)" if est else "(measured)"), est)
        if est and not fixed:  # keep a visible marker for an unmeasured zero
            b.pieces.append(Piece("", 0, "adjust", param, True,
                                  f"{param}={label}: no public measurement, counted as 0"))
    if forced:
        b.text(forced, param + ".name")


_HARMONY_SYSTEM = ("You are ChatGPT, a large language model trained by OpenAI.\n"
                   "Knowledge cutoff: 2024-06\nCurrent date: {date}\n\nReasoning: {effort}\n\n"
                   "# Valid channels: analysis, commentary, final. Channel must be included for every message.")


def _harmony(b: _Builder, request: dict, as_of) -> None:
    """Harmony layout from OpenAI's harmony guide: a system message (identity, cutoff, date,
    reasoning effort, channels), a developer message (instructions + tools), the conversation,
    then ``<|start|>assistant`` for the reply."""
    day = parse_date(as_of) or _dt.date.today()
    functions, _, _ = _tools_and_choice(request)
    system = _HARMONY_SYSTEM.format(date=day.isoformat(), effort=request.get("reasoning_effort") or "medium")
    if functions:
        system += "\nCalls to these tools must go to the commentary channel: 'functions'."
    note = "harmony system message: date and reasoning effort vary by provider"
    for tok, kind in (("<|start|>", 1), ("system", 0), ("<|message|>", 1), (system, 0), ("<|end|>", 1)):
        (b.special if kind else b.text)(tok, "harmony system message", True, note)
    instructions = "\n\n".join(_text_of(m.get("content")) for m in request["messages"]
                               if m["role"] in ("system", "developer"))
    if instructions or functions:
        dev = ("# Instructions\n\n" + instructions) if instructions else ""
        if functions:
            dev += ("\n\n" if dev else "") + TOOLS_HEADER + render_functions(functions, revision="harmony")
        for tok, kind in (("<|start|>", 1), ("developer", 0), ("<|message|>", 1), (dev, 0), ("<|end|>", 1)):
            (b.special if kind else b.text)(tok, "developer message (system messages + tools)")
    names: dict[str, str] = {}
    for i, m in enumerate(request["messages"]):
        src, role = f"messages[{i}]", m["role"]
        if role in ("system", "developer"):
            continue
        if role in ("tool", "function"):
            fname = m.get("name") if role == "function" else names.get(m.get("tool_call_id"), "tool")
            head = [("<|start|>", 1), (f"functions.{fname} to=assistant", 0), ("<|channel|>", 1), ("commentary", 0)]
        elif role == "assistant":
            for c in m.get("tool_calls") or []:
                names[c.get("id")] = c["function"]["name"]
                for tok, kind in (("<|start|>", 1), ("assistant", 0), ("<|channel|>", 1),
                                  (f"commentary to=functions.{c['function']['name']} ", 0), ("<|constrain|>", 1),
                                  ("json", 0), ("<|message|>", 1), (c["function"]["arguments"], 0), ("<|call|>", 1)):
                    (b.special if kind else b.text)(tok, src + ".tool_calls")
            if not _text_of(m.get("content")):
                continue
            head = [("<|start|>", 1), ("assistant", 0), ("<|channel|>", 1), ("final", 0)]
        else:
            head = [("<|start|>", 1), (role, 0)]
        for tok, kind in head + [("<|message|>", 1)]:
            (b.special if kind else b.text)(tok, src)
        b.text(_text_of(m.get("content")), src + ".content")
        b.special("<|end|>", src)
    b.special("<|start|>", "reply priming")
    b.text("assistant", "reply priming")


def render_pieces(request: dict, rules: ChatRules, *, as_of=None, image_sizes=None,
                  get_encoding=None) -> list[Piece]:
    """The prompt as a list of `Piece` (validated input assumed; see chat_count.validate_request).

    `get_encoding` (name -> Encoding) replaces `refimpl.get_encoding`, e.g. to put a cache of
    repeated texts in front of the encoder (`refimpl.audit_cache.TextCache.get_encoding`).

    >>> from refimpl.chat_rules import resolve_rules
    >>> ps = render_pieces({"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]},
    ...                    resolve_rules("gpt-oss-120b"), as_of="2025-08-05")
    >>> "".join(p.text for p in ps)[-58:]
    '<|end|><|start|>user<|message|>hi<|end|><|start|>assistant'
    """
    b = _Builder(rules) if get_encoding is None else _Builder(rules, get_encoding)
    if rules.format == "harmony":
        _harmony(b, request, as_of)
    else:
        _chatml(b, request, image_sizes)
    return b.pieces


def render_prompt(request: dict, rules: ChatRules, *, as_of=None, image_sizes=None) -> str:
    """The rendered prompt as text (images shown as ``<image>``; adjustments are invisible).

    >>> from refimpl.chat_rules import resolve_rules
    >>> render_prompt({"model": "gpt-3.5-turbo-0301", "messages": [{"role": "user", "content": "hi"}]},
    ...               resolve_rules("gpt-3.5-turbo-0301", as_of="2023-03-02"))
    '<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant'
    """
    return "".join(p.text for p in render_pieces(request, rules, as_of=as_of, image_sizes=image_sizes))
