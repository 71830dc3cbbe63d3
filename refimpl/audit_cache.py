"""A content-keyed cache of text -> token ids for the chat counter, used by audits.

Request logs repeat themselves: the same system prompt and the same tool definitions precede
thousands of different user turns. Encoding is a pure function of (encoding, text), so
remembering the tokens of a text seen before cannot change any count; it only skips the regex
split and the merges of a long text the second time.

How it plugs in: the chat renderer encodes every text piece with
``get_encoding(name).encode_ordinary(text)``, and the counting functions take a
``get_encoding=`` argument. `TextCache.get_encoding` returns a thin proxy of the encoding whose
`encode_ordinary` looks texts up in the cache first; everything else is the real encoding.
The audit makes a cache *active* for a chunk of lines (``with cache:``, a `ContextVar`, so
other threads see nothing) and asks :func:`active_get_encoding` which getter to pass.

>>> from refimpl.chat_count import count_prompt_tokens
>>> cache = TextCache()
>>> system = {"role": "system", "content": "You are a careful assistant. " * 10}
>>> counts = [count_prompt_tokens({"model": "gpt-4o", "messages": [system,
...           {"role": "user", "content": f"Question {i}?"}]}, get_encoding=cache.get_encoding)
...           for i in range(3)]
>>> counts, cache.hits, cache.misses
([76, 76, 76], 2, 1)
"""
from __future__ import annotations

from collections import OrderedDict
from contextvars import ContextVar

from .registry import get_encoding as _registry_get_encoding

__all__ = ["TextCache", "active_get_encoding"]

_ACTIVE: ContextVar["TextCache | None"] = ContextVar("refimpl_text_cache", default=None)


def active_get_encoding():
    """The active cache's `get_encoding`, or None (plain encodings) when no cache is active."""
    cache = _ACTIVE.get()
    return None if cache is None else cache.get_encoding


class _CachedEncoding:
    """The encoding with a memoized `encode_ordinary`; every other attribute is the real one's."""

    __slots__ = ("_enc", "_cache")

    def __init__(self, enc, cache: "TextCache"):
        self._enc, self._cache = enc, cache

    def __getattr__(self, name):
        return getattr(self._enc, name)

    def encode_ordinary(self, text: str) -> list[int]:
        return self._cache.encode_ordinary(self._enc, text)


class TextCache:
    """An LRU map (encoding name, text) -> token ids, for texts of at least `min_chars` characters.

    * `max_entries` bounds the number of texts kept and `max_total_chars` their total length
      (least recently used are dropped first); `max_chars` is the longest text worth keeping.
      So memory stays bounded on any log (the defaults: a few tens of MB at most).
    * Short texts (a role, ``"\\n"``, a one-line question) are cheaper to encode than to hash
      and keep, so they bypass the cache.
    * `hits` and `misses` count lookups of cacheable texts.

    Use it as a context manager around the counting calls (see the module example); it can be
    entered again and again, and nested.
    """

    def __init__(self, max_entries: int = 4096, *, min_chars: int = 64, max_chars: int = 1_000_000,
                 max_total_chars: int = 8_000_000):
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"`max_entries` must be an int >= 1, got {max_entries!r}; pass e.g. 4096")
        self.max_entries, self.min_chars, self.max_chars = max_entries, min_chars, max_chars
        self.max_total_chars = max_total_chars
        self.hits = self.misses = self.total_chars = 0
        self._data: OrderedDict[tuple[str, str], tuple[int, ...]] = OrderedDict()
        self._proxies: dict[str, _CachedEncoding] = {}
        self._tokens: list = []

    def get_encoding(self, name: str) -> _CachedEncoding:
        """``refimpl.get_encoding(name)`` behind this cache (pass it as ``get_encoding=``)."""
        return self.proxy(_registry_get_encoding(name))

    def proxy(self, enc) -> _CachedEncoding:
        p = self._proxies.get(enc.name)
        if p is None or p._enc is not enc:
            p = self._proxies[enc.name] = _CachedEncoding(enc, self)
        return p

    def encode_ordinary(self, enc, text: str) -> list[int]:
        """``enc.encode_ordinary(text)``, from the cache when this text was seen before."""
        if not self.min_chars <= len(text) <= self.max_chars:
            return enc.encode_ordinary(text)
        key = (enc.name, text)  # content-keyed: equal texts from different requests share it
        ids = self._data.get(key)
        if ids is not None:
            self.hits += 1
            self._data.move_to_end(key)
            return list(ids)  # a fresh list, as encode_ordinary returns
        self.misses += 1
        ids = enc.encode_ordinary(text)
        self._data[key] = tuple(ids)
        self.total_chars += len(text)
        while len(self._data) > self.max_entries or self.total_chars > self.max_total_chars:
            (_, old), _ = self._data.popitem(last=False)
            self.total_chars -= len(old)
        return ids

    def __len__(self) -> int:
        return len(self._data)

    def __enter__(self) -> "TextCache":
        self._tokens.append(_ACTIVE.set(self))
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.reset(self._tokens.pop())
