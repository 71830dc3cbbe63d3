"""Read and write BPE rank files, and load the ones bundled with refimpl, verified.

A ``.tiktoken`` rank file has one line per token: ``base64(token bytes) SPACE rank``, sorted by
rank. refimpl bundles the official files (gzip) in ``refimpl/_data`` and checks each against the
SHA-256 tiktoken pins for the official download before using it; see ``_data/PROVENANCE.md``.
Nothing here touches the network: a URL is refused with a message saying what to do instead.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import os
import sys
import threading
from importlib import resources
from typing import Mapping

from .errors import RankFileError

# SHA-256 of the *uncompressed* official files, as pinned in tiktoken_ext/openai_public.py.
EXPECTED_HASHES = {
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
# The files shipped in refimpl/_data; p50k_base is derived from r50k_base (below).
BUNDLED_FILES = {
    "r50k_base": "r50k_base.tiktoken.gz",
    "cl100k_base": "cl100k_base.tiktoken.gz",
    "o200k_base": "o200k_base.tiktoken.gz",
}


def check_hash(data: bytes, expected_hash: str) -> bool:
    """True if ``sha256(data)`` is ``expected_hash`` (hex), as in tiktoken.load.

    >>> check_hash(b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    True
    """
    return hashlib.sha256(data).hexdigest() == expected_hash


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of a local file; ``.gz`` files are decompressed. URLs are refused.

    >>> read_file("https://example.com/r50k_base.tiktoken")
    Traceback (most recent call last):
    ...
    refimpl.errors.RankFileError: refimpl never downloads: cannot read 'https://example.com/r50k_base.tiktoken'. Download the file yourself and pass its local path, or use a bundled encoding with refimpl.get_encoding(name).
    """
    path = os.fspath(path)
    if "://" in path:
        raise RankFileError(
            f"refimpl never downloads: cannot read {path!r}. Download the file yourself and pass "
            "its local path, or use a bundled encoding with refimpl.get_encoding(name)."
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RankFileError(f"cannot read rank file {path!r}: {e.strerror}") from None
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def _strict_b64decode(data: bytes) -> bytes:
    """Base64 that rejects anything outside the alphabet (binascii's strict mode, Python 3.11+)."""
    return binascii.a2b_base64(data, strict_mode=True)


if sys.version_info < (3, 11):  # pragma: no cover - no strict_mode before 3.11
    def _strict_b64decode(data: bytes) -> bytes:  # noqa: F811
        return base64.b64decode(data, validate=True)


def parse_tiktoken_bpe(contents: bytes, source: str = "<bytes>") -> dict[bytes, int]:
    """Parse the contents of a ``.tiktoken`` file into ``{token bytes: rank}``.

    >>> parse_tiktoken_bpe(b"YQ== 0\\nYg== 1\\n")
    {b'a': 0, b'b': 1}
    """
    ranks: dict[bytes, int] = {}
    b64 = _strict_b64decode
    for lineno, line in enumerate(contents.splitlines(), 1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[b64(token)] = int(rank)
        except (ValueError, binascii.Error):
            raise RankFileError(
                f"line {lineno} of {source} is {line[:80]!r}; expected "
                "'<base64 token bytes> <integer rank>'"
            ) from None
    return ranks


def load_tiktoken_bpe(tiktoken_bpe_file: str | os.PathLike,
                      expected_hash: str | None = None) -> dict[bytes, int]:
    """Load a ``.tiktoken`` (or ``.tiktoken.gz``) file from a local path.

    ``expected_hash`` is the SHA-256 of the uncompressed contents; a mismatch raises
    :class:`RankFileError` naming the file and both hashes.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.tiktoken")
    >>> dump_tiktoken_bpe({b"a": 0, b"b": 1, b"ab": 2}, path)
    >>> load_tiktoken_bpe(path)
    {b'a': 0, b'b': 1, b'ab': 2}
    """
    data = read_file(tiktoken_bpe_file)
    if expected_hash is not None and not check_hash(data, expected_hash):
        raise RankFileError(
            f"rank file {os.fspath(tiktoken_bpe_file)!r} has sha256 "
            f"{hashlib.sha256(data).hexdigest()}, expected {expected_hash}: the file is "
            "altered or is not the one you meant"
        )
    return parse_tiktoken_bpe(data, os.fspath(tiktoken_bpe_file))


def dump_tiktoken_bpe(bpe_ranks: Mapping[bytes, int], tiktoken_bpe_file: str | os.PathLike) -> None:
    """Write ``bpe_ranks`` as a ``.tiktoken`` file (gzip if the name ends in ``.gz``).

    The bytes are exactly what :func:`tiktoken_bpe_bytes` returns (see
    :func:`load_tiktoken_bpe` for an example).
    """
    data = tiktoken_bpe_bytes(bpe_ranks)
    path = os.fspath(tiktoken_bpe_file)
    if path.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)


def tiktoken_bpe_bytes(bpe_ranks: Mapping[bytes, int]) -> bytes:
    """The ``.tiktoken`` file for ``bpe_ranks``: lines sorted by rank, each ending in ``\\n``.

    >>> tiktoken_bpe_bytes({b"b": 1, b"a": 0})
    b'YQ== 0\\nYg== 1\\n'
    """
    return b"".join(
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(bpe_ranks.items(), key=lambda x: x[1])
    )


def _bundled_bytes(filename: str) -> bytes:
    try:
        raw = resources.files("refimpl").joinpath("_data", filename).read_bytes()
    except (FileNotFoundError, OSError):
        raise RankFileError(
            f"bundled rank file refimpl/_data/{filename} is missing; reinstall refimpl "
            "(pip install --force-reinstall refimpl) or load your own copy with "
            "refimpl.load_tiktoken_bpe(path)"
        ) from None
    return gzip.decompress(raw)


def p50k_extra_ranks() -> dict[bytes, int]:
    """The 24 tokens p50k_base adds to r50k_base: ``" " * n`` at rank ``50257 + n - 2``, n = 2..25.

    >>> extra = p50k_extra_ranks(); len(extra), extra[b"  "], extra[b" " * 25]
    (24, 50257, 50280)
    """
    return {b" " * n: 50257 + n - 2 for n in range(2, 26)}


def bundled_rank_file_bytes(name: str) -> bytes:
    """The official ``.tiktoken`` file of a bundled encoding, verified by SHA-256.

    ``name`` is ``r50k_base``, ``p50k_base``, ``cl100k_base`` or ``o200k_base``. p50k_base is
    rebuilt from r50k_base plus :func:`p50k_extra_ranks`; the result is checked against the
    official p50k_base hash like the others.

    >>> bundled_rank_file_bytes("r50k_base")[:6]
    b'IQ== 0'
    """
    if name not in EXPECTED_HASHES:
        raise RankFileError(
            f"no bundled rank file named {name!r}; bundled: {', '.join(EXPECTED_HASHES)}"
        )
    if name == "p50k_base":
        data = bundled_rank_file_bytes("r50k_base") + tiktoken_bpe_bytes(p50k_extra_ranks())
    else:
        data = _bundled_bytes(BUNDLED_FILES[name])
    expected = EXPECTED_HASHES[name]
    if not check_hash(data, expected):
        shown = "r50k_base.tiktoken.gz" if name == "p50k_base" else BUNDLED_FILES[name]
        raise RankFileError(
            f"bundled rank file refimpl/_data/{shown} does not match the official {name} "
            f"(expected sha256 {expected}, got {hashlib.sha256(data).hexdigest()}); the "
            "installation is corrupt: reinstall refimpl"
        )
    return data


def load_bundled_ranks(name: str) -> dict[bytes, int]:
    """``{token bytes: rank}`` of a bundled encoding's rank file, verified: a new dict.

    >>> len(load_bundled_ranks("r50k_base"))
    50256
    """
    return parse_tiktoken_bpe(bundled_rank_file_bytes(name), f"bundled {name}")


# The bundled encodings share one dict per rank file (shared_bundled_ranks); tables computed
# ahead from a rank file (refimpl.bpe_chars) apply to that very dict, never to a look-alike.
_SHARED: dict[str, dict[bytes, int]] = {}
_SHARED_LOCK = threading.Lock()


def shared_bundled_ranks(name: str) -> dict[bytes, int]:
    """:func:`load_bundled_ranks`, loaded once per process and shared by the bundled encodings
    (the registry's constructors); do not change it.

    >>> shared_bundled_ranks("r50k_base") is shared_bundled_ranks("r50k_base")
    True
    """
    ranks = _SHARED.get(name)
    if ranks is None:
        with _SHARED_LOCK:  # two threads must not each load (and share) a different dict
            ranks = _SHARED.get(name)
            if ranks is None:
                ranks = _SHARED[name] = load_bundled_ranks(name)
    return ranks


def bundled_name(ranks: Mapping[bytes, int]) -> str | None:
    """The name of the bundled rank file if ``ranks`` is the dict :func:`shared_bundled_ranks`
    returns for it (that very object), else None.

    >>> bundled_name(shared_bundled_ranks("r50k_base")), bundled_name(load_bundled_ranks("r50k_base"))
    ('r50k_base', None)
    """
    for name, loaded in _SHARED.items():
        if loaded is ranks:
            return name
    return None
