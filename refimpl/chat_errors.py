"""Exceptions raised by the chat token counter (`chat_*` modules).

Every message has one shape: what was wrong, where (message index and field), the value
found, what is allowed, and how to fix it.

>>> str(ChatRequestError("`messages` is missing", where="request",
...     found=None, allowed="a non-empty list of message dicts", fix="add `messages`"))
'`messages` is missing at request: found None; allowed: a non-empty list of message dicts. Fix: add `messages`.'
"""
from __future__ import annotations

__all__ = ["ChatRequestError", "UnknownModelError", "ImageSizeError"]


def _fmt(what: str, where: str, found: object, allowed: str, fix: str) -> str:
    return f"{what} at {where}: found {found!r}; allowed: {allowed}. Fix: {fix}."


class ChatRequestError(ValueError):
    """A malformed Chat Completions request body (a field is missing or of the wrong type).

    Attributes `where`, `found` and `allowed` repeat the parts of the message for programs.

    >>> try:
    ...     raise ChatRequestError("bad role", where="messages[0].role", found="robot",
    ...                            allowed="'system', 'user'", fix="use one of the allowed roles")
    ... except ValueError as e:
    ...     e.where
    'messages[0].role'
    """

    def __init__(self, what: str, *, where: str, found: object, allowed: str, fix: str):
        self.where, self.found, self.allowed = where, found, allowed
        super().__init__(_fmt(what, where, found, allowed, fix))


class ImageSizeError(ChatRequestError):
    """An image whose width and height cannot be known from the request.

    >>> issubclass(ImageSizeError, ValueError)
    True
    """


class UnknownModelError(KeyError):
    """A model name that matches no entry of the chat rules table.

    >>> str(UnknownModelError("no such model", where="request.model", found="gpt-9",
    ...     allowed="gpt-4o, ...", fix="pass rules=")).startswith("no such model")
    True
    """

    def __init__(self, what: str, *, where: str, found: object, allowed: str, fix: str):
        self.where, self.found, self.allowed = where, found, allowed
        super().__init__(_fmt(what, where, found, allowed, fix))

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])
