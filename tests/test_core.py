"""The Encoding API: golden vectors, special tokens, errors, batch, numpy, pickling."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import refimpl
from refimpl import DisallowedSpecialTokenError, Encoding, get_encoding

GOLDEN = [
    # (encoding, text, tokens): published in tiktoken's README and test suite
    ("cl100k_base", "hello world", [15339, 1917]),
    ("gpt2", "hello world", [31373, 995]),
    ("r50k_base", "hello world", [31373, 995]),
    ("p50k_base", "hello world", [31373, 995]),
    ("o200k_base", "hello world", [24912, 2375]),
    ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
    ("gpt2", "hello <|endoftext|>", [31373, 220, 50256]),
    ("p50k_base", "    ", [50259]),  # p50k's runs of spaces: n spaces -> rank 50257 + n - 2
]


@pytest.mark.parametrize("name, text, tokens", GOLDEN)
def test_golden_vectors(name, text, tokens):
    enc = get_encoding(name)
    assert enc.encode(text, allowed_special="all") == tokens
    assert enc.decode(tokens) == text


def test_disallowed_special_message_names_token_and_both_ways_out():
    enc = get_encoding("cl100k_base")
    with pytest.raises(DisallowedSpecialTokenError, match=r"disallowed special token '<\|endoftext\|>'") as e:
        enc.encode("hi <|endoftext|>")
    assert isinstance(e.value, ValueError) and e.value.token == "<|endoftext|>"
    assert "allowed_special={'<|endoftext|>', ...}" in str(e.value)
    assert "disallowed_special=(enc.special_tokens_set - {'<|endoftext|>'})" in str(e.value)
    assert "disallowed_special=()" in str(e.value)
    for method in (enc.encode_to_numpy, enc.count_tokens, enc.encode_with_unstable):
        with pytest.raises(DisallowedSpecialTokenError):
            method("<|fim_prefix|>")
    with pytest.raises(DisallowedSpecialTokenError):
        enc.encode_batch(["ok", "<|endofprompt|>"])


def test_special_tokens_allowed_one_by_one():
    enc = get_encoding("cl100k_base")
    text = "<|fim_prefix|>a<|endoftext|>"
    assert enc.encode(text, allowed_special={"<|fim_prefix|>"}, disallowed_special=()) == \
        [100258, 64] + enc.encode_ordinary("<|endoftext|>")
    assert enc.encode(text, allowed_special="all") == [100258, 64, 100257]


def test_count_and_limit():
    enc = get_encoding("o200k_base")
    text = "The quick brown fox jumps over the lazy dog. " * 50
    n = len(enc.encode(text))
    assert enc.count_tokens(text) == n
    assert enc.is_within_token_limit(text, n) is True
    assert enc.is_within_token_limit(text, n - 1) is False
    assert enc.count_tokens("<|endoftext|>", allowed_special="all") == 1


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True, None])
def test_limit_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match=r"`limit` must be an integer >= 0, got"):
        get_encoding("gpt2").is_within_token_limit("hi", bad)


def test_is_within_token_limit_stops_early():
    enc = get_encoding("cl100k_base")
    enc._cache.clear()
    text = " ".join(f"zq{i}xv" for i in range(10_000))  # 10,000 distinct pieces
    assert enc.is_within_token_limit(text, 3) is False
    assert len(enc._cache) < 10  # BPE ran on a handful of pieces, not on all of them


def test_encode_to_numpy_and_batches():
    enc = get_encoding("cl100k_base")
    arr = enc.encode_to_numpy("hello world")
    assert arr.dtype == np.uint32 and arr.tolist() == [15339, 1917]
    texts = ["hello world", "goodbye world", ""]
    assert enc.encode_batch(texts) == [enc.encode(t) for t in texts]
    assert enc.encode_ordinary_batch(texts, num_threads=2) == [enc.encode_ordinary(t) for t in texts]
    batch = enc.encode_batch(texts)
    assert enc.decode_batch(batch) == texts
    assert enc.decode_bytes_batch(batch) == [t.encode() for t in texts]


def test_single_tokens_and_specials():
    enc = get_encoding("gpt2")
    assert enc.encode_single_token("hello") == 31373
    assert enc.encode_single_token(b"hello") == 31373
    assert enc.encode_single_token("<|endoftext|>") == 50256
    with pytest.raises(KeyError):
        enc.encode_single_token("hello world")
    assert enc.decode_single_token_bytes(50256) == b"<|endoftext|>"
    assert enc.is_special_token(50256) and not enc.is_special_token(0)
    assert enc.eot_token == 50256 and enc.n_vocab == 50257 and enc.max_token_value == 50256
    with pytest.raises(TypeError, match=r"token must be an int, got str '1'"):
        enc.is_special_token("1")


def test_decode_of_an_unknown_token_says_the_valid_range():
    enc = get_encoding("cl100k_base")
    with pytest.raises(KeyError, match=r"Invalid token for decoding: 100261; cl100k_base has ids 0..100276 with gaps"):
        enc.decode([15339, 100261])
    with pytest.raises(KeyError, match=r"Invalid token for decoding: -1"):
        enc.decode_single_token_bytes(-1)
    with pytest.raises(KeyError, match=r"Invalid token for decoding: 'a'"):
        enc.decode(["a"])


def test_decode_errors_argument():
    enc = get_encoding("cl100k_base")
    lone = enc._mergeable_ranks[b"\xe6"]  # the first byte of a 3-byte character
    assert enc.decode([lone]) == "\ufffd"
    assert enc.decode([lone], errors="ignore") == ""
    with pytest.raises(UnicodeDecodeError):
        enc.decode([lone], errors="strict")
    assert enc.decode_bytes([]) == b""


def test_offsets_inside_multibyte_characters():
    enc = get_encoding("cl100k_base")
    text, offsets = enc.decode_with_offsets(enc.encode("hello 🙂 world"))
    assert text == "hello 🙂 world"
    assert offsets[0] == 0 and offsets[-1] == text.index(" world")


def test_pickle_by_name_and_by_value():
    enc = get_encoding("o200k_base")
    assert pickle.loads(pickle.dumps(enc)).encode("hi") == enc.encode("hi")
    assert pickle.dumps(enc) == pickle.dumps(get_encoding("o200k_base"))
    custom = Encoding("tiny", pat_str=r"\S+|\s+", mergeable_ranks={bytes([i]): i for i in range(256)} | {b"hi": 256},
                      special_tokens={"<|x|>": 257})
    again = pickle.loads(pickle.dumps(custom))
    assert again.name == "tiny" and again.encode("hi <|x|>", allowed_special="all") == [256, 32, 257]


def test_custom_encoding_checks_explicit_n_vocab():
    ranks = {bytes([i]): i for i in range(256)}
    with pytest.raises(ValueError, match=r"explicit_n_vocab is 300, but there are 256 mergeable \+ 0 special tokens"):
        Encoding("x", pat_str=r"\S+", mergeable_ranks=ranks, special_tokens={}, explicit_n_vocab=300)
    with pytest.raises(ValueError, match=r"mergeable_ranks is empty"):
        Encoding("x", pat_str=r"\S+", mergeable_ranks={}, special_tokens={})
    dup = dict(ranks) | {b"ab": 5}
    with pytest.raises(ValueError, match=r"two mergeable tokens share a rank"):
        Encoding("x", pat_str=r"\S+", mergeable_ranks=dup, special_tokens={}).decode([5])


def test_repr_and_public_names():
    assert repr(get_encoding("gpt2")) == "<Encoding 'gpt2'>"
    for name in refimpl.__all__:
        assert getattr(refimpl, name) is not None


def test_text_must_be_str():
    enc = get_encoding("cl100k_base")
    with pytest.raises(TypeError, match=r"text must be a str, got bytes: decode bytes first"):
        enc.encode(b"hi")
    with pytest.raises(TypeError, match=r"text must be a str, got NoneType"):
        enc.encode_ordinary(None)
    with pytest.raises(TypeError, match=r"text must be a str, got int"):
        enc.count_tokens(5)


def test_special_token_sets_accept_any_collection_and_reject_strings():
    enc = get_encoding("cl100k_base")
    assert enc.encode("<|endoftext|>", allowed_special=["<|endoftext|>"]) == [100257]
    assert enc.encode("<|endoftext|>", disallowed_special=[]) == enc.encode_ordinary("<|endoftext|>")
    with pytest.raises(TypeError, match=r"`allowed_special` must be \"all\" or a set of special-token strings, "
                                        r"got the string '<\|endoftext\|>'; wrap it in a set"):
        enc.encode("x", allowed_special="<|endoftext|>")
    with pytest.raises(TypeError, match=r"`disallowed_special` must be \"all\" or a set .* got int 3"):
        enc.encode("x", disallowed_special=3)


def test_numpy_token_arrays_decode():
    enc = get_encoding("cl100k_base")
    assert enc.decode(np.array([15339, 1917], dtype=np.uint32)) == "hello world"
    assert enc.decode(enc.encode_to_numpy("hello world")) == "hello world"
