"""asv benchmarks for the tokenizer and chat counting.

One class per operation; inputs are built in ``setup``; only the measured call is inside
``time_*``. The corpus is ``benchmarks/corpus`` (see ``make_corpus.py``): the first half of each
text warms the piece cache, the second half is what ``time_*`` encodes (new text of the same
kind). Ratios against tiktoken live in ``benchmarks/compare_tokenizer.py``; asv tracks refimpl's
own history.

subtle: refimpl keeps a cache of pieces, so timing the same text twice in one Encoding times a
dictionary. Classes that encode text therefore set ``number = 1`` and ``warmup_time = 0``
(asv then calls ``setup`` before every sample) and ``setup`` builds a fresh Encoding.
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from make_corpus import halves  # noqa: E402

import refimpl  # noqa: E402

ENCODINGS = ["cl100k_base", "o200k_base"]
KINDS = ["prose", "code", "multilingual"]


def fresh_encoding(name: str) -> refimpl.Encoding:
    """A new Encoding with an empty piece cache (get_encoding returns one shared object)."""
    shared = refimpl.get_encoding(name)
    return refimpl.Encoding(shared.name, pat_str=shared._pat_str,
                            mergeable_ranks=shared._mergeable_ranks,
                            special_tokens=shared._special_tokens)


class Encode:
    params = (ENCODINGS, KINDS)
    param_names = ["encoding", "corpus"]
    number = 1        # one call per sample, and setup before each sample:
    warmup_time = 0   # every timed call sees text this Encoding has not seen
    repeat = (3, 10, 30.0)

    def setup(self, name, kind):
        self.enc = fresh_encoding(name)
        cold, self.text = halves(kind)
        self.enc.encode_ordinary(cold)

    def time_encode_ordinary(self, name, kind):
        self.enc.encode_ordinary(self.text)

    def time_encode(self, name, kind):
        self.enc.encode(self.text, disallowed_special=())

    def time_count_tokens(self, name, kind):
        self.enc.count_tokens(self.text, disallowed_special=())

    def peakmem_encode_ordinary(self, name, kind):
        self.enc.encode_ordinary(self.text)

    def track_tokens_per_byte(self, name, kind):
        return len(self.enc.encode_ordinary(self.text)) / len(self.text.encode("utf-8"))

    track_tokens_per_byte.unit = "tokens/byte"


class Split:
    """The regex split alone (``refimpl.pattern``), half of a warm pass on prose. ``setup``
    splits the cold half first, so the programs for its pages of Unicode are compiled; the
    piece cache plays no part, so samples may repeat."""
    params = (ENCODINGS, KINDS)
    param_names = ["encoding", "corpus"]

    def setup(self, name, kind):
        self.split = fresh_encoding(name)._split
        cold, self.text = halves(kind)
        self.split.findall(cold)

    def time_findall(self, name, kind):
        self.split.findall(self.text)


class Decode:
    params = (ENCODINGS, KINDS)
    param_names = ["encoding", "corpus"]

    def setup(self, name, kind):
        self.enc = refimpl.get_encoding(name)
        self.tokens = self.enc.encode_ordinary(halves(kind)[1])

    def time_decode(self, name, kind):
        self.enc.decode(self.tokens)


class LongPiece:
    """One piece of 100 KB: random letters (cut where no token holds the byte pair, then
    merged segment by segment), one letter repeated (no cut: rounds of equal merges), random
    common letters (eight letters every pair of which some token holds: no cut, few repeats;
    safe merges, then the heap), and Han characters drawn with the corpus's frequencies (many
    short segments, most repeated)."""
    params = ["random letters", "one letter repeated", "random common letters", "Han characters"]
    param_names = ["piece"]
    number = 1
    warmup_time = 0
    repeat = (3, 10, 30.0)

    def setup(self, kind):
        import random

        import regex

        self.enc = fresh_encoding("cl100k_base")
        rng = random.Random(5)
        if kind == "random letters":
            self.piece = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(100_000))
        elif kind == "one letter repeated":
            self.piece = "a" * 100_000
        elif kind == "random common letters":
            self.piece = "".join(rng.choice("etaoinsh") for _ in range(100_000))
        else:
            han = "".join(regex.findall(r"\p{Han}+", "".join(halves("multilingual"))))
            self.piece = "".join(rng.choice(han) for _ in range(33_333))

    def time_encode_long_piece(self, kind):
        self.enc.encode_ordinary(self.piece)


class Load:
    params = ["cl100k_base", "o200k_base"]
    param_names = ["encoding"]

    def timeraw_get_encoding(self, name):
        # a fresh interpreter each time: the first get_encoding of a process
        return f"import refimpl; refimpl.get_encoding({name!r})", "import refimpl"


class ChatCounting:
    """count_prompt_tokens over the public request vectors (tests/data)."""

    def setup(self):
        path = os.path.join(os.path.dirname(HERE), "tests", "data", "chat_prompt_tokens.json")
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)
        keys = ("messages", "tools", "tool_choice", "functions", "function_call")
        self.requests = [
            dict({k: r[k] for k in keys if k in r}, model="gpt-4o")
            for r in rows if r.get("messages")
        ]
        for r in self.requests:
            refimpl.count_prompt_tokens(r)

    def time_count_prompt_tokens(self):
        for r in self.requests:
            refimpl.count_prompt_tokens(r)
