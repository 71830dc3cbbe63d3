"""The legacy Completions endpoint (`POST /v1/completions`) over the loop of `refimpl.generation`.

`create_completion(request, model=None)` validates the request as the API does, builds the
prompts (a string, strings, ids or id lists; `suffix` through fill-in-the-middle tokens), runs
`generate` for each of `best_of` candidates, keeps the `n` best by mean log-probability and
returns the API's `text_completion` dict (logprobs with text offsets, `echo`, usage).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from .generation import _OPEN_ENDED_CAP, _call, _fingerprint, _top, generate
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
)
from .registry import get_encoding
from .sampling import process_logits

__all__ = ["create_completion", "COMPLETION_MODELS"]

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
