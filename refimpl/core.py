"""The ``Encoding`` class: tiktoken's API over a pure-Python BPE.

Encoding a text takes four steps, the same as tiktoken's ``CoreBPE::encode``:

1. find the next *allowed* special token (special tokens are matched literally, not split);
2. split the text before it into pieces with the encoding's regex (:mod:`refimpl.pattern`);
3. turn each piece into tokens: a piece that is itself a token is one token, anything else
   goes through BPE (:mod:`refimpl.bpe`);
4. emit the special token and carry on after it.

Methods, arguments, defaults and errors follow ``tiktoken.core.Encoding`` so that refimpl can
stand in for tiktoken; where tiktoken would raise from deep inside (a bad token id, a missing
byte) refimpl raises the same exception type with a message that says what to do.
"""
from __future__ import annotations

import functools
from itertools import chain
from typing import AbstractSet, Collection, Literal, Sequence

from .bpe import byte_pair_encode, byte_pair_split
from .piece_cache import PieceCache
from .errors import DisallowedSpecialTokenError
from .inputs import check_text, fix_surrogates, literal_alternation, token_set
from .pattern import SplitPattern


class Encoding:
    """A byte-level BPE encoding with tiktoken's interface.

    >>> from refimpl import get_encoding
    >>> enc = get_encoding("cl100k_base")
    >>> enc.encode("hello world")
    [15339, 1917]
    >>> enc.decode([15339, 1917])
    'hello world'
    """

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ):
        self.name = name
        self._pat_str = pat_str
        self._mergeable_ranks = mergeable_ranks
        self._special_tokens = special_tokens
        if not mergeable_ranks:
            raise ValueError(f"encoding {name!r}: mergeable_ranks is empty; it needs at least the 256 single bytes")
        self.max_token_value = max(
            max(mergeable_ranks.values()), max(special_tokens.values(), default=0)
        )
        if explicit_n_vocab:
            n_given = len(mergeable_ranks) + len(special_tokens)
            if n_given != explicit_n_vocab or self.max_token_value != explicit_n_vocab - 1:
                raise ValueError(
                    f"encoding {name!r}: explicit_n_vocab is {explicit_n_vocab}, but there are "
                    f"{len(mergeable_ranks)} mergeable + {len(special_tokens)} special tokens "
                    f"and the largest id is {self.max_token_value}; fix the ranks or drop "
                    "explicit_n_vocab"
                )
        self._special_token_values = set(special_tokens.values())
        self._split = SplitPattern(pat_str)
        # Longest first, so that a special token that is a prefix of another never wins.
        self._special_re = literal_alternation(frozenset(special_tokens)) if special_tokens else None
        self._cache = PieceCache(mergeable_ranks)

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ====================
    # Encoding
    # ====================

    def encode_ordinary(self, text: str) -> list[int]:
        """Encodes a string into tokens, ignoring special tokens.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").encode_ordinary("hello world")
        [31373, 995]
        """
        check_text(text)
        out: list[int] = []
        try:
            self._encode_segment(text, out)
        except UnicodeEncodeError:
            out = []
            self._encode_segment(fix_surrogates(text), out)
        return out

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),  # noqa: B006
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encodes a string into tokens, with tiktoken's rules for special tokens.

        By default any text that spells a special token raises
        :class:`~refimpl.errors.DisallowedSpecialTokenError` (a ``ValueError``). Pass the token in
        ``allowed_special`` (or ``"all"``) to encode it as the special token, or leave it out of
        ``disallowed_special`` (``()`` for all) to encode it as plain text.

        >>> from refimpl import get_encoding
        >>> enc = get_encoding("gpt2")
        >>> enc.encode("<|endoftext|>", allowed_special="all")
        [50256]
        >>> enc.encode("<|endoftext|>", disallowed_special=())
        [27, 91, 437, 1659, 5239, 91, 29]
        """
        allowed = self._check_special(text, allowed_special, disallowed_special)
        try:
            return self._encode_with_special(text, allowed)[0]
        except UnicodeEncodeError:
            return self._encode_with_special(fix_surrogates(text), allowed)[0]

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),  # noqa: B006
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ):
        """Like :meth:`encode`, as a ``numpy.uint32`` array.

        >>> from refimpl import get_encoding
        >>> get_encoding("cl100k_base").encode_to_numpy("hello world")
        array([15339,  1917], dtype=uint32)
        """
        import numpy as np

        tokens = self.encode(text, allowed_special=allowed_special, disallowed_special=disallowed_special)
        return np.array(tokens, dtype=np.uint32)

    def encode_ordinary_batch(self, text: list[str], *, num_threads: int = 8,
                              processes: int | None = None) -> list[list[int]]:
        """Encodes a list of strings, ignoring special tokens.

        ``num_threads`` is accepted for tiktoken compatibility and ignored: pure-Python encoding
        holds the GIL. ``processes`` (refimpl's) sets how many worker processes to use; the
        default uses all cores for batches over a million characters and one process below
        that (see :mod:`refimpl.parallel`). The result is the same either way.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").encode_ordinary_batch(["hello world", "goodbye world"])
        [[31373, 995], [11274, 16390, 995]]
        """
        from .parallel import map_batch

        return map_batch(self, "encode_ordinary", text, {}, processes)

    def encode_batch(
        self,
        text: list[str],
        *,
        num_threads: int = 8,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),  # noqa: B006
        disallowed_special: Literal["all"] | Collection[str] = "all",
        processes: int | None = None,
    ) -> list[list[int]]:
        """Encodes a list of strings (see :meth:`encode` for the special-token arguments and
        :meth:`encode_ordinary_batch` for ``num_threads`` and ``processes``).

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").encode_batch(["hello world", "goodbye world"])
        [[31373, 995], [11274, 16390, 995]]
        """
        from .parallel import map_batch

        kwargs = {"allowed_special": allowed_special, "disallowed_special": disallowed_special}
        return map_batch(self, "encode", text, kwargs, processes)

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),  # noqa: B006
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """Encodes a string into stable tokens and the possible completions of the rest.

        The stable tokens cover a prefix of ``text``; every completion sequence, appended to
        them, decodes to bytes that start with ``text``. Same algorithm as tiktoken
        (see :mod:`refimpl.unstable`); the completions come in no particular order.

        >>> from refimpl import get_encoding
        >>> stable, completions = get_encoding("gpt2").encode_with_unstable("hello fanta")
        >>> stable, [8842] in completions
        ([31373], True)
        """
        from .unstable import encode_with_unstable

        allowed = self._check_special(text, allowed_special, disallowed_special)
        try:
            return encode_with_unstable(self, text, allowed)
        except UnicodeEncodeError:
            # tiktoken raises here; refimpl applies the same fix-up as encode()
            return encode_with_unstable(self, fix_surrogates(text), allowed)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """Encodes text corresponding to a single token to its token value.

        Special tokens are encoded too. Raises ``KeyError`` if it is not one token.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").encode_single_token("hello")
        31373
        """
        if isinstance(text_or_bytes, str):
            text_or_bytes = text_or_bytes.encode("utf-8")
        token = self._mergeable_ranks.get(text_or_bytes)
        if token is not None:
            return token
        try:
            token = self._special_tokens.get(text_or_bytes.decode("utf-8"))
        except UnicodeDecodeError:
            token = None
        if token is None:
            raise KeyError(text_or_bytes)
        return token

    # --- counting without building the token list --------------------------------------

    def count_tokens(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),  # noqa: B006
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> int:
        """``len(encode(text, ...))``, computed without building the list of tokens.

        >>> from refimpl import get_encoding
        >>> get_encoding("cl100k_base").count_tokens("hello world")
        2
        """
        return self._count(text, allowed_special, disallowed_special, limit=None)

    def is_within_token_limit(
        self,
        text: str,
        limit: int,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = set(),  # noqa: B006
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> bool:
        """True if ``text`` encodes to at most ``limit`` tokens. Stops as soon as it is over.

        >>> from refimpl import get_encoding
        >>> enc = get_encoding("cl100k_base")
        >>> enc.is_within_token_limit("hello world", 2), enc.is_within_token_limit("hello world", 1)
        (True, False)
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"`limit` must be an integer >= 0, got {limit!r}")
        return self._count(text, allowed_special, disallowed_special, limit=limit) <= limit

    # ====================
    # Decoding
    # ====================

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Decodes a list of tokens into bytes.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode_bytes([31373, 995])
        b'hello world'
        """
        decoder = self._decoder
        try:
            return b"".join([decoder[t] for t in tokens])
        except (KeyError, TypeError):
            for t in tokens:
                self.decode_single_token_bytes(t)  # raises with a precise message
            raise

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """Decodes a list of tokens into a string (invalid UTF-8 is replaced by default).

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode([31373, 995])
        'hello world'
        """
        return self.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """Decodes a token into bytes (special tokens too). Raises ``KeyError`` if unknown.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode_single_token_bytes(31373)
        b'hello'
        """
        try:
            return self._decoder[token]
        except (KeyError, TypeError):
            raise KeyError(
                f"Invalid token for decoding: {token!r}; {self.name} has ids 0..{self.max_token_value}"
                + (" with gaps" if len(self._decoder) != self.max_token_value + 1 else "")
            ) from None

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        """Decodes a list of tokens into a list of bytes, one per token.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode_tokens_bytes([31373, 995])
        [b'hello', b' world']
        """
        return [self.decode_single_token_bytes(token) for token in tokens]

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """Decodes tokens into a string and the character offset where each token starts.

        A token that starts inside a multi-byte character gets that character's offset.
        Raises ``UnicodeDecodeError`` if the tokens are not valid UTF-8 together.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode_with_offsets([31373, 995])
        ('hello world', [0, 5])
        """
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len = 0
        offsets = []
        for token in token_bytes:
            # continuation bytes (0b10xxxxxx) do not start a character
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        text = b"".join(token_bytes).decode("utf-8", errors="strict")
        return text, offsets

    def decode_batch(
        self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int = 8
    ) -> list[str]:
        """Decodes a batch (list of lists of tokens) into a list of strings.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode_batch([[31373], [995]])
        ['hello', ' world']
        """
        return [self.decode(tokens, errors=errors) for tokens in batch]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int = 8) -> list[bytes]:
        """Decodes a batch (list of lists of tokens) into a list of bytes.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").decode_bytes_batch([[31373], [995]])
        [b'hello', b' world']
        """
        return [self.decode_bytes(tokens) for tokens in batch]

    # ====================
    # Miscellaneous
    # ====================

    def token_byte_values(self) -> list[bytes]:
        """All mergeable tokens' bytes, sorted (as tiktoken returns them).

        >>> from refimpl import get_encoding
        >>> values = get_encoding("gpt2").token_byte_values(); len(values), b" hello" in values
        (50256, True)
        """
        return list(self._sorted_token_bytes)

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>``.

        >>> from refimpl import get_encoding
        >>> get_encoding("cl100k_base").eot_token
        100257
        """
        return self._special_tokens["<|endoftext|>"]

    @functools.cached_property
    def special_tokens_set(self) -> set[str]:
        """The special tokens' strings.

        >>> from refimpl import get_encoding
        >>> sorted(get_encoding("gpt2").special_tokens_set)
        ['<|endoftext|>']
        """
        return set(self._special_tokens.keys())

    def is_special_token(self, token: int) -> bool:
        """True if ``token`` is the id of a special token.

        >>> from refimpl import get_encoding
        >>> get_encoding("gpt2").is_special_token(50256)
        True
        """
        if isinstance(token, bool) or not isinstance(token, int):
            raise TypeError(f"token must be an int, got {type(token).__name__} {token!r}")
        return token in self._special_token_values

    @property
    def n_vocab(self) -> int:
        """``max_token_value + 1`` (tiktoken's definition).

        >>> from refimpl import get_encoding
        >>> get_encoding("o200k_base").n_vocab
        200019
        """
        return self.max_token_value + 1

    # ====================
    # Private
    # ====================

    @functools.cached_property
    def _decoder(self) -> dict[int, bytes]:
        decoder = {rank: token for token, rank in self._mergeable_ranks.items()}
        if len(decoder) != len(self._mergeable_ranks):
            raise ValueError(
                f"encoding {self.name!r}: two mergeable tokens share a rank; ranks must be unique"
            )
        # subtle: ids can be shared. o200k_harmony lists both <|endofprompt|> and
        # <|reserved_200018|> at 200018; tiktoken decodes it as <|endofprompt|>. The first
        # name listed wins here (and a mergeable token wins over a special one, as in tiktoken).
        for token, rank in self._special_tokens.items():
            decoder.setdefault(rank, token.encode("utf-8"))
        return decoder

    @functools.cached_property
    def _sorted_token_bytes(self) -> list[bytes]:
        return sorted(self._mergeable_ranks)

    def _check_special(self, text, allowed_special, disallowed_special) -> AbstractSet[str]:
        """Resolve "all", raise for a disallowed special token in ``text``; return the allowed set."""
        check_text(text)
        allowed_special = token_set("allowed_special", allowed_special)
        disallowed_special = token_set("disallowed_special", disallowed_special)
        if allowed_special == "all":
            allowed_special = self.special_tokens_set
        if disallowed_special == "all":
            disallowed_special = frozenset(self.special_tokens_set - allowed_special)
        if disallowed_special:
            match = literal_alternation(disallowed_special).search(text)
            if match:
                raise DisallowedSpecialTokenError(match.group())
        return allowed_special

    def _encode_segment(self, text: str, out: list[int]) -> int:
        """Append the tokens of ``text`` (no special tokens in it) to ``out``.

        Returns how many tokens the last piece gave (tiktoken's ``last_piece_token_len``).
        """
        pieces = self._split.findall(text)
        if not pieces:
            return 0
        # The piece cache does the work: a hit is a C-level dict lookup, a miss runs BPE.
        out.extend(chain.from_iterable(map(self._cache.__getitem__, pieces)))
        return len(self._cache[pieces[-1]])

    def _segments(self, text: str, allowed: AbstractSet[str]):
        """Walk ``text`` as tiktoken does: yield ``(ordinary text, special token or None)``
        pairs, each special token being the next *allowed* one (the last pair has None)."""
        start = 0
        while True:
            special = self._next_allowed_special(text, start, allowed)
            end = special.start() if special else len(text)
            yield text[start:end], (special.group() if special else None)
            if special is None:
                return
            start = special.end()

    def _encode_with_special(self, text: str, allowed: AbstractSet[str]) -> tuple[list[int], int]:
        """tiktoken's ``CoreBPE::encode``: returns (tokens, last_piece_token_len)."""
        out: list[int] = []
        last = 0
        for segment, special in self._segments(text, allowed):
            last = self._encode_segment(segment, out) if segment else 0
            if special is not None:
                out.append(self._special_tokens[special])
        return out, last

    def _next_allowed_special(self, text: str, pos: int, allowed: AbstractSet[str]):
        if not allowed or self._special_re is None:
            return None
        while True:
            m = self._special_re.search(text, pos)
            if m is None or m.group() in allowed:
                return m
            pos = m.start() + 1

    def _count(self, text, allowed_special, disallowed_special, limit):
        allowed = self._check_special(text, allowed_special, disallowed_special)
        try:
            return self._count_checked(text, allowed, limit)
        except UnicodeEncodeError:
            return self._count_checked(fix_surrogates(text), allowed, limit)

    def _count_checked(self, text: str, allowed: AbstractSet[str], limit) -> int:
        total = 0
        lookup = self._cache.__getitem__
        for segment, special in self._segments(text, allowed):
            pieces = self._split.findall(segment)
            if limit is None:
                total += sum(map(len, map(lookup, pieces)))
            else:
                for piece in pieces:
                    total += len(lookup(piece))
                    if total > limit:
                        return total
            if special is not None:
                total += 1  # the special token itself
        return total

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        """Encodes bytes as one piece, without the regex split (tiktoken's private helper)."""
        if isinstance(text_or_bytes, str):
            text_or_bytes = text_or_bytes.encode("utf-8")
        token = self._mergeable_ranks.get(text_or_bytes)
        if token is not None:
            return [token]
        return byte_pair_encode(text_or_bytes, self._mergeable_ranks)

    def _encode_only_native_bpe(self, text: str) -> list[int]:
        """Regex split, then BPE on each piece (tiktoken's private helper)."""
        out: list[int] = []
        for piece in self._split.findall(text):
            out.extend(self._encode_single_piece(piece))
        return out

    def _byte_pair_split(self, piece: bytes) -> list[bytes]:
        return byte_pair_split(piece, self._mergeable_ranks)

    # --- pickling: registered encodings by name, others by value (as tiktoken) ----------

    def __getstate__(self) -> object:
        from . import registry

        if self is registry.ENCODINGS.get(self.name):
            return self.name
        return {
            "name": self.name,
            "pat_str": self._pat_str,
            "mergeable_ranks": self._mergeable_ranks,
            "special_tokens": self._special_tokens,
        }

    def __setstate__(self, value: object) -> None:
        from . import registry

        if isinstance(value, str):
            self.__dict__ = registry.get_encoding(value).__dict__
            return
        self.__init__(**value)
