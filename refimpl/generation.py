"""A reference generation loop with the API's request and response shapes.

`create_completion(request, model=None)` follows the legacy Completions API and
`create_chat_completion(request, model=None)` the Chat Completions API. `model` is any
callable from the token ids so far (a list of ints) to next-token logits, a numpy array of
shape (V,) (or (1, V)); the default is the bundled n-gram model (`refimpl.ngram`) over the
request model's encoding. Set an `identity` string attribute on your model so that
`system_fingerprint` changes when the model does.

The loop, for choice i of a prompt (each step is one of this package's reference functions):

    for position t = 0, 1, ..., max_tokens - 1:
        logits   = model(prompt_ids + generated)                       # (V,)
        logprobs = process_logits(logits, generated, temperature=..., top_p=...,
                                  frequency_penalty=..., presence_penalty=..., logit_bias=...)
        token    = sample(logprobs, seed=seed, choice_index=i, position=t)
        stop at <|endoftext|> (finish_reason "stop") or when the generated *bytes* contain a stop
        sequence (so stops spanning token boundaries are found; the stop text is cut off)
    finish_reason "length" when max_tokens tokens were drawn.

Because a draw depends only on (seed, choice_index, position), choice i is the same whatever `n`
is. Without `seed` a random one is drawn from the OS (`secrets`), as the API does.

Reported logprobs: by default those of the model's own distribution (log-softmax of the raw
logits, before bias/penalties/temperature/top_p), like the API's; pass
`logprobs_source="processed"` to get those of the distribution the token was drawn from.

Counting: `usage.prompt_tokens` sums the prompt tokens of every prompt; `completion_tokens`
sums the sampled tokens of every generated candidate (all `best_of` of them, as the API
bills), *not* counting a final `<|endoftext|>` (the API's count of a finished message is the
tokens of its content: see `refimpl.chat_count.count_completion_tokens`) but counting the tokens
that completed a stop sequence (they were generated; unverified against the API).

Not implemented: streaming, context-window limits per model, `user` has no effect.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field

import numpy as np

from .chat_count import explain_prompt_tokens
from .json_mode import JSON_MODE_VERSION, JsonObjectFilter
from .logits import log_softmax
from .ngram import default_model
from .params import (
    InvalidParameterError,
    validate_best_of,
    validate_logprobs,
    validate_max_tokens,
    validate_n,
    validate_seed,
    validate_stop,
    validate_top_logprobs,
)
from .registry import get_encoding
from .sampling import process_logits
from .seeded import sample, system_fingerprint

__all__ = ["create_completion", "create_chat_completion", "COMPLETION_MODELS", "generate", "Generated"]

#: Legacy Completions models and their encodings (tiktoken's model table).
COMPLETION_MODELS = {
    "gpt-3.5-turbo-instruct": "cl100k_base",
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
    "text-davinci-003": "p50k_base",
    "text-davinci-002": "p50k_base",
    "code-davinci-002": "p50k_base",
    "text-davinci-001": "r50k_base",
    "davinci": "r50k_base",
    "curie": "r50k_base",
    "babbage": "r50k_base",
    "ada": "r50k_base",
}

_COMPLETION_KEYS = {
    "model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream", "logprobs",
    "echo", "stop", "presence_penalty", "frequency_penalty", "best_of", "logit_bias", "seed", "user",
}
_OPEN_ENDED_CAP = 256  # max_tokens=None: refimpl has no per-model context table, so it caps here

#: Names the loop (stop handling, prompt assembly, counting). With the model's identity, the
#: encoding, JSON_MODE_VERSION and (inside `system_fingerprint`) the sampler and processing
#: versions, it makes up every response's `system_fingerprint`.
GENERATION_VERSION = "refimpl-generation-v1"


def _fingerprint(model, encoding):
    identity = getattr(model, "identity", None) or f"user-model:{type(model).__qualname__}"
    return system_fingerprint(identity, encoding.name, GENERATION_VERSION, JSON_MODE_VERSION)


# -- the loop ------------------------------------------------------------------------------------

@dataclass
class Generated:
    """One generated candidate. `tokens` are the returned tokens (stop text and a final
    <|endoftext|> excluded); `logprobs[k]` and `top[k]` belong to tokens[k]."""

    tokens: list = field(default_factory=list)
    text_bytes: bytes = b""
    finish_reason: str = "length"
    n_sampled: int = 0                                # every token drawn, <|endoftext|> included
    ended_by_eot: bool = False
    logprobs: list = field(default_factory=list)      # reported source
    raw_logprobs: list = field(default_factory=list)  # model's own, for best_of ranking
    top: list = field(default_factory=list)           # [(token, logprob), ...] per position

    @property
    def completion_tokens(self) -> int:
        """What `usage.completion_tokens` counts for this candidate (see the module notes)."""
        return self.n_sampled - int(self.ended_by_eot)


def _call(model, ids, n_vocab):
    logits = np.asarray(model(list(ids)))
    if logits.ndim == 2 and logits.shape[0] == 1:
        logits = logits[0]
    if logits.ndim != 1 or not 1 <= logits.shape[0] <= n_vocab:
        raise ValueError(f"model must return logits of shape (V,) with 1 <= V <= {n_vocab}, got "
                         f"shape {logits.shape}; return one score per token of the encoding")
    return logits


def _top(logprobs, k):
    """The k most probable (token, logprob) pairs, ties by lower id; -inf entries dropped."""
    if k == 0:
        return []
    k = min(k, logprobs.shape[0])
    cand = np.argpartition(-logprobs, k - 1)[:k]
    cand = cand[np.lexsort((cand, -logprobs[cand]))]
    return [(int(t), float(logprobs[t])) for t in cand if np.isfinite(logprobs[t])]


def generate(model, prompt_ids, *, encoding, max_tokens, seed, choice_index=0, stop=(),
             top_logprobs=0, logprobs_source="raw", token_filter=None, **sampling):
    """Run the loop above for one choice; returns a `Generated`.

    `sampling`: the keyword arguments of `process_logits` (temperature, top_p, penalties,
    logit_bias). `token_filter(generated_ids, logprobs) -> logprobs` may remove tokens (-inf)
    after processing (used by JSON mode). Raises ValueError for bad model output.

    >>> from refimpl.ngram import default_model
    >>> m = default_model("cl100k_base")
    >>> g = generate(m, m.encoding.encode("Question: What is the capital of France?\\nAnswer:"),
    ...              encoding=m.encoding, max_tokens=12, seed=0, temperature=0)
    >>> g.text_bytes.decode(), g.finish_reason
    (' The capital of France is Paris.', 'stop')
    """
    if logprobs_source not in ("raw", "processed"):
        raise ValueError(f"logprobs_source must be 'raw' or 'processed', got {logprobs_source!r}")
    stops = [s.encode("utf-8") for s in stop]
    out = Generated()
    starts = []  # byte offset where each returned token starts
    for position in range(max_tokens):
        generated = out.tokens
        logits = _call(model, list(prompt_ids) + generated, encoding.n_vocab)      # (V,)
        lp = process_logits(logits, generated, **sampling)                         # (V,)
        if token_filter is not None:
            lp = token_filter(generated, lp)
        token = sample(lp, seed=seed, choice_index=choice_index, position=position)
        out.n_sampled += 1
        raw = log_softmax(logits)
        if token == encoding.eot_token:
            out.finish_reason, out.ended_by_eot = "stop", True
            break
        source = raw if logprobs_source == "raw" else lp
        out.tokens.append(token)
        out.logprobs.append(float(source[token]))
        out.raw_logprobs.append(float(raw[token]))
        out.top.append(_top(source, top_logprobs))
        starts.append(len(out.text_bytes))
        out.text_bytes += encoding.decode_single_token_bytes(token)
        hits = [i for i in (out.text_bytes.find(s) for s in stops) if i >= 0]
        if hits:
            cut = min(hits)
            keep = sum(1 for s in starts if s < cut)  # tokens that start before the stop text
            out.text_bytes = out.text_bytes[:cut]
            for name in ("tokens", "logprobs", "raw_logprobs", "top"):
                setattr(out, name, getattr(out, name)[:keep])
            out.finish_reason = "stop"
            break
    return out


# -- legacy Completions --------------------------------------------------------------------------

def _token_string(encoding, token):
    b = encoding.decode_single_token_bytes(token)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:  # the API's spelling of a partial UTF-8 sequence
        return "bytes:" + "".join(f"\\x{x:02x}" for x in b)


def _prompts(prompt, encoding):
    """The API accepts a string, a list of strings, a list of ids, or a list of id lists."""
    def enc(text):
        return encoding.encode(text, allowed_special={"<|endoftext|>"}, disallowed_special=())

    if prompt is None:
        prompt = "<|endoftext|>"  # the API's default prompt
    if isinstance(prompt, str):
        return [(prompt, enc(prompt))]
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return [(encoding.decode(prompt), list(prompt))]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return [(p, enc(p)) for p in prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, list) for p in prompt):
        return [(encoding.decode(p), list(p)) for p in prompt]
    raise InvalidParameterError(
        f"`prompt` must be a string, a list of strings, a list of token ids or a list of such "
        f"lists, got {prompt!r}; pass e.g. \"Say this is a test\"", "prompt")


def _completion_logprobs(encoding, prompt_text, gen, k, echo_part):
    tokens, token_lps, tops, offsets = [], [], [], []
    base = 0 if echo_part else len(prompt_text)
    seen = b""  # bytes before this token; a partial UTF-8 character does not count yet
    for t, lp, top in (echo_part or []) + list(zip(gen.tokens, gen.logprobs, gen.top)):
        offsets.append(base + len(seen.decode("utf-8", errors="ignore")))
        seen += encoding.decode_single_token_bytes(t)
        s = _token_string(encoding, t)
        tokens.append(s)
        token_lps.append(lp)
        if top is None:
            tops.append(None)
        else:
            d = {_token_string(encoding, a): b for a, b in top}
            if s not in d and lp is not None:  # the API always includes the sampled token
                d[s] = lp
            tops.append(d)
    return {"tokens": tokens, "token_logprobs": token_lps, "top_logprobs": tops, "text_offset": offsets}


def create_completion(request: dict, model=None, *, logprobs_source: str = "raw") -> dict:
    """The legacy Completions endpoint (`POST /v1/completions`), computed locally.

    `request`: the API's JSON body as a dict (model, prompt, suffix, max_tokens=16,
    temperature=1, top_p=1, n=1, logprobs (0..5), echo, stop (<= 4), presence_penalty,
    frequency_penalty, best_of (>= n), logit_bias, seed, user). Returns a dict with the API's
    `text_completion` shape. Raises InvalidParameterError for a bad request (unknown model,
    unknown field, a value out of range, `stream`, `suffix` on an encoding without
    fill-in-the-middle tokens, `echo` with `suffix`).

    >>> r = create_completion({"model": "gpt-3.5-turbo-instruct", "seed": 1, "temperature": 0,
    ...                        "prompt": "Question: What is the capital of France?\\nAnswer:"})
    >>> r["choices"][0]["text"], r["choices"][0]["finish_reason"]
    (' The capital of France is Paris.', 'stop')
    >>> r["usage"]
    {'prompt_tokens': 11, 'completion_tokens': 7, 'total_tokens': 18}
    """
    unknown = sorted(set(request) - _COMPLETION_KEYS)
    if unknown:
        raise InvalidParameterError(
            f"Unrecognized request argument supplied: {unknown[0]!r}; allowed are "
            f"{sorted(_COMPLETION_KEYS)}", unknown[0])
    name = request.get("model")
    if name not in COMPLETION_MODELS:
        raise InvalidParameterError(
            f"`model` must be a Completions model, got {name!r}; use one of "
            f"{sorted(COMPLETION_MODELS)}", "model")
    if request.get("stream"):
        raise InvalidParameterError("`stream` is not supported by refimpl, got True; omit it", "stream")
    encoding = get_encoding(COMPLETION_MODELS[name])
    model = default_model(encoding.name) if model is None else model

    echo = bool(request.get("echo", False))
    suffix = request.get("suffix")
    max_tokens = request.get("max_tokens", 16)
    if not (echo and max_tokens == 0):  # echo with max_tokens=0 scores a prompt
        max_tokens = validate_max_tokens(max_tokens)
    max_tokens = _OPEN_ENDED_CAP if max_tokens is None else max_tokens
    n = validate_n(request.get("n", 1))
    best_of = validate_best_of(request.get("best_of", n), n)
    k = request.get("logprobs")
    k = None if k is None else validate_logprobs(k)
    stop = validate_stop(request.get("stop"))
    seed = request.get("seed")
    seed = secrets.randbits(63) if seed is None else validate_seed(seed)
    sampling = {key: request[key] for key in
                ("temperature", "top_p", "frequency_penalty", "presence_penalty", "logit_bias")
                if request.get(key) is not None}

    prompts = _prompts(request.get("prompt"), encoding)
    if suffix is not None:
        if echo:
            raise InvalidParameterError("`echo` and `suffix` cannot be used together, got both; "
                                        "drop one of them", "suffix")
        if "<|fim_prefix|>" not in encoding.special_tokens_set:
            raise InvalidParameterError(
                f"`suffix` needs fill-in-the-middle tokens, which {encoding.name} (model {name!r}) "
                f"lacks; use gpt-3.5-turbo-instruct, davinci-002 or babbage-002", "suffix")
        fim = {s: encoding.encode_single_token(s) for s in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")}
        # Prefix-suffix-middle order (Bavarian et al. 2022, "Efficient Training of Language
        # Models to Fill in the Middle"): the model writes the middle after <|fim_middle|>.
        prompts = [(text, [fim["<|fim_prefix|>"]] + ids + [fim["<|fim_suffix|>"]]
                    + encoding.encode_ordinary(suffix) + [fim["<|fim_middle|>"]]) for text, ids in prompts]

    choices, prompt_tokens, completion_tokens = [], 0, 0
    for p_index, (text, ids) in enumerate(prompts):
        prompt_tokens += len(ids)
        candidates = [generate(model, ids, encoding=encoding, max_tokens=max_tokens, seed=seed,
                               choice_index=c, stop=stop, top_logprobs=k or 0,
                               logprobs_source=logprobs_source, **sampling)
                      for c in range(best_of)]
        completion_tokens += sum(g.completion_tokens for g in candidates)
        if best_of > n:
            # Keep the n with the highest mean log-probability per token (model's own
            # distribution); ties by lower candidate index.
            def score(c):
                lps = candidates[c].raw_logprobs
                return -(sum(lps) / len(lps)) if lps else 0.0
            order = sorted(range(best_of), key=lambda c: (score(c), c))[:n]
        else:
            order = list(range(n))
        echo_part = None
        if echo and k is not None:
            echo_part = [(ids[0], None, None)]
            for j in range(1, len(ids)):
                logits = _call(model, ids[:j], encoding.n_vocab)
                src = log_softmax(logits) if logprobs_source == "raw" else process_logits(logits, (), **sampling)
                echo_part.append((ids[j], float(src[ids[j]]), _top(src, k)))
        for rank, c in enumerate(order):
            g = candidates[c]
            body = g.text_bytes.decode("utf-8", errors="replace")
            choices.append({
                "text": (text + body) if echo else body,
                "index": p_index * n + rank,
                "logprobs": None if k is None else _completion_logprobs(encoding, text, g, k, echo_part),
                "finish_reason": g.finish_reason,
            })

    canonical = json.dumps(request, sort_keys=True, default=str) + f"|{seed}"
    return {
        "id": "cmpl-" + hashlib.sha256(canonical.encode()).hexdigest()[:24],
        "object": "text_completion",
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": _fingerprint(model, encoding),
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


# -- Chat Completions ----------------------------------------------------------------------------

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
