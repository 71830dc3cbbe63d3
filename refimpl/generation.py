"""A reference generation loop with the API's request and response shapes.

The loop lives here; the endpoints that drive it have a module each:
`refimpl.completions.create_completion(request, model=None)` follows the legacy Completions API
and `refimpl.chat_completions.create_chat_completion(request, model=None)` the Chat Completions
API (both are importable from here too). `model` is any
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

from dataclasses import dataclass, field

import numpy as np

from .json_mode import JSON_MODE_VERSION
from .logits import log_softmax
from .sampling import process_logits
from .seeded import sample, system_fingerprint

__all__ = ["create_completion", "create_chat_completion", "COMPLETION_MODELS", "generate", "Generated"]

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


# The endpoints stay importable from here (`from refimpl.generation import create_completion`).
# They import the loop above, so they are looked up lazily (PEP 562) rather than imported at
# the top, which would be circular.
_ENDPOINTS = {"create_completion": "completions", "COMPLETION_MODELS": "completions",
              "create_chat_completion": "chat_completions"}


def __getattr__(name):
    if name in _ENDPOINTS:
        import importlib
        return getattr(importlib.import_module(f".{_ENDPOINTS[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
