"""``encode_with_unstable``: which tokens are settled, and how the rest could complete.

When a text is a prefix of what will follow (a prompt being typed, a stream), its last tokens
may change once more text arrives: " fanta" could become " fantastic". tiktoken answers with
the stable tokens and every token sequence the unstable tail could start. This is a line-by-line
port of ``CoreBPE::_encode_unstable_native`` in tiktoken's ``src/lib.rs``, heuristics included
(they are tiktoken's; their comments are kept in spirit).
"""
from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, AbstractSet

from .bpe import byte_pair_encode

if TYPE_CHECKING:
    from .core import Encoding

_SPACE_BYTES = frozenset(b" \n\t")


def _increase_last_piece_token_len(enc: Encoding, tokens: list[int], last: int) -> int:
    """Regex splits are not stable around whitespace ("\\n" + " " can become "\\n \\n" under
    cl100k's ``\\s*[\\r\\n]+``), so a trailing run of all-whitespace tokens counts as unstable."""
    ranks_decoder = enc._decoder
    special = enc._special_token_values

    def all_space(token: int) -> bool:
        return token not in special and all(b in _SPACE_BYTES for b in ranks_decoder[token])

    if last > 0 and all_space(tokens[len(tokens) - last]):
        while last < len(tokens) and all_space(tokens[len(tokens) - last - 1]):
            last += 1
    return last


def _starting_with(sorted_bytes: list[bytes], prefix: bytes):
    i = bisect.bisect_left(sorted_bytes, prefix)
    while i < len(sorted_bytes) and sorted_bytes[i].startswith(prefix):
        yield sorted_bytes[i]
        i += 1


def _last_char_len(data: bytes) -> tuple[str | None, int]:
    """The last UTF-8 character of ``data`` and its length in bytes (None, 1 if invalid)."""
    for size in range(1, min(4, len(data)) + 1):
        try:
            char = data[-size:].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(char) == 1:
            return char, size
    return None, 1


def encode_with_unstable(enc: Encoding, text: str, allowed: AbstractSet[str]) -> tuple[list[int], list[list[int]]]:
    tokens, last = enc._encode_with_special(text, allowed)
    if last == 0:
        return tokens, []  # the text ended in a special token: nothing is unstable
    last = _increase_last_piece_token_len(enc, tokens, last)
    unstable = enc.decode_bytes(tokens[len(tokens) - last:])
    del tokens[len(tokens) - last:]
    completions: set[tuple[int, ...]] = set()
    if not unstable:
        return tokens, []
    ranks, decoder, sorted_bytes = enc._mergeable_ranks, enc._decoder, enc._sorted_token_bytes

    # 1. every single token that starts with the unstable bytes
    for tb in _starting_with(sorted_bytes, unstable):
        completions.add((ranks[tb],))

    # 2. a token straddling each other split point: prefix + a token starting with the suffix,
    #    re-tokenised, cut once it covers the unstable bytes
    for i in range(1, len(unstable)):
        prefix, suffix = unstable[:i], unstable[i:]
        for tb in _starting_with(sorted_bytes, suffix):
            possibility = prefix + tb
            try:
                encoded = enc.encode_ordinary(possibility.decode("utf-8"))
            except UnicodeDecodeError:
                encoded = byte_pair_encode(possibility, ranks)
            seq, seq_len = [], 0
            for token in encoded:
                seq.append(token)
                seq_len += len(decoder[token])
                if seq_len >= len(unstable):
                    break
            completions.add(tuple(seq))

    # 3. a split may appear inside trailing whitespace ("\n\n" + "0" -> "\n", "\n", "0")
    if len(unstable) > 1:
        char, size = _last_char_len(unstable)
        if len(unstable) - size > 0 and char is not None and char.isspace() and _is_white_space(char):
            reencoded = byte_pair_encode(unstable[:-size], ranks) + byte_pair_encode(unstable[-size:], ranks)
            completions.add(tuple(reencoded))
    return tokens, [list(c) for c in completions]


def _is_white_space(char: str) -> bool:
    """Rust's ``char::is_whitespace``: the White_Space property (Python's ``isspace`` also
    accepts U+001C..U+001F, which are not White_Space)."""
    return not ("\x1c" <= char <= "\x1f")
