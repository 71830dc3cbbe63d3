"""The public encodings, by name: what each one is made of, and a cache of built ones.

Patterns, special tokens and vocabulary sizes are tiktoken's (``tiktoken_ext/openai_public.py``,
tiktoken 0.14.0); the rank files are the bundled, hash-checked copies (:mod:`refimpl.load`).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from .core import Encoding
from .load import shared_bundled_ranks

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# GPT-2's pattern, in the faster but equivalent form tiktoken uses.
R50K_PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
    r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
# o200k: letters split at case changes (camelCase -> camel, Case), contractions kept on the word.
O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


def gpt2() -> dict[str, Any]:
    # tiktoken builds gpt2 from GPT-2's data-gym files; their ranks are r50k_base's exactly
    # (tests/test_data_gym.py rebuilds both files from r50k_base with the official hashes).
    return {
        "name": "gpt2",
        "explicit_n_vocab": 50257,
        "pat_str": R50K_PAT_STR,
        "mergeable_ranks": shared_bundled_ranks("r50k_base"),
        "special_tokens": {ENDOFTEXT: 50256},
    }


def r50k_base() -> dict[str, Any]:
    return {
        "name": "r50k_base",
        "explicit_n_vocab": 50257,
        "pat_str": R50K_PAT_STR,
        "mergeable_ranks": shared_bundled_ranks("r50k_base"),
        "special_tokens": {ENDOFTEXT: 50256},
    }


def p50k_base() -> dict[str, Any]:
    return {
        "name": "p50k_base",
        "explicit_n_vocab": 50281,
        "pat_str": R50K_PAT_STR,
        "mergeable_ranks": shared_bundled_ranks("p50k_base"),
        "special_tokens": {ENDOFTEXT: 50256},
    }


def p50k_edit() -> dict[str, Any]:
    return {
        "name": "p50k_edit",
        "pat_str": R50K_PAT_STR,
        "mergeable_ranks": shared_bundled_ranks("p50k_base"),
        "special_tokens": {ENDOFTEXT: 50256, FIM_PREFIX: 50281, FIM_MIDDLE: 50282, FIM_SUFFIX: 50283},
    }


def cl100k_base() -> dict[str, Any]:
    return {
        "name": "cl100k_base",
        "pat_str": CL100K_PAT_STR,
        "mergeable_ranks": shared_bundled_ranks("cl100k_base"),
        "special_tokens": {
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    }


def o200k_base() -> dict[str, Any]:
    return {
        "name": "o200k_base",
        "pat_str": O200K_PAT_STR,
        "mergeable_ranks": shared_bundled_ranks("o200k_base"),
        "special_tokens": {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    }


def o200k_harmony() -> dict[str, Any]:
    # gpt-oss: o200k_base's ranks with the harmony chat format's special tokens.
    base = o200k_base()
    special_tokens = {
        **base["special_tokens"],
        "<|startoftext|>": 199998,
        "<|endoftext|>": 199999,
        "<|reserved_200000|>": 200000,
        "<|reserved_200001|>": 200001,
        "<|return|>": 200002,
        "<|constrain|>": 200003,
        "<|reserved_200004|>": 200004,
        "<|channel|>": 200005,
        "<|start|>": 200006,
        "<|end|>": 200007,
        "<|message|>": 200008,
        "<|reserved_200009|>": 200009,
        "<|reserved_200010|>": 200010,
        "<|reserved_200011|>": 200011,
        "<|call|>": 200012,
    } | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}
    return {
        "name": "o200k_harmony",
        "pat_str": base["pat_str"],
        "mergeable_ranks": base["mergeable_ranks"],
        "special_tokens": special_tokens,
    }


ENCODING_CONSTRUCTORS: dict[str, Callable[[], dict[str, Any]]] = {
    "gpt2": gpt2,
    "r50k_base": r50k_base,
    "p50k_base": p50k_base,
    "p50k_edit": p50k_edit,
    "cl100k_base": cl100k_base,
    "o200k_base": o200k_base,
    "o200k_harmony": o200k_harmony,
}

ENCODINGS: dict[str, Encoding] = {}
_lock = threading.RLock()


def get_encoding(encoding_name: str) -> Encoding:
    """The named encoding, built once per process from the bundled, verified rank files.

    >>> get_encoding("cl100k_base").encode("hello world")
    [15339, 1917]
    """
    if not isinstance(encoding_name, str):
        raise ValueError(f"Expected a string in get_encoding, got {type(encoding_name).__name__} {encoding_name!r}")
    enc = ENCODINGS.get(encoding_name)
    if enc is not None:
        return enc
    with _lock:
        if encoding_name in ENCODINGS:
            return ENCODINGS[encoding_name]
        if encoding_name not in ENCODING_CONSTRUCTORS:
            raise ValueError(
                f"Unknown encoding {encoding_name!r}. Known encodings: "
                f"{', '.join(ENCODING_CONSTRUCTORS)}. For a model name use "
                "refimpl.encoding_for_model(model); for your own rank file build "
                "refimpl.Encoding(name, pat_str=..., mergeable_ranks=refimpl.load_tiktoken_bpe(path), "
                "special_tokens=...)."
            )
        enc = Encoding(**ENCODING_CONSTRUCTORS[encoding_name]())
        ENCODINGS[encoding_name] = enc
        return enc


def list_encoding_names() -> list[str]:
    """The names :func:`get_encoding` accepts.

    >>> list_encoding_names()
    ['gpt2', 'r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base', 'o200k_harmony']
    """
    return list(ENCODING_CONSTRUCTORS)


# Re-exported so `from refimpl.registry import encoding_for_model` works too.
from .model import encoding_for_model, encoding_name_for_model  # noqa: E402,F401
