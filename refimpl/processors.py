"""The logit-processing steps as composable objects, for research use.

One protocol, as in transformers' `logits_process.py`: a processor is called as
`processor(output_token_ids, scores) -> new_scores`, where `scores` is (V,) or (B, V) and
`output_token_ids` is the generated history (one sequence, or one per row). Processors never
change their inputs, mark removed tokens with -inf, and return the input's float dtype.
A `ProcessorList` applies processors in order:

>>> procs = ProcessorList([TemperatureProcessor(0.5), TopKProcessor(2), LogSoftmaxProcessor()])
>>> np.exp(procs([], np.log([0.2, 0.5, 0.3]))).round(4)
array([0.    , 0.7353, 0.2647])

`api_processors(...)` builds the list that equals `refimpl.sampling.process_logits` (the API's
order); `TopKProcessor` and `MinPProcessor` are extensions the API does not offer.

Constructors check the *research* range of each parameter (e.g. any finite penalty) and raise
ValueError outside it; `refimpl.params` holds the API's narrower ranges.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from . import logits as L

__all__ = [
    "LogitsProcessor",
    "ProcessorList",
    "LogitBiasProcessor",
    "PenaltyProcessor",
    "TemperatureProcessor",
    "TopPProcessor",
    "TopKProcessor",
    "MinPProcessor",
    "LogSoftmaxProcessor",
    "api_processors",
]


@runtime_checkable
class LogitsProcessor(Protocol):
    """Anything called as `processor(output_token_ids, scores) -> new scores` (same shape)."""

    def __call__(self, output_token_ids, scores) -> np.ndarray: ...


class ProcessorList(list):
    """Apply processors in list order: scores -> p0 -> p1 -> ...

    >>> ProcessorList([LogitBiasProcessor({0: 1.0})])([], np.zeros(2))
    array([1., 0.])
    """

    def __call__(self, output_token_ids, scores):
        for processor in self:
            scores = processor(output_token_ids, scores)
        return scores


def _finite(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}; pass e.g. 0.5")
    return float(value)


def _min_keep(value):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"`min_tokens_to_keep` must be an integer >= 1, got {value!r}; pass 1")
    return int(value)


class LogitBiasProcessor:
    """Add a bias to listed token ids: scores[j] += logit_bias[j].

    Range: any finite bias (the API: -100..100). Equivalents: transformers
    `SequenceBiasLogitsProcessor` with length-1 keys; vLLM `SamplingParams(logit_bias=...)`.

    >>> LogitBiasProcessor({"1": -100})([], np.zeros(2))
    array([   0., -100.])
    """

    def __init__(self, logit_bias):
        self.logit_bias = {int(k): _finite(f"logit_bias[{k!r}]", v) for k, v in (logit_bias or {}).items()}

    def __call__(self, output_token_ids, scores):
        return L.apply_logit_bias(scores, self.logit_bias)


class PenaltyProcessor:
    """OpenAI frequency/presence penalties over the generated tokens (not the prompt):
    scores[j] -= c[j] * frequency_penalty + float(c[j] > 0) * presence_penalty.

    Range: any finite value (the API: -2..2; negative values encourage repetition).
    Equivalents: vLLM `SamplingParams(frequency_penalty=, presence_penalty=)` (same formula,
    output tokens only); llama.cpp `llama_sampler_init_penalties(last_n, 1.0, freq, present)`
    (same formula, but over the last `last_n` tokens *including* the prompt). transformers has
    no equivalent: its `RepetitionPenaltyLogitsProcessor` is multiplicative (CTRL-style).

    >>> PenaltyProcessor(frequency_penalty=1.0)([1, 1], np.zeros(3))
    array([ 0., -2.,  0.])
    """

    def __init__(self, frequency_penalty=0.0, presence_penalty=0.0):
        self.frequency_penalty = _finite("frequency_penalty", frequency_penalty)
        self.presence_penalty = _finite("presence_penalty", presence_penalty)

    def __call__(self, output_token_ids, scores):
        return L.apply_penalties(scores, output_token_ids, frequency_penalty=self.frequency_penalty,
                                 presence_penalty=self.presence_penalty)


class TemperatureProcessor:
    """Divide by the temperature (after shifting each row's max to 0); T = 0 is greedy.

    Range: T >= 0 (the API: 0..2). Equivalents: transformers `TemperatureLogitsWarper` (T > 0
    only; greedy there is `do_sample=False`); vLLM `SamplingParams(temperature=)` (T < 1e-5 is
    greedy); llama.cpp `llama_sampler_init_temp` (T <= 0 keeps only the first maximum).

    >>> TemperatureProcessor(0)([], np.array([0.0, 2.0, 2.0]))
    array([-inf,   0., -inf])
    """

    def __init__(self, temperature):
        t = _finite("temperature", temperature)
        if t < 0:
            raise ValueError(f"`temperature` must be >= 0, got {temperature!r}; use 0 for greedy")
        self.temperature = t

    def __call__(self, output_token_ids, scores):
        return L.apply_temperature(scores, self.temperature)


class TopPProcessor:
    """Nucleus filter: keep the smallest most-probable set whose mass reaches top_p (ties by
    lower id; the crossing token kept; at least `min_tokens_to_keep`).

    Range: 0..1 (1 disables it). Equivalents: transformers `TopPLogitsWarper` (removes tokens
    whose ascending cumulative mass is <= 1 - top_p: the same set up to rounding; tie order
    follows torch.sort); vLLM `SamplingParams(top_p=)`; llama.cpp `llama_sampler_init_top_p`
    (same rule, but llama.cpp runs it before temperature).

    >>> TopPProcessor(0.6)([], np.log([0.5, 0.3, 0.2]))
    array([-0.69314718, -1.2039728 ,        -inf])
    """

    def __init__(self, top_p, min_tokens_to_keep=1):
        p = _finite("top_p", top_p)
        if not 0 <= p <= 1:
            raise ValueError(f"`top_p` must be in [0, 1], got {top_p!r}; 1 disables it")
        self.top_p, self.min_tokens_to_keep = p, _min_keep(min_tokens_to_keep)

    def __call__(self, output_token_ids, scores):
        return L.apply_top_p(scores, self.top_p, min_tokens_to_keep=self.min_tokens_to_keep)


class TopKProcessor:
    """Extension (not in the API): keep the k highest-scoring tokens, ties by lower id.

    Range: integer k >= 0 (0 disables it). Equivalents: transformers `TopKLogitsWarper` (keeps
    every token tied with the k-th score, so possibly more than k); vLLM
    `SamplingParams(top_k=)` (-1 or 0 disables); llama.cpp `llama_sampler_init_top_k`.

    >>> TopKProcessor(1)([], np.array([0.0, 1.0, 1.0]))
    array([-inf,   1., -inf])
    """

    def __init__(self, top_k, min_tokens_to_keep=1):
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
            raise ValueError(f"`top_k` must be an integer >= 0, got {top_k!r}; use 0 to disable it")
        self.top_k, self.min_tokens_to_keep = int(top_k), _min_keep(min_tokens_to_keep)

    def __call__(self, output_token_ids, scores):
        return L.apply_top_k(scores, self.top_k, min_tokens_to_keep=self.min_tokens_to_keep)


class MinPProcessor:
    """Extension (not in the API): keep tokens with p >= min_p * p_max.

    Range: 0..1 (0 disables it). Equivalents: transformers `MinPLogitsWarper` (runs after
    temperature, as here if you list it after `TemperatureProcessor`); vLLM
    `SamplingParams(min_p=)` (after temperature); llama.cpp `llama_sampler_init_min_p` (before
    temperature in its default chain).

    >>> MinPProcessor(0.5)([], np.log([0.5, 0.3, 0.2]))
    array([-0.69314718, -1.2039728 ,        -inf])
    """

    def __init__(self, min_p, min_tokens_to_keep=1):
        p = _finite("min_p", min_p)
        if not 0 <= p <= 1:
            raise ValueError(f"`min_p` must be in [0, 1], got {min_p!r}; 0 disables it")
        self.min_p, self.min_tokens_to_keep = p, _min_keep(min_tokens_to_keep)

    def __call__(self, output_token_ids, scores):
        return L.apply_min_p(scores, self.min_p, min_tokens_to_keep=self.min_tokens_to_keep)


class LogSoftmaxProcessor:
    """Renormalise to log-probabilities (row max subtracted). Equivalent: transformers
    `LogitNormalization`.

    >>> np.exp(LogSoftmaxProcessor()([], np.zeros(2)))
    array([0.5, 0.5])
    """

    def __call__(self, output_token_ids, scores):
        return L.log_softmax(scores)


def api_processors(*, temperature=1.0, top_p=1.0, frequency_penalty=0.0, presence_penalty=0.0,
                   logit_bias=None) -> ProcessorList:
    """The API's pipeline as a `ProcessorList`: bias, penalties, temperature, top_p, log-softmax.

    Its result equals `refimpl.sampling.process_logits` with the same arguments (up to one
    rounding of the input dtype between steps for float32/float16 inputs).

    >>> np.exp(api_processors(top_p=0.5)([], np.array([1.0, 1.0, 0.0])))
    array([0.5, 0.5, 0. ])
    """
    return ProcessorList([
        LogitBiasProcessor(logit_bias),
        PenaltyProcessor(frequency_penalty, presence_penalty),
        TemperatureProcessor(temperature),
        TopPProcessor(top_p),
        LogSoftmaxProcessor(),
    ])
