"""Exceptions refimpl raises on purpose. Each subclasses the builtin tiktoken raises in the same
place, so code written for tiktoken keeps catching them."""
from __future__ import annotations


class DisallowedSpecialTokenError(ValueError):
    """Text contains a special token that ``encode`` was not allowed to produce.

    The message names the token and both ways out, as tiktoken's does.
    """

    def __init__(self, token: str):
        self.token = token
        super().__init__(
            f"Encountered text corresponding to disallowed special token {token!r}.\n"
            "If you want this text to be encoded as a special token, "
            f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
            "If you want this text to be encoded as normal text, disable the check for this "
            f"token by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
            "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
        )

    def __reduce__(self):
        # rebuilt from the token, so the message survives a trip through a worker process
        return (type(self), (self.token,))


class RankFileError(ValueError):
    """A rank file is missing, altered or malformed.

    Raised with the file, what was expected (e.g. the SHA-256) and how to fix it.
    """
