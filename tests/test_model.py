"""Model names to encodings: tiktoken's table, plus the names it lacks."""
from __future__ import annotations

import pytest

import refimpl
from refimpl import model

# Where refimpl deliberately differs from tiktoken 0.14.0 (see the "# refimpl:" comments).
REFIMPL_FIXES = {"ft:gpt-4.1-mini-2025-04-14:acme::abc": "o200k_base", "ft:gpt-4.1-2025-04-14:x::y": "o200k_base"}


def test_every_tiktoken_model_maps_the_same(tiktoken):
    import tiktoken.model as tm

    names = list(tm.MODEL_TO_ENCODING) + [p + "x" for p in tm.MODEL_PREFIX_TO_ENCODING]
    for name in names:
        if name.startswith("ft:gpt-4") and not name.startswith(("ft:gpt-4o", "ft:gpt-4-")):
            continue
        assert refimpl.encoding_name_for_model(name) == tm.encoding_name_for_model(name), name


@pytest.mark.parametrize("name, expected", [
    ("gpt-5", "o200k_base"), ("gpt-5-mini-2025-08-07", "o200k_base"), ("gpt-5.1", "o200k_base"),
    ("gpt-4.1-nano", "o200k_base"), ("gpt-4.5", "o200k_base"), ("gpt-4.5-preview", "o200k_base"),
    ("gpt-4o", "o200k_base"), ("chatgpt-4o-latest", "o200k_base"), ("o1", "o200k_base"),
    ("o1-mini", "o200k_base"), ("o3-pro", "o200k_base"), ("o4-mini-2025-04-16", "o200k_base"),
    ("gpt-oss-120b", "o200k_harmony"), ("gpt-4", "cl100k_base"), ("gpt-4-turbo", "cl100k_base"),
    ("gpt-3.5-turbo-0301", "cl100k_base"), ("gpt-35-turbo-16k", "cl100k_base"),
    ("text-embedding-3-small", "cl100k_base"), ("text-davinci-003", "p50k_base"),
    ("code-davinci-edit-001", "p50k_edit"), ("davinci", "r50k_base"), ("gpt2", "gpt2"),
    ("ft:gpt-3.5-turbo-0613:acme::8abc", "cl100k_base"), ("ft:gpt-4o-mini:acme::x", "o200k_base"),
    ("computer-use-preview-2025-03-11", "o200k_base"), *REFIMPL_FIXES.items(),
])
def test_model_table(name, expected):
    assert refimpl.encoding_name_for_model(name) == expected
    assert refimpl.encoding_for_model(name).name == expected


def test_unknown_model_says_what_to_do():
    with pytest.raises(KeyError, match=r"Could not automatically map 'llama-3' to a tokeniser. Known model "
                                       r"families: gpt-5\*.*Use refimpl.get_encoding\(name\)"):
        refimpl.encoding_name_for_model("llama-3")
    with pytest.raises(TypeError, match=r"model name must be a str, got int 4"):
        refimpl.encoding_name_for_model(4)


def test_longest_prefix_wins():
    prefixes = [p for p, _ in model._PREFIXES]
    assert prefixes.index("ft:gpt-4.1") < prefixes.index("ft:gpt-4")
