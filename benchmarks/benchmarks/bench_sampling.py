"""asv benchmarks for one decoding step: `process_logits`, `sample`, `sample_step`, and a generation step.

The workload is issue 5's: B = 64 rows of V = 200,019 (o200k) float32 logits, logit_bias on 10
ids, frequency and presence penalties over 256 generated tokens per row, temperature 0.8,
top_p 0.9, then one seeded draw per row. Two logit profiles (`make_logits`):

* "peaked": a Zipf-like profile, as a trained model's logits look: the token of rank r (ids
  shuffled per row) gets -1.5 ln r + N(0, 0.1) plus a per-row offset, so after temperature
  0.8 p_r falls roughly like r**-1.9: the top token holds 50-60% of the mass and, with the
  penalties and bias below, the 0.9 nucleus is 3 to ~50 tokens.
* "flat": N(0, 0.1) per token, nearly uniform: the 0.9 nucleus is ~175,000 tokens (87%).

The history (256 ids per row) is half drawn from the row's 64 most likely tokens (models repeat
themselves, so penalties do hit the top of the distribution) and half uniform.

This module also holds the two peers of `compare_sampling.py`, written plainly here and not in
the package: `per_row_numpy` (one row at a time, a full sort per row) and `torch_step` (the
same computation batched in torch on the CPU, float32, the way transformers writes top_p).
One class per operation; inputs are built in ``setup``; only the measured call is inside
``time_*``.
"""
from __future__ import annotations

import numpy as np

from refimpl.sampling import process_logits
from refimpl.sampling_step import sample_step
from refimpl.seeded import sample

B, V = 64, 200_019
N_GENERATED = 256
STEP = dict(temperature=0.8, top_p=0.9, frequency_penalty=0.5, presence_penalty=0.3)
PROFILES = ["peaked", "flat"]


def make_logits(profile: str, batch: int = B, vocab: int = V, seed: int = 0):
    """(batch, vocab) float32 logits of the named profile (see the module docstring)."""
    rng = np.random.default_rng(seed)
    if profile == "flat":
        return rng.normal(0.0, 0.1, size=(batch, vocab)).astype(np.float32)
    if profile != "peaked":
        raise ValueError(f"profile must be 'peaked' or 'flat', got {profile!r}")
    zipf = -1.5 * np.log(np.arange(1, vocab + 1))                       # (V,) by rank
    out = np.empty((batch, vocab), dtype=np.float32)
    for b in range(batch):
        out[b, rng.permutation(vocab)] = zipf + rng.normal(0.0, 0.1, vocab) + rng.uniform(5, 15)
    return out


def make_step(profile: str, batch: int = B, vocab: int = V, seed: int = 0):
    """(logits, history, logit_bias, seeds): one decoding step's inputs."""
    logits = make_logits(profile, batch, vocab, seed)
    rng = np.random.default_rng(seed + 1)
    top = np.argsort(-logits, axis=1)[:, :64]                            # (B, 64)
    half = N_GENERATED // 2
    history = np.concatenate([np.take_along_axis(top, rng.integers(0, 64, (batch, half)), axis=1),
                              rng.integers(0, vocab, (batch, N_GENERATED - half))], axis=1)
    bias_ids = rng.choice(vocab, 10, replace=False)
    logit_bias = {int(t): float(b) for t, b in zip(bias_ids, rng.uniform(-5, 5, 10))}
    logit_bias[int(bias_ids[0])] = -100.0                                # one banned token
    seeds = np.arange(batch) + 1000 * seed
    return logits, history, logit_bias, seeds


def refimpl_step(logits, history, logit_bias, seeds):
    """refimpl: the whole step through the public API, in one call."""
    return sample_step(logits, history, logit_bias=logit_bias, seed=seeds, position=N_GENERATED,
                       **STEP)[0]


def refimpl_two_calls(logits, history, logit_bias, seeds):
    """refimpl: the same step as two calls (process_logits, then sample on its result)."""
    lp = process_logits(logits, history, logit_bias=logit_bias, **STEP)
    return sample(lp, seed=seeds, position=N_GENERATED)


def per_row_numpy(logits, history, logit_bias, seeds):
    """The straightforward version: one row at a time, float64, a full sort for top_p."""
    bias_ids = np.array(list(logit_bias), dtype=np.int64)
    bias_vals = np.array(list(logit_bias.values()))
    T, top_p = STEP["temperature"], STEP["top_p"]
    tokens = np.empty(logits.shape[0], dtype=np.int64)
    for b in range(logits.shape[0]):
        y = logits[b].astype(np.float64)                                 # (V,)
        y[bias_ids] += bias_vals
        c = np.bincount(history[b], minlength=y.size)
        y -= c * STEP["frequency_penalty"] + (c > 0) * STEP["presence_penalty"]
        z = (y - y.max()) / T
        p = np.exp(z)
        p /= p.sum()
        order = np.argsort(-p, kind="stable")                            # full sort
        n = int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1
        keep = order[:n]
        kept_p = np.exp(z[keep] - np.log(np.exp(z[keep]).sum()))
        u = np.random.default_rng(int(seeds[b])).random()
        cdf = np.cumsum(kept_p[np.argsort(keep)])
        tokens[b] = np.sort(keep)[min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), n - 1)]
    return tokens


def torch_step(torch, x, history, bias_ids, bias_vals, seeds):
    """The same step in torch (CPU, float32), batched, top_p as transformers writes it.

    x: (B, V) float32 tensor; history: (B, 256) int64 tensor; bias_ids/bias_vals: (10,) tensors.
    """
    T, top_p = STEP["temperature"], STEP["top_p"]
    y = x.clone()
    y[:, bias_ids] += bias_vals
    counts = torch.zeros_like(y).scatter_add_(1, history, torch.ones_like(history, dtype=y.dtype))
    y -= counts * STEP["frequency_penalty"] + (counts > 0).to(y.dtype) * STEP["presence_penalty"]
    y /= T
    values, order = torch.sort(y, descending=True, dim=-1)                # full sort
    probs = values.softmax(dim=-1)
    remove = probs.cumsum(dim=-1) - probs >= top_p                       # keeps the crossing token
    values[remove] = -float("inf")
    lp = torch.full_like(y, -float("inf")).scatter_(1, order, values.log_softmax(dim=-1))
    g = torch.Generator().manual_seed(int(seeds[0]))
    return torch.multinomial(lp.exp(), 1, generator=g)[:, 0]


# -- asv -----------------------------------------------------------------------------------------

class ProcessLogits:
    params = PROFILES
    param_names = ["profile"]
    timeout = 300

    def setup(self, profile):
        self.logits, self.history, self.bias, _ = make_step(profile)

    def time_process_logits(self, profile):
        process_logits(self.logits, self.history, logit_bias=self.bias, **STEP)

    def peakmem_process_logits(self, profile):
        process_logits(self.logits, self.history, logit_bias=self.bias, **STEP)


class Sample:
    params = PROFILES
    param_names = ["profile"]
    timeout = 300

    def setup(self, profile):
        logits, history, bias, self.seeds = make_step(profile)
        self.lp = process_logits(logits, history, logit_bias=bias, **STEP)

    def time_sample(self, profile):
        sample(self.lp, seed=self.seeds, position=N_GENERATED)

    def peakmem_sample(self, profile):
        sample(self.lp, seed=self.seeds, position=N_GENERATED)


class DecodingStep:
    """The whole step (sample_step, and process_logits + sample), next to the memory floor
    measured the same way."""
    params = PROFILES
    param_names = ["profile"]
    timeout = 300

    def setup(self, profile):
        self.args = make_step(profile)
        self.out = np.empty_like(self.args[0])

    def time_step(self, profile):
        refimpl_step(*self.args)

    def time_two_calls(self, profile):
        refimpl_two_calls(*self.args)

    def time_floor_copy(self, profile):
        self.args[0].copy()

    def time_floor_add(self, profile):
        np.add(self.args[0], 0, out=self.out)

    def track_step_over_floor(self, profile):
        import timeit
        step = min(timeit.repeat(lambda: refimpl_step(*self.args), number=1, repeat=5))
        floor = min(timeit.repeat(lambda: self.args[0].copy(), number=1, repeat=5))
        return step / floor

    track_step_over_floor.unit = "x copy"


class GenerationStep:
    """One token of `create_completion` with the bundled n-gram model (cl100k_base)."""
    params = [0.0, 1.0]
    param_names = ["temperature"]

    def setup(self, temperature):
        from refimpl.generation import create_completion
        self.create = create_completion
        self.request = {"model": "gpt-3.5-turbo-instruct", "prompt": "The capital of France is",
                        "max_tokens": 1, "seed": 1, "temperature": temperature, "top_p": 0.9,
                        "frequency_penalty": 0.5, "logit_bias": {"11": 1.0}}
        self.create(self.request)                                        # loads the model

    def time_create_completion_one_token(self, temperature):
        self.create(self.request)
