"""The dated rules table: aliases, snapshots, families and the unknown-model error."""
from __future__ import annotations

import datetime as dt

import pytest

from refimpl.chat_count import count_prompt_tokens
from refimpl.chat_errors import UnknownModelError
from refimpl.chat_rules import known_families, parse_date, resolve_rules


@pytest.mark.parametrize("alias, day, snapshot", [
    ("gpt-3.5-turbo", "2023-03-10", "gpt-3.5-turbo-0301"),
    ("gpt-3.5-turbo", "2023-06-26", "gpt-3.5-turbo-0301"),
    ("gpt-3.5-turbo", "2023-06-27", "gpt-3.5-turbo-0613"),
    ("gpt-3.5-turbo", None, "gpt-3.5-turbo-0125"),
    ("gpt-4", "2023-04-01", "gpt-4-0314"),
    ("gpt-4", None, "gpt-4-0613"),
    ("gpt-4o", "2024-06-01", "gpt-4o-2024-05-13"),
    ("gpt-4o", None, "gpt-4o-2024-08-06"),
    ("gpt-35-turbo", "2024-05-01", "gpt-3.5-turbo-0125"),
])
def test_alias_history(alias, day, snapshot):
    assert resolve_rules(alias, as_of=day).snapshot == snapshot


def test_0301_and_0314_priming_change():
    assert resolve_rules("gpt-3.5-turbo-0301", as_of="2023-03-20").reply_priming == 2
    assert resolve_rules("gpt-3.5-turbo-0301", as_of="2023-03-24").reply_priming == 3
    assert resolve_rules("gpt-3.5-turbo-0301", as_of=dt.date(2023, 1, 1)).tokens_per_message == 4
    assert resolve_rules("gpt-4-0314", as_of=dt.datetime(2023, 3, 20, 12)).reply_priming == 2
    assert resolve_rules("gpt-4-0314").reply_priming == 3


@pytest.mark.parametrize("model, encoding, base", [
    ("gpt-4o-2024-11-20", "o200k_base", 85), ("gpt-4o-mini", "o200k_base", 2833),
    ("o1", "o200k_base", 75), ("o3-2025-04-16", "o200k_base", 75), ("gpt-5", "o200k_base", 70),
    ("computer-use-preview", "o200k_base", 65), ("gpt-4-turbo", "cl100k_base", 85),
    ("ft:gpt-4o-mini-2024-07-18:org::abc", "o200k_base", 2833),
    ("gpt-4-1106-vision-preview", "cl100k_base", 85), ("gpt-4v", "cl100k_base", 85),
])
def test_families_and_image_constants(model, encoding, base):
    rules = resolve_rules(model)
    assert rules.encoding == encoding and rules.image.base == base


def test_patch_models_and_harmony():
    assert resolve_rules("gpt-4.1-mini").image.multiplier == 1.62
    assert resolve_rules("gpt-4.1-nano").image.multiplier == 2.46
    assert resolve_rules("o4-mini").image.multiplier == 1.72
    assert resolve_rules("gpt-5-nano").image.kind == "patch"
    oss = resolve_rules("gpt-oss-120b")
    assert (oss.format, oss.encoding) == ("harmony", "o200k_harmony")
    assert resolve_rules("gpt-3.5-turbo").image is None


def test_tools_revision_by_date():
    assert resolve_rules("gpt-3.5-turbo", as_of="2023-08-01").tools_revision == "2023-06"
    assert resolve_rules("gpt-3.5-turbo", as_of="2024-05-01").tools_revision == "2023-11"


def test_unmeasured_families_are_flagged():
    assert resolve_rules("gpt-5").estimated and not resolve_rules("gpt-4o").estimated


def test_unknown_model_lists_families_and_the_fix():
    with pytest.raises(UnknownModelError, match=r"unknown chat model at request\.model: found 'llama-3'.*gpt-4o-mini.*rules="):
        resolve_rules("llama-3")
    with pytest.raises(KeyError):  # UnknownModelError is a KeyError
        count_prompt_tokens({"model": "claude", "messages": [{"role": "user", "content": "hi"}]})
    assert "gpt-oss" in known_families()


def test_model_must_be_a_string():
    with pytest.raises(UnknownModelError, match=r"`model` must be a non-empty string at request\.model: found None"):
        count_prompt_tokens({"messages": [{"role": "user", "content": "hi"}]})


def test_bad_as_of():
    with pytest.raises(UnknownModelError, match=r"`as_of` is not a date at as_of: found 'yesterday'.*YYYY-MM-DD"):
        parse_date("yesterday")


def test_explicit_rules_override_the_table():
    req = {"model": "my-finetune", "messages": [{"role": "user", "content": "hi"}]}
    rules = resolve_rules("gpt-4o").replace(tokens_per_message=4)
    assert count_prompt_tokens(req, rules=rules) == 1 + 1 + 4 + 3
