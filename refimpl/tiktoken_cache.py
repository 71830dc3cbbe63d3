"""Fill a tiktoken cache folder from refimpl's bundled files, so the real tiktoken works offline.

tiktoken downloads each rank file once and keeps it in ``$TIKTOKEN_CACHE_DIR`` (or
``$DATA_GYM_CACHE_DIR``, or ``<tmp>/data-gym-cache``) under the name ``sha1(download URL)``,
checking the SHA-256 each time it reads it (``tiktoken/load.py``). Writing the same bytes under
the same names lets ``tiktoken.get_encoding`` load every public encoding with no network: behind a
firewall, in CI, and in refimpl's own parity tests. The URLs are the ``blobpath`` strings of
tiktoken 0.14.0's ``tiktoken_ext/openai_public.py``.
"""
from __future__ import annotations

import hashlib
import os
import tempfile

from . import data_gym
from .load import EXPECTED_HASHES, bundled_rank_file_bytes, check_hash, load_bundled_ranks

_BLOB = "https://openaipublic.blob.core.windows.net/"
TIKTOKEN_URLS = {
    "r50k_base": _BLOB + "encodings/r50k_base.tiktoken",
    "p50k_base": _BLOB + "encodings/p50k_base.tiktoken",
    "cl100k_base": _BLOB + "encodings/cl100k_base.tiktoken",
    "o200k_base": _BLOB + "encodings/o200k_base.tiktoken",
    "gpt2/vocab.bpe": _BLOB + "gpt-2/encodings/main/vocab.bpe",
    "gpt2/encoder.json": _BLOB + "gpt-2/encodings/main/encoder.json",
}
# Which cached files each encoding name needs.
_FILES_FOR = {
    "gpt2": ("gpt2/vocab.bpe", "gpt2/encoder.json"),
    "r50k_base": ("r50k_base",),
    "p50k_base": ("p50k_base",),
    "p50k_edit": ("p50k_base",),
    "cl100k_base": ("cl100k_base",),
    "o200k_base": ("o200k_base",),
    "o200k_harmony": ("o200k_base",),
}


def default_cache_dir() -> str:
    """The folder tiktoken reads its cache from, by its own rules.

    >>> import os
    >>> saved = dict(os.environ)
    >>> os.environ["TIKTOKEN_CACHE_DIR"] = "/tmp/my-cache"; default_cache_dir()
    '/tmp/my-cache'
    >>> os.environ.clear(); os.environ.update(saved)  # put the environment back
    """
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _file_bytes(key: str) -> tuple[bytes, str]:
    if key.startswith("gpt2/"):
        vocab_bpe, encoder_json = data_gym.mergeable_ranks_to_data_gym(load_bundled_ranks("r50k_base"))
        if key == "gpt2/vocab.bpe":
            return vocab_bpe, data_gym.VOCAB_BPE_HASH
        return encoder_json, data_gym.ENCODER_JSON_HASH
    return bundled_rank_file_bytes(key), EXPECTED_HASHES[key]


def fill_tiktoken_cache(cache_dir: str | os.PathLike | None = None,
                        encodings: list[str] | tuple[str, ...] | None = None) -> str:
    """Write the files tiktoken would download for ``encodings`` (default: all) into its cache.

    Returns the cache folder. Files already there with the right hash are left alone. Point
    tiktoken at the folder with ``TIKTOKEN_CACHE_DIR`` if it is not the default.

    >>> import os, tempfile
    >>> folder = fill_tiktoken_cache(tempfile.mkdtemp(), ["r50k_base"])
    >>> sorted(os.listdir(folder))
    ['0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4']
    """
    names = list(_FILES_FOR) if encodings is None else list(encodings)
    unknown = [n for n in names if n not in _FILES_FOR]
    if unknown:
        raise ValueError(
            f"unknown encoding(s) {unknown} for fill_tiktoken_cache; known: {', '.join(_FILES_FOR)}"
        )
    folder = os.fspath(cache_dir) if cache_dir is not None else default_cache_dir()
    os.makedirs(folder, exist_ok=True)
    keys = dict.fromkeys(k for n in names for k in _FILES_FOR[n])
    for key in keys:
        url = TIKTOKEN_URLS[key]
        path = os.path.join(folder, hashlib.sha1(url.encode()).hexdigest())
        data, expected = _file_bytes(key)
        if os.path.exists(path):
            with open(path, "rb") as f:
                if check_hash(f.read(), expected):
                    continue
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return folder
