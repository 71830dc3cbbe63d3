"""What callers pass to ``encode``: checked and normalised the way tiktoken does it.

* the text must be a ``str`` (bytes get a message saying to decode them first);
* a ``str`` that is not valid UTF-8 (lone or paired surrogates) is re-decoded through UTF-16
  with ``"replace"``, as tiktoken's ``encode`` does;
* ``allowed_special`` / ``disallowed_special`` are ``"all"`` or collections of special-token
  strings; a bare string is a mistake worth a clear error;
* special tokens are found with one alternation of their escaped strings.
"""
from __future__ import annotations

import functools

import regex


def check_text(text) -> None:
    """Raise ``TypeError`` unless ``text`` is a ``str``.

    >>> check_text(b"hi")
    Traceback (most recent call last):
    ...
    TypeError: text must be a str, got bytes: decode bytes first, e.g. data.decode('utf-8')
    """
    if not isinstance(text, str):
        raise TypeError(
            f"text must be a str, got {type(text).__name__}"
            + (": decode bytes first, e.g. data.decode('utf-8')" if isinstance(text, (bytes, bytearray)) else "")
        )


def token_set(argument: str, value):
    """``"all"`` or a frozenset of special-token strings; anything else is a clear error.

    >>> token_set("allowed_special", ["<|endoftext|>"])
    frozenset({'<|endoftext|>'})
    """
    if value == "all":
        return "all"
    if isinstance(value, str):
        raise TypeError(
            f"`{argument}` must be \"all\" or a set of special-token strings, got the string "
            f"{value!r}; wrap it in a set: {argument}={{{value!r}}}"
        )
    try:
        tokens = frozenset(value)
    except TypeError:
        raise TypeError(
            f"`{argument}` must be \"all\" or a set of special-token strings, got "
            f"{type(value).__name__} {value!r}"
        ) from None
    return tokens


def fix_surrogates(text: str) -> str:
    """tiktoken's fix-up for str that is not valid UTF-8: join surrogate pairs, replace lone ones.

    >>> fix_surrogates(chr(0xD83D) + chr(0xDE00) + " " + chr(0xD800)) == chr(0x1F600) + " " + chr(0xFFFD)
    True
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@functools.lru_cache(maxsize=128)
def literal_alternation(tokens: frozenset[str]):
    """One compiled alternation of the tokens, longest first (so no token's prefix wins).

    >>> literal_alternation(frozenset({"<|a", "<|a|>"})).search("x<|a|>").group()
    '<|a|>'
    """
    inner = "|".join(regex.escape(t) for t in sorted(tokens, key=lambda t: (-len(t), t)))
    return regex.compile(f"({inner})")
