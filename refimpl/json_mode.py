"""JSON mode: a token-level mask that keeps the output a prefix of a valid JSON object.

`response_format: {"type": "json_object"}` makes the API return text that parses as a JSON
object whenever finish_reason is "stop". We get the same guarantee by construction:

1. A byte-level pushdown automaton for JSON (RFC 8259) whose top level must be an object.
   `step(state, byte)` returns the next state, or None if no valid JSON object starts with
   the bytes seen so far plus `byte`. States are small tuples, so they can key a cache.
   Strings must be valid UTF-8 (multi-byte sequences are checked byte by byte).
2. A byte trie of the vocabulary. The mask for a state walks the trie from the root, running
   the automaton along each edge and pruning as soon as it fails: a token is allowed when all
   its bytes are accepted. `<|endoftext|>` is allowed only once the object is complete (then
   it is the *only* token allowed), so a "stop" finish is always complete JSON.
3. Masks are cached per state: inside a string, for instance, the state stays the same for
   many steps.

Special tokens other than `<|endoftext|>` are never allowed. Whitespace is allowed wherever
JSON allows it (the API warns that a model not told to write JSON may emit endless
whitespace; a `length` finish may leave partial JSON, as in the API).

>>> from refimpl.json_mode import is_json_object_prefix
>>> is_json_object_prefix(b'{"a": [1, tr'), is_json_object_prefix(b'{"a": 01')
(True, False)
"""

from __future__ import annotations

import numpy as np

__all__ = ["START_STATE", "step", "feed", "is_json_object_prefix", "is_complete", "JsonObjectFilter",
           "JSON_MODE_VERSION"]

#: Names the automaton's language; part of `system_fingerprint`, since it shapes JSON-mode draws.
JSON_MODE_VERSION = "json-object-automaton-v1"

# Modes of the automaton. A state is (mode, aux, stack): stack is a tuple of b"{" / b"[" for
# the open containers; aux carries per-mode detail (see the comments in `step`).
START, VALUE, KEY_OR_END, KEY, COLON, AFTER, STRING, ESCAPE, UNICODE, UTF8, NUMBER, LITERAL, DONE = range(13)
_WS = b" \t\n\r"
_LITERALS = {ord("t"): b"rue", ord("f"): b"alse", ord("n"): b"ull"}

#: The state before the first byte.
START_STATE = (START, None, ())

# Number sub-states (aux of NUMBER): which bytes may follow, and whether the number may end here.
#   minus: after "-"; zero: "0"; int: 1-9 digits; dot: after "."; frac: digits after ".";
#   e: after e/E; esign: after e+/e-; exp: exponent digits.
_NUM_END = {"zero", "int", "frac", "exp"}


def _after_value(stack):
    return (DONE, None, ()) if not stack else (AFTER, None, stack)


def _start_value(byte, stack, empty_array_ok):
    """Begin a value with `byte` (whitespace already skipped)."""
    if byte == ord("{"):
        return (KEY_OR_END, None, stack + (b"{",))
    if byte == ord("["):
        return (VALUE, "first", stack + (b"[",))
    if byte == ord('"'):
        return (STRING, ("value", 0), stack)
    if byte == ord("-"):
        return (NUMBER, "minus", stack)
    if byte == ord("0"):
        return (NUMBER, "zero", stack)
    if ord("1") <= byte <= ord("9"):
        return (NUMBER, "int", stack)
    if byte in _LITERALS:
        return (LITERAL, _LITERALS[byte], stack)
    if byte == ord("]") and empty_array_ok:
        return _after_value(stack[:-1])
    return None


def _close_or_comma(byte, stack):
    """In AFTER: a comma or the closing bracket of the innermost container."""
    if byte in _WS:
        return (AFTER, None, stack)
    top = stack[-1]
    if byte == ord(","):
        return (KEY, None, stack) if top == b"{" else (VALUE, None, stack)
    if (top == b"{" and byte == ord("}")) or (top == b"[" and byte == ord("]")):
        return _after_value(stack[:-1])
    return None


def _utf8_lead(byte):
    """Number of continuation bytes a UTF-8 lead byte needs, or None if invalid."""
    if 0xC2 <= byte <= 0xDF:
        return 1
    if 0xE0 <= byte <= 0xEF:
        return 2
    if 0xF0 <= byte <= 0xF4:
        return 3
    return None


def step(state, byte: int):
    """The automaton's transition: the state after `byte`, or None if the bytes can no longer
    be the start of a JSON object.

    (We accept a few overlong/surrogate UTF-8 forms that strict decoders reject, e.g. E0 80 80;
    the lead byte ranges above already rule out the common invalid bytes C0, C1, F5-FF.)

    >>> step(START_STATE, ord("{"))
    (2, None, (b'{',))
    >>> step(START_STATE, ord("[")) is None
    True
    """
    mode, aux, stack = state
    if mode == START:
        if byte in _WS:
            return state
        return (KEY_OR_END, None, (b"{",)) if byte == ord("{") else None
    if mode == VALUE:  # aux == "first": just after "[", so "]" may close an empty array
        if byte in _WS:
            return state
        return _start_value(byte, stack, aux == "first")
    if mode == KEY_OR_END:
        if byte in _WS:
            return state
        if byte == ord('"'):
            return (STRING, ("key", 0), stack)
        return _after_value(stack[:-1]) if byte == ord("}") else None
    if mode == KEY:
        if byte in _WS:
            return state
        return (STRING, ("key", 0), stack) if byte == ord('"') else None
    if mode == COLON:
        if byte in _WS:
            return state
        return (VALUE, None, stack) if byte == ord(":") else None
    if mode == AFTER:
        return _close_or_comma(byte, stack)
    if mode == STRING:  # aux = (kind, 0) with kind "key" or "value"
        kind = aux[0]
        if byte == ord('"'):
            return (COLON, None, stack) if kind == "key" else _after_value(stack)
        if byte == ord("\\"):
            return (ESCAPE, kind, stack)
        if byte < 0x20:
            return None  # control characters must be escaped
        if byte < 0x80:
            return state
        need = _utf8_lead(byte)
        return None if need is None else (UTF8, (kind, need), stack)
    if mode == UTF8:  # aux = (kind, continuation bytes still needed)
        if not 0x80 <= byte <= 0xBF:
            return None
        kind, need = aux
        return (STRING, (kind, 0), stack) if need == 1 else (UTF8, (kind, need - 1), stack)
    if mode == ESCAPE:  # aux = kind
        if byte in b'"\\/bfnrt':
            return (STRING, (aux, 0), stack)
        return (UNICODE, (aux, 4), stack) if byte == ord("u") else None
    if mode == UNICODE:  # aux = (kind, hex digits still needed)
        if byte not in b"0123456789abcdefABCDEF":
            return None
        kind, need = aux
        return (STRING, (kind, 0), stack) if need == 1 else (UNICODE, (kind, need - 1), stack)
    if mode == LITERAL:  # aux = the bytes still expected
        if byte != aux[0]:
            return None
        return _after_value(stack) if len(aux) == 1 else (LITERAL, aux[1:], stack)
    if mode == NUMBER:
        digit = ord("0") <= byte <= ord("9")
        nxt = None
        if aux == "minus":
            nxt = "zero" if byte == ord("0") else ("int" if digit else None)
        elif aux in ("zero", "int"):
            if digit and aux == "int":
                nxt = "int"
            elif byte == ord("."):
                nxt = "dot"
            elif byte in b"eE":
                nxt = "e"
        elif aux in ("dot", "frac"):
            nxt = "frac" if digit else ("e" if aux == "frac" and byte in b"eE" else None)
        elif aux == "e":
            nxt = "exp" if digit else ("esign" if byte in b"+-" else None)
        elif aux in ("esign", "exp"):
            nxt = "exp" if digit else None
        if nxt is not None:
            return (NUMBER, nxt, stack)
        if aux in _NUM_END:  # the number ends here; the byte belongs to what follows
            return _close_or_comma(byte, stack) if stack else None
        return None
    if mode == DONE:
        return None  # nothing may follow the top-level object (the filter allows only EOT)
    raise AssertionError(f"unknown mode {mode}")


def feed(data: bytes, state=START_STATE):
    """Run the automaton over `data`; the final state, or None if it failed.

    >>> feed(b'{"a": [') == (VALUE, "first", (b"{", b"["))
    True
    """
    for byte in data:
        state = step(state, byte)
        if state is None:
            return None
    return state


def is_json_object_prefix(data: bytes) -> bool:
    """True if some JSON object text starts with `data`."""
    return feed(data) is not None


def is_complete(state) -> bool:
    """True once a whole top-level object has been read.

    >>> is_complete(feed(b'{"a": 1}')), is_complete(feed(b'{"a": 1'))
    (True, False)
    """
    return state is not None and state[0] == DONE


class JsonObjectFilter:
    """A `token_filter` for `refimpl.generation.generate`: sets to -inf every token that would
    make the output stop being a prefix of a JSON object, and allows the end-of-text token only
    after the object is complete.

    `token_bytes[i]`: the bytes of token i (None for special tokens, never allowed).
    `eot`: the end-of-text token id. Build one from an Encoding with `from_encoding`. Calling it
    raises ValueError when no token can continue the object (e.g. everything else is biased
    away).

    >>> f = JsonObjectFilter([b"{", b"}", b"x", b'{"', None], eot=4)
    >>> f.mask(START_STATE).tolist()
    [True, False, False, True, False]
    >>> np.exp(f([0, 1], np.zeros(5)))  # after "{}" only end-of-text remains
    array([0., 0., 0., 0., 1.])
    """

    def __init__(self, token_bytes, eot: int):
        self.eot = eot
        self.V = len(token_bytes)
        self._trie = {}  # byte -> [children dict, list of token ids ending here]
        for i, b in enumerate(token_bytes):
            if not b or i == eot:
                continue
            node = self._trie
            for j, byte in enumerate(b):
                child = node.setdefault(byte, [{}, []])
                if j == len(b) - 1:
                    child[1].append(i)
                node = child[0]
        self._masks = {}
        self._token_bytes = token_bytes

    @classmethod
    def from_encoding(cls, encoding):
        special = {encoding.encode_single_token(s) for s in encoding.special_tokens_set}
        token_bytes = []
        for i in range(encoding.n_vocab):
            if i in special:
                token_bytes.append(None)
                continue
            try:
                token_bytes.append(encoding.decode_single_token_bytes(i))
            except KeyError:  # holes in the id range
                token_bytes.append(None)
        return cls(token_bytes, encoding.eot_token)

    def mask(self, state):
        """Boolean (V,) array of the tokens allowed in `state` (cached per state)."""
        cached = self._masks.get(state)
        if cached is not None:
            return cached
        allowed = np.zeros(self.V, dtype=bool)
        if is_complete(state):
            allowed[self.eot] = True
        else:
            todo = [(self._trie, state)]
            while todo:  # depth-first over the trie, pruning failed prefixes
                node, s = todo.pop()
                for byte, (children, ending) in node.items():
                    s2 = step(s, byte)
                    if s2 is None:
                        continue
                    if ending:
                        allowed[ending] = True
                    if children:
                        todo.append((children, s2))
        self._masks[state] = allowed
        return allowed

    def state_after(self, token_ids):
        state = START_STATE
        for t in token_ids:
            state = feed(self._token_bytes[t], state)
        return state

    def __call__(self, generated, logprobs):
        """Mask `logprobs` (V,) given the tokens generated so far; renormalised, -inf = banned."""
        allowed = self.mask(self.state_after(generated))
        V = logprobs.shape[0]
        out = np.where(allowed[:V], logprobs, -np.inf)
        if not np.isfinite(out).any():
            raise ValueError("JSON mode: no token can continue the JSON object under the current "
                             "sampling parameters; relax logit_bias/top_p or raise max_tokens")
        finite = out[np.isfinite(out)]
        m = finite.max()
        return out - (m + np.log(np.sum(np.exp(finite - m))))
