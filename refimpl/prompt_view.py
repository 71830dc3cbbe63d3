"""Show a chat request's prompt token by token (``refimpl render``).

On a terminal every token gets a background colour (alternating), special tokens are shown
inverted, images as ``<image: N tokens>`` and measured tokens without public text as
``<+N: why>``. Plain output is the rendered prompt itself (optionally with a separator between
tokens), so it can be piped and diffed.

>>> req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "camelCase"}]}
>>> print(view_prompt(req, separator="|"))
<|im_start|>|user|<|im_sep|>|camel|Case|<|im_end|>|<|im_start|>|assistant|<|im_sep|>
"""
from __future__ import annotations

from .chat_count import PromptBreakdown, explain_prompt_tokens
from .registry import get_encoding

__all__ = ["view_prompt", "token_texts"]

_BACKGROUNDS = [153, 223, 194, 217, 189, 230]  # light 256-colour backgrounds, black text
_SPECIAL = "\x1b[1;7m"
_IMAGE = "\x1b[35m"
_ADJUST = "\x1b[2m"
_RESET = "\x1b[0m"


def token_texts(breakdown: PromptBreakdown) -> list[tuple[str, str]]:
    """``(text, kind)`` per displayed unit: one per token of text pieces (bytes that do not
    end a UTF-8 character are joined with the next token's), one per special token, image or
    adjustment.

    >>> b = explain_prompt_tokens({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    >>> token_texts(b)[:3]
    [('<|im_start|>', 'special'), ('user', 'text'), ('<|im_sep|>', 'special')]
    """
    enc = get_encoding(breakdown.encoding)
    units: list[tuple[str, str]] = []
    for p in breakdown.pieces:
        if p.kind == "text" and p.text:
            # subtle: the tools block is encoded as one text and attributed in parts, so its
            # pieces carry no ids; their own encoding shows boundaries to within a token
            ids = p.ids if p.ids else enc.encode_ordinary(p.text)
            pending = b""
            for t in ids:
                pending += enc.decode_single_token_bytes(t)
                try:
                    units.append((pending.decode("utf-8"), "text"))
                    pending = b""
                except UnicodeDecodeError:
                    continue  # part of a character: show it with the next token
            if pending:
                units.append((pending.decode("utf-8", errors="replace"), "text"))
        elif p.kind == "special":
            units.append((p.text, "special"))
        elif p.kind == "image":
            units.append((f"<image: {p.tokens} tokens>", "image"))
        elif p.kind == "adjust" and (p.tokens or p.note):
            units.append((f"<{p.tokens:+d}: {p.note or p.source}>", "adjust"))
    return units


def _colour(text: str, kind: str, i: int) -> str:
    if kind == "special":
        return _SPECIAL + text + _RESET
    if kind == "image":
        return _IMAGE + text + _RESET
    if kind == "adjust":
        return _ADJUST + text + _RESET
    style = f"\x1b[30;48;5;{_BACKGROUNDS[i % len(_BACKGROUNDS)]}m"
    # a newline inside a coloured token: show it, then break the line outside the colour
    return "\n".join(style + part.replace("\t", "\\t") + ("\\n" if k < text.count("\n") else "") + _RESET
                     for k, part in enumerate(text.split("\n")))


def view_prompt(request: dict, *, as_of=None, colour: bool = False, separator: str = "",
                breakdown: PromptBreakdown | None = None) -> str:
    """The prompt of `request` with its token boundaries shown.

    `colour`: ANSI colours for a terminal. Otherwise the prompt text, with `separator` between
    tokens (default none: exactly the rendered prompt, ``explain_prompt_tokens(...).rendered``;
    adjustments and images are then left out, as they have no text). Raises what
    `explain_prompt_tokens` raises.
    """
    b = breakdown if breakdown is not None else explain_prompt_tokens(request, as_of=as_of)
    units = token_texts(b)
    if not colour:
        return separator.join(t for t, kind in units if kind in ("text", "special")) if separator else b.rendered
    out, i = [], 0
    for text, kind in units:
        out.append(_colour(text, kind, i))
        i += kind == "text"
    return "".join(out)
