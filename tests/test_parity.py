"""Differential property tests: refimpl against the real tiktoken, for all seven encodings."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ENCODING_NAMES

WHITESPACE = " \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d"
# Decimal digits from many scripts: ASCII, Arabic-Indic, Devanagari, Bengali, Thai, Lao,
# Tibetan, Myanmar, fullwidth, mathematical bold, and Unicode 17's Tolong Siki (not a digit to
# tiktoken, whose tables are Unicode 16.0).
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩०१२३४५६७८९০১২৩๐๑๒໐໑༠༡၀၁０１２𝟎𝟏𝟐\U00011de0\U00011de1"
FRAGMENTS = [
    "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL",
    "'d", "'D", "'\u017f", "'\u212a", "don't", "DON'T", "I'm", "we'LL", "’s",
    "camelCase", "HTTPServer", "getHTTPResponseCode", "XMLHttpRequest", "ǅungla", "ǈj",
    "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>",
    "<|start|>", "<|message|>", "<|reserved_200500|>", "<|", "|>", "<|endoftext",
    "\r\n", "\n\n", "  \n", " \n ", "\t\t", "//", "/\n", "...", "!!!", "{}", "=>", "->",
    "日本語", "中文", "Русский", "العربية", "नमस्ते", "ไทย", "한국어", "עברית", "Ελληνικά",
    "🙂", "👍🏽", "👨‍👩‍👧", "\u0301", "e\u0301", "\u200d", "\ufeff",
    "\U00010940", "\U000107bb", "\U00016ea0", "\U00016ebb", "\U00010ecb", "\U00011dd9",
]


def _texts():
    fragment = st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(alphabet=WHITESPACE, min_size=1, max_size=6),
        st.text(alphabet=DIGITS, min_size=1, max_size=7),
        st.text(alphabet="abcXYZ'", min_size=1, max_size=6),
        st.text(st.characters(), min_size=1, max_size=8),  # the whole code-point range
    )
    return st.lists(fragment, max_size=12).map("".join)


@pytest.mark.parametrize("name", ENCODING_NAMES)
@given(text=_texts())
def test_encode_ordinary_matches_tiktoken(encoding_pair, name, text):
    ours, theirs = encoding_pair(name)
    tokens = ours.encode_ordinary(text)
    assert tokens == theirs.encode_ordinary(text)
    assert ours.decode(tokens) == theirs.decode(tokens)
    assert ours.count_tokens(text, disallowed_special=()) == len(tokens)


@pytest.mark.parametrize("name", ENCODING_NAMES)
@given(text=_texts(), data=st.data())
def test_special_token_handling_matches_tiktoken(encoding_pair, name, text, data):
    ours, theirs = encoding_pair(name)
    specials = sorted(theirs.special_tokens_set)
    allowed = data.draw(st.one_of(st.just("all"), st.sets(st.sampled_from(specials[:40]), max_size=3)))
    disallowed = data.draw(st.one_of(st.just("all"), st.just(()), st.sets(st.sampled_from(specials[:40]), max_size=3)))
    kwargs = dict(allowed_special=allowed, disallowed_special=disallowed)
    try:
        expected = theirs.encode(text, **kwargs)
    except ValueError as e:
        with pytest.raises(ValueError) as ours_error:
            ours.encode(text, **kwargs)
        assert str(ours_error.value) == str(e)  # same message, token named the same way
        return
    assert ours.encode(text, **kwargs) == expected
    assert ours.count_tokens(text, **kwargs) == len(expected)
    assert ours.encode_to_numpy(text, **kwargs).tolist() == expected


@pytest.mark.parametrize("name", ENCODING_NAMES)
@given(text=_texts())
def test_round_trip_and_offsets_match_tiktoken(encoding_pair, name, text):
    ours, theirs = encoding_pair(name)
    tokens = theirs.encode(text, allowed_special="all")
    assert ours.decode_bytes(tokens) == theirs.decode_bytes(tokens)
    assert ours.decode_tokens_bytes(tokens) == theirs.decode_tokens_bytes(tokens)
    try:
        expected = theirs.decode_with_offsets(tokens)
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            ours.decode_with_offsets(tokens)
        return
    assert ours.decode_with_offsets(tokens) == expected
    # Text that is valid UTF-8 (no lone surrogates) round-trips exactly.
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert ours.decode(ours.encode(text, allowed_special="all")) == text


@pytest.mark.parametrize("name", ENCODING_NAMES)
@given(text=st.lists(st.sampled_from(["a", "b", " ", "\n", "!", "1", "é", "'s", "hello", " fant"]), max_size=6).map("".join))
@settings(max_examples=25)
def test_encode_with_unstable_matches_tiktoken(encoding_pair, name, text):
    ours, theirs = encoding_pair(name)
    stable, completions = ours.encode_with_unstable(text)
    expected_stable, expected_completions = theirs.encode_with_unstable(text)
    assert stable == expected_stable
    assert {tuple(c) for c in completions} == {tuple(c) for c in expected_completions}


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@given(text=st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=12))
def test_surrogates_are_fixed_up_like_tiktoken(encoding_pair, name, text):
    # Lone and paired surrogates: tiktoken re-decodes the text through UTF-16 with "replace".
    ours, theirs = encoding_pair(name)
    assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)


@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_vocabulary_matches_tiktoken(encoding_pair, name):
    ours, theirs = encoding_pair(name)
    assert ours.n_vocab == theirs.n_vocab
    assert ours.max_token_value == theirs.max_token_value
    assert ours.special_tokens_set == theirs.special_tokens_set
    assert ours._pat_str == theirs._pat_str
    assert ours._special_tokens == theirs._special_tokens
    assert ours._mergeable_ranks == theirs._mergeable_ranks
    assert ours.token_byte_values() == theirs.token_byte_values()
    assert ours.eot_token == theirs.eot_token


@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_every_special_token_encodes_and_decodes_like_tiktoken(encoding_pair, name):
    ours, theirs = encoding_pair(name)
    for token in sorted(theirs.special_tokens_set):
        ids = theirs.encode(token, allowed_special="all")
        assert ours.encode(token, allowed_special="all") == ids
        assert ours.decode_single_token_bytes(ids[0]) == theirs.decode_single_token_bytes(ids[0])
        assert ours.encode_single_token(token) == theirs.encode_single_token(token)
