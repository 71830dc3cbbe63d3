"""BPE you can watch: the merge steps of a piece, coloured token boundaries, and a tiny trainer.

For learning, not speed. Everything here gives the same tokens as :class:`refimpl.Encoding`
(``tests/test_educational.py`` holds that).

>>> from refimpl import get_encoding
>>> steps = merge_steps("hello", get_encoding("gpt2"))
>>> [s.parts for s in steps][-1]
[b'hello']
>>> print(format_steps(steps, colour=False))
h e l l o
he l l o   <- b'he' (rank 258)
he ll o    <- b'll' (rank 297)
hell o     <- b'hell' (rank 12758)
hello      <- b'hello' (rank 31373)
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Mapping

from .pattern import SplitPattern


@dataclass(frozen=True)
class MergeStep:
    """The parts of a piece after one merge; ``merged``/``rank`` are None for the start."""

    parts: list[bytes]
    merged: bytes | None = None
    rank: int | None = None


def merge_steps(piece: str | bytes, ranks) -> list[MergeStep]:
    """Every state of the BPE merge loop for one piece, from single bytes to the final tokens.

    ``ranks`` is an :class:`~refimpl.Encoding` or a ``{token bytes: rank}`` mapping.
    """
    mergeable_ranks: Mapping[bytes, int] = getattr(ranks, "_mergeable_ranks", ranks)
    data = piece.encode("utf-8") if isinstance(piece, str) else piece
    parts = [data[i:i + 1] for i in range(len(data))]
    steps = [MergeStep(list(parts))]
    while len(parts) > 1:
        best = min(
            ((mergeable_ranks[a + b], i) for i, (a, b) in enumerate(zip(parts, parts[1:]))
             if a + b in mergeable_ranks),
            default=None,
        )
        if best is None:
            break
        rank, i = best  # min over (rank, index): lowest rank, then leftmost
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
        steps.append(MergeStep(list(parts), parts[i], rank))
    return steps


def _show(part: bytes) -> str:
    return part.decode("utf-8", errors="replace").replace("\n", "\\n")


_COLOURS = [167, 179, 185, 77, 80, 68, 134]  # 256-colour terminal backgrounds


def colour_spans(parts: list[bytes], colour: bool = True) -> str:
    """The parts side by side: coloured backgrounds on a terminal, ``|``-separated otherwise.

    >>> colour_spans([b"hello", b" world"], colour=False)
    'hello| world'
    """
    if not colour:
        return "|".join(_show(p) for p in parts)
    return "".join(
        f"\x1b[48;5;{_COLOURS[i % len(_COLOURS)]}m{_show(p)}" for i, p in enumerate(parts)
    ) + "\x1b[0m"


def html_spans(parts: list[bytes]) -> str:
    """The parts as HTML ``<span>`` elements with alternating backgrounds (for notebooks).

    >>> html_spans([b"a<"])
    '<span style="background:#f4cccc;white-space:pre">a&lt;</span>'
    """
    import html

    colours = ["#f4cccc", "#fce5cd", "#fff2cc", "#d9ead3", "#d0e0e3", "#cfe2f3", "#d9d2e9"]
    return "".join(
        f'<span style="background:{colours[i % len(colours)]};white-space:pre">'
        f"{html.escape(_show(p))}</span>"
        for i, p in enumerate(parts)
    )


def format_steps(steps: list[MergeStep], colour: bool = True) -> str:
    """One line per merge step (see the module example)."""
    lines = []
    width = max(len(" ".join(_show(p) for p in s.parts)) for s in steps)
    for s in steps:
        text = " ".join(_show(p) for p in s.parts)
        if colour:
            text = colour_spans(s.parts) + " " * (width - len(text))
        else:
            text = text.ljust(width)
        lines.append(text if s.merged is None else f"{text}  <- {s.merged!r} (rank {s.rank})")
    return "\n".join(line.rstrip() for line in lines)


def token_spans(encoding, text: str, colour: bool = True) -> str:
    """``text`` with its token boundaries shown (coloured, or ``|``-separated).

    >>> from refimpl import get_encoding
    >>> token_spans(get_encoding("o200k_base"), "camelCase", colour=False)
    'camel|Case'
    """
    tokens = encoding.encode(text, allowed_special="all")
    return colour_spans(encoding.decode_tokens_bytes(tokens), colour)


def bpe_train(data: str, vocab_size: int, pat_str: str) -> dict[bytes, int]:
    """Train byte-level BPE ranks on ``data``: start from the 256 bytes and repeatedly add the
    most frequent adjacent pair (within regex pieces) as the next rank.

    Ties go to the pair seen first, so training is deterministic.

    >>> ranks = bpe_train("aaab aaab aaab", 258, r"\\S+|\\s+")
    >>> [t for t, r in sorted(ranks.items(), key=lambda x: x[1])][256:]
    [b'aa', b'aaa']
    """
    if vocab_size < 256:
        raise ValueError(f"`vocab_size` must be at least 256 (the single bytes), got {vocab_size!r}")
    ranks = {bytes([i]): i for i in range(256)}
    words = [[bytes([b]) for b in piece.encode("utf-8")] for piece in SplitPattern(pat_str).findall(data)]
    while len(ranks) < vocab_size:
        counts: collections.Counter[tuple[bytes, bytes]] = collections.Counter()
        for word in words:
            counts.update(zip(word, word[1:]))
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: kv[1])  # first seen wins ties
        merged = a + b
        ranks[merged] = len(ranks)
        for w, word in enumerate(words):
            i, out = 0, []
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            words[w] = out
    return ranks


__all__ = ["MergeStep", "merge_steps", "format_steps", "colour_spans", "html_spans", "token_spans", "bpe_train"]
