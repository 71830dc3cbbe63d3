"""GPT-2's original "data gym" files (``vocab.bpe`` + ``encoder.json``), read and rebuilt.

GPT-2 shipped its tokenizer as a list of merges (``vocab.bpe``) and a token table
(``encoder.json``), both written in a printable alphabet in which each byte is one character:
printable bytes stand for themselves, the other 68 (controls, space, 0x7F-0xA0, 0xAD) are
mapped to U+0100 onwards. tiktoken's ``gpt2`` encoding loads these two files; their ranks are
exactly r50k_base's, which is why refimpl ships only r50k_base and can rebuild both files,
byte for byte, with the official SHA-256 (see ``_data/PROVENANCE.md``).
"""
from __future__ import annotations

import json
import os
from typing import Mapping

from .bpe import bpe_merge_textbook
from .errors import RankFileError
from .load import check_hash, read_file

VOCAB_BPE_HASH = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
ENCODER_JSON_HASH = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"


def _alphabet() -> tuple[list[int], dict[str, int]]:
    """GPT-2's byte order for ranks 0..255 and its char -> byte map (as tiktoken.load builds it)."""
    rank_to_intbyte = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    char_to_byte = {chr(b): b for b in rank_to_intbyte}
    n = 0
    for b in range(256):
        if b not in rank_to_intbyte:
            rank_to_intbyte.append(b)
            char_to_byte[chr(256 + n)] = b
            n += 1
    return rank_to_intbyte, char_to_byte


def _read_checked(path, expected_hash: str | None) -> bytes:
    data = read_file(path)
    if expected_hash is not None and not check_hash(data, expected_hash):
        raise RankFileError(f"{os.fspath(path)!r} does not have the expected sha256 {expected_hash}")
    return data


def data_gym_to_mergeable_bpe_ranks(
    vocab_bpe_file: str | os.PathLike,
    encoder_json_file: str | os.PathLike,
    vocab_bpe_hash: str | None = None,
    encoder_json_hash: str | None = None,
    clobber_one_byte_tokens: bool = False,
) -> dict[bytes, int]:
    """Mergeable ranks from a local data-gym pair, as ``tiktoken.load`` reads them.

    Ranks 0..255 are single bytes in GPT-2's alphabet order; each merge line adds the next rank.
    The encoder table must agree with the merges, or :class:`RankFileError` says where not.

    >>> import os, tempfile
    >>> from refimpl.load import load_bundled_ranks
    >>> vocab_bpe, encoder_json = mergeable_ranks_to_data_gym(load_bundled_ranks("r50k_base"))
    >>> folder = tempfile.mkdtemp()
    >>> for name, data in (("vocab.bpe", vocab_bpe), ("encoder.json", encoder_json)):
    ...     _ = open(os.path.join(folder, name), "wb").write(data)
    >>> ranks = data_gym_to_mergeable_bpe_ranks(os.path.join(folder, "vocab.bpe"),
    ...     os.path.join(folder, "encoder.json"), VOCAB_BPE_HASH, ENCODER_JSON_HASH)
    >>> ranks == load_bundled_ranks("r50k_base")
    True
    """
    rank_to_intbyte, char_to_byte = _alphabet()
    contents = _read_checked(vocab_bpe_file, vocab_bpe_hash).decode("utf-8")
    merges = [tuple(line.split()) for line in contents.split("\n")[1:-1]]

    def decode(value: str) -> bytes:
        try:
            return bytes(char_to_byte[c] for c in value)
        except KeyError as e:
            raise RankFileError(f"character {e.args[0]!r} is not in GPT-2's byte alphabet") from None

    ranks = {bytes([b]): i for i, b in enumerate(rank_to_intbyte)}
    for lineno, merge in enumerate(merges, 2):
        if len(merge) != 2:
            raise RankFileError(f"line {lineno} of {os.fspath(vocab_bpe_file)!r} is not two tokens: {merge!r}")
        ranks[decode(merge[0]) + decode(merge[1])] = len(ranks)
    table = json.loads(_read_checked(encoder_json_file, encoder_json_hash))
    loaded = {decode(k): v for k, v in table.items()}
    loaded.pop(b"<|endoftext|>", None)
    loaded.pop(b"<|startoftext|>", None)
    if clobber_one_byte_tokens:
        for k, v in loaded.items():
            if len(k) == 1:
                ranks[k] = v
    if ranks != loaded:
        bad = sorted(set(ranks.items()) ^ set(loaded.items()), key=lambda kv: kv[1])[:3]
        raise RankFileError(
            f"{os.fspath(encoder_json_file)!r} does not match the merges in "
            f"{os.fspath(vocab_bpe_file)!r}; first differences: {bad}"
        )
    return ranks


def mergeable_ranks_to_data_gym(ranks: Mapping[bytes, int]) -> tuple[bytes, bytes]:
    """Rebuild ``(vocab.bpe, encoder.json)`` bytes from mergeable ranks.

    Each token of rank >= 256 is written as the two parts that BPE, allowed only ranks below
    the token's own, leaves of the token's bytes. With r50k_base's ranks this gives GPT-2's
    files exactly (sha256 :data:`VOCAB_BPE_HASH` and :data:`ENCODER_JSON_HASH`); see
    :func:`data_gym_to_mergeable_bpe_ranks` for an example.
    """
    rank_to_intbyte, char_to_byte = _alphabet()
    byte_to_char = {b: c for c, b in char_to_byte.items()}
    if any(ranks.get(bytes([b])) != i for i, b in enumerate(rank_to_intbyte)):
        raise RankFileError("ranks 0..255 are not single bytes in GPT-2's alphabet order")

    def enc(token: bytes) -> str:
        return "".join(byte_to_char[b] for b in token)

    class _Below(dict):
        # ranks.get restricted to ranks < limit, so BPE stops one merge short of the token
        limit = 0

        def get(self, key, default=None):
            r = ranks.get(key)
            return r if r is not None and r < self.limit else default

    below = _Below()
    lines = ["#version: 0.2"]
    for token, rank in sorted(ranks.items(), key=lambda x: x[1]):
        if rank < 256:
            continue
        below.limit = rank
        parts = bpe_merge_textbook(below, token)
        if len(parts) != 2:
            raise RankFileError(f"token {token!r} (rank {rank}) does not come from one merge")
        lines.append(f"{enc(parts[0])} {enc(parts[1])}")
    vocab_bpe = ("\n".join(lines) + "\n").encode("utf-8")
    table = {enc(t): r for t, r in ranks.items()}
    table["<|endoftext|>"] = len(ranks)
    encoder_json = json.dumps(table).encode("utf-8")
    return vocab_bpe, encoder_json
