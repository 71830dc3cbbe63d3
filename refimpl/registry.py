"""TEMPORARY development shim: delegates to the real tiktoken until the pure-Python
tokenizer lands (issue 2). Do not rely on anything here but `get_encoding`."""
import os

os.environ.setdefault("TIKTOKEN_CACHE_DIR", "/work/tkcache")
import tiktoken  # noqa: E402


def get_encoding(name):
    return tiktoken.get_encoding(name)


def encoding_for_model(model):
    return tiktoken.encoding_for_model(model)
