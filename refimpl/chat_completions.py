"""The Chat Completions endpoint (`POST /v1/chat/completions`) over the loop of `refimpl.generation`.

`create_chat_completion(request, model=None)` renders and counts the prompt with the chat modules
(`usage.prompt_tokens` equals `refimpl.chat_count.count_prompt_tokens`), runs `generate` once per
choice (JSON mode through a token filter) and returns the API's `chat.completion` dict.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time

from .chat_count import explain_prompt_tokens
from .generation import _OPEN_ENDED_CAP, _fingerprint, generate
from .json_mode import JsonObjectFilter
from .ngram import default_model
from .params import (
    InvalidParameterError,
    validate_max_tokens,
    validate_n,
    validate_seed,
    validate_stop,
    validate_top_logprobs,
)
from .registry import get_encoding

__all__ = ["create_chat_completion"]

_CHAT_KEYS = {
    "model", "messages", "n", "max_tokens", "max_completion_tokens", "stop", "seed", "temperature",
    "top_p", "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
    "response_format", "user", "tools", "tool_choice", "functions", "function_call",
    "parallel_tool_calls", "stream", "store", "metadata", "service_tier",
}


def _prompt_ids(breakdown, encoding):
    """Token ids the model reads for a rendered chat prompt.

    ChatML's <|im_start|>, <|im_sep|> and <|im_end|> have no public ids in cl100k/o200k, so the
    model sees `<|endoftext|>` in their place; images and measured-but-textless adjustments have
    no ids and are left out. `usage.prompt_tokens` still counts all of them.
    """
    ids = []
    for piece in breakdown.pieces:
        if piece.ids is not None:
            ids.extend(piece.ids)
        elif piece.kind == "special":
            ids.append(encoding.eot_token)
    return ids


def _mentions_json(messages):
    def text(content):
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        return ""
    return any("json" in text(m.get("content")).lower() for m in messages if isinstance(m, dict))


@functools.lru_cache(maxsize=4)
def _json_filter(encoding_name):
    return JsonObjectFilter.from_encoding(get_encoding(encoding_name))


def _chat_logprob(encoding, token, logprob):
    b = encoding.decode_single_token_bytes(token)
    return {"token": b.decode("utf-8", errors="replace"), "logprob": logprob, "bytes": list(b)}


def create_chat_completion(request: dict, model=None, *, logprobs_source: str = "raw", as_of=None) -> dict:
    """The Chat Completions endpoint (`POST /v1/chat/completions`), computed locally.

    `request`: the API's JSON body as a dict. Generation uses n, max_tokens /
    max_completion_tokens (default: open-ended, capped at 256), stop (<= 4), seed, temperature,
    top_p, frequency_penalty, presence_penalty, logit_bias, logprobs + top_logprobs (0..20) and
    response_format ({"type": "json_object"} constrains decoding to a JSON object; "text" is the
    default). Tools and functions are rendered and counted but never called. The prompt is
    rendered with the requested model's chat format and `usage.prompt_tokens` equals
    `refimpl.chat_count.count_prompt_tokens(request, as_of=as_of)`. Returns the API's
    `chat.completion` dict.

    Raises InvalidParameterError for unknown fields, `stream`, out-of-range values, json_object
    without the word "JSON" in the messages, and json_schema; the chat modules' errors
    (ChatRequestError, UnknownModelError) for malformed messages or an unknown model.

    >>> r = create_chat_completion({"model": "gpt-4o", "seed": 3, "max_tokens": 5,
    ...     "messages": [{"role": "user", "content": "Tell me about the sea."}]})
    >>> r["object"], r["usage"]["prompt_tokens"], r["usage"]["completion_tokens"] <= 5
    ('chat.completion', 13, True)
    """
    unknown = sorted(set(request) - _CHAT_KEYS)
    if unknown:
        raise InvalidParameterError(
            f"Unrecognized request argument supplied: {unknown[0]!r}; allowed are {sorted(_CHAT_KEYS)}",
            unknown[0])
    if request.get("stream"):
        raise InvalidParameterError("`stream` is not supported by refimpl, got True; omit it", "stream")
    breakdown = explain_prompt_tokens(request, as_of=as_of)  # validates messages and model
    encoding = get_encoding(breakdown.encoding)
    model = default_model(encoding.name) if model is None else model

    n = validate_n(request.get("n", 1))
    limit = request.get("max_completion_tokens")
    name = "max_completion_tokens"
    if limit is None:
        limit, name = request.get("max_tokens"), "max_tokens"
    limit = validate_max_tokens(limit, name)
    max_tokens = _OPEN_ENDED_CAP if limit is None else limit
    stop = validate_stop(request.get("stop"))
    seed = request.get("seed")
    seed = secrets.randbits(63) if seed is None else validate_seed(seed)
    want_logprobs = bool(request.get("logprobs", False))
    k = request.get("top_logprobs")
    if k is not None:
        k = validate_top_logprobs(k)
        if not want_logprobs:
            raise InvalidParameterError(
                f"`top_logprobs` needs `logprobs` set to true, got top_logprobs={k!r} with "
                f"logprobs={request.get('logprobs')!r}; set logprobs to true", "top_logprobs")
    sampling = {key: request[key] for key in
                ("temperature", "top_p", "frequency_penalty", "presence_penalty", "logit_bias")
                if request.get(key) is not None}

    token_filter = None
    fmt = (request.get("response_format") or {}).get("type", "text")
    if fmt == "json_object":
        if not _mentions_json(request["messages"]):
            raise InvalidParameterError(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of "
                "type 'json_object', got none; tell the model to answer in JSON", "response_format")
        token_filter = _json_filter(encoding.name)
    elif fmt == "json_schema":
        raise InvalidParameterError(
            "`response_format` type 'json_schema' is not supported by refimpl, got 'json_schema'; "
            "use 'json_object'", "response_format")

    ids = _prompt_ids(breakdown, encoding)
    choices, completion_tokens = [], 0
    for c in range(n):
        g = generate(model, ids, encoding=encoding, max_tokens=max_tokens, seed=seed, choice_index=c,
                     stop=stop, top_logprobs=k or 0, logprobs_source=logprobs_source,
                     token_filter=token_filter, **sampling)
        completion_tokens += g.completion_tokens
        logprobs = None
        if want_logprobs:
            content = []
            for t, lp, top in zip(g.tokens, g.logprobs, g.top):
                entry = _chat_logprob(encoding, t, lp)
                entry["top_logprobs"] = [_chat_logprob(encoding, a, b) for a, b in top]
                content.append(entry)
            logprobs = {"content": content, "refusal": None}
        choices.append({
            "index": c,
            "message": {"role": "assistant", "content": g.text_bytes.decode("utf-8", errors="replace"),
                        "refusal": None},
            "logprobs": logprobs,
            "finish_reason": g.finish_reason,
        })

    canonical = json.dumps(request, sort_keys=True, default=str) + f"|{seed}"
    return {
        "id": "chatcmpl-" + hashlib.sha256(canonical.encode()).hexdigest()[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request["model"],
        "system_fingerprint": _fingerprint(model, encoding),
        "choices": choices,
        "usage": {"prompt_tokens": breakdown.total, "completion_tokens": completion_tokens,
                  "total_tokens": breakdown.total + completion_tokens},
    }
