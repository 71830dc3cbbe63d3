"""Shared test set-up: Hypothesis profiles and the real tiktoken, offline.

Profiles (choose with ``--hypothesis-profile=NAME``):

* ``ci`` (default): bounded and derandomized, so a run is repeatable and fits CI's budget;
* ``thorough``: ten times the examples with fresh randomness, for local runs.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=600,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci")

ENCODING_NAMES = [
    "gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony",
]


@pytest.fixture(scope="session")
def tiktoken(tmp_path_factory):
    """The real tiktoken, loading its rank files from a cache refimpl filled (no network).

    Everything tiktoken needs is written by :func:`refimpl.fill_tiktoken_cache` from the
    bundled, hash-checked files; tiktoken re-checks each file's SHA-256 when it reads it.
    """
    import tiktoken  # a test dependency: parity tests must fail, not skip, without it
    import refimpl

    folder = refimpl.fill_tiktoken_cache(tmp_path_factory.mktemp("tiktoken-cache"))
    old = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    yield tiktoken
    if old is None:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    else:
        os.environ["TIKTOKEN_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def encoding_pair(tiktoken):
    """``pair(name) -> (refimpl encoding, tiktoken encoding)``."""
    import refimpl

    def pair(name):
        return refimpl.get_encoding(name), tiktoken.get_encoding(name)

    return pair
