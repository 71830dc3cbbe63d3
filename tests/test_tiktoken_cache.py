"""Filling tiktoken's cache so the real tiktoken works with no network."""
from __future__ import annotations

import os

import pytest

import refimpl
from conftest import ENCODING_NAMES


def test_every_encoding_loads_in_tiktoken_from_the_filled_cache(tiktoken):
    # The session fixture filled the cache; tiktoken re-checks every file's SHA-256.
    for name in ENCODING_NAMES:
        assert tiktoken.get_encoding(name).encode("hello world") == refimpl.get_encoding(name).encode("hello world")


def test_fill_is_idempotent_and_repairs(tmp_path):
    folder = refimpl.fill_tiktoken_cache(tmp_path, ["cl100k_base"])
    (name,) = os.listdir(folder)
    path = os.path.join(folder, name)
    mtime = os.stat(path).st_mtime_ns
    refimpl.fill_tiktoken_cache(tmp_path, ["cl100k_base"])
    assert os.stat(path).st_mtime_ns == mtime
    with open(path, "wb") as f:
        f.write(b"broken")
    refimpl.fill_tiktoken_cache(tmp_path, ["cl100k_base"])
    assert os.path.getsize(path) > 1000


def test_default_folder_follows_tiktoken(monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "t"))
    assert refimpl.fill_tiktoken_cache(encodings=["r50k_base"]) == str(tmp_path / "t")


def test_unknown_encoding_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown encoding\(s\) \['cl200k'\] for fill_tiktoken_cache; known: gpt2"):
        refimpl.fill_tiktoken_cache(tmp_path, ["cl200k"])
