"""A small interpolated n-gram model over a real encoding: the default `model` of the generation
loop, so that everything runs offline.

The corpus (`_data/ngram/corpus.txt`, ~4 KB of original English prose written for this package)
is split into documents at blank lines; each document is encoded and followed by
`<|endoftext|>`, so the model learns where a text ends. The next-token probability mixes
maximum-likelihood estimates of every order, Jelinek-Mercer style:

    p(w | ..., a, b) = l0 / V_text + l1 * c(w) / N + l2 * c(b, w) / c(b, .) + l3 * c(a, b, w) / c(a, b, .)

with the weights of orders whose context was never seen moved to the remaining ones, and V_text
the number of ordinary (non-special) tokens. The floor l0 / V_text keeps every ordinary token
possible. Special tokens other than `<|endoftext|>` get -inf. The model returns log p as logits.

It is a toy: it parrots its corpus. It exists to exercise the API math, not to write well.

>>> from refimpl.ngram import default_model
>>> m = default_model("cl100k_base")
>>> logits = m(m.encoding.encode("The capital of France is"))
>>> m.encoding.decode([int(logits.argmax())])
' Paris'
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .registry import get_encoding

__all__ = ["NGramModel", "default_model", "CORPUS_PATH"]

CORPUS_PATH = Path(__file__).parent / "_data" / "ngram" / "corpus.txt"
WEIGHTS = (0.002, 0.098, 0.3, 0.6)  # l0 (uniform floor), l1 (unigram), l2 (bigram), l3 (trigram)


class NGramModel:
    """Next-token logits from an interpolated n-gram model. Call it with token ids.

    `documents`: lists of token ids (each should end with the end-of-text id). `encoding`: the
    tiktoken-style Encoding the ids come from. `weights`: (floor, order 1, order 2, ...), summing
    to 1; the model's order is len(weights) - 1.

    Calling `model(token_ids)` returns float64 logits of shape (encoding.n_vocab,): log p for
    ordinary tokens and `<|endoftext|>`, -inf for other special tokens.
    """

    def __init__(self, documents, encoding, weights=WEIGHTS, name="ngram"):
        if abs(sum(weights) - 1) > 1e-9 or min(weights) < 0:
            raise ValueError(f"`weights` must be non-negative and sum to 1, got {weights!r}")
        self.encoding, self.weights, self.name = encoding, tuple(weights), name
        self.order = len(weights) - 1
        V = encoding.n_vocab
        self.eot = encoding.eot_token
        special = {encoding.encode_single_token(s) for s in encoding.special_tokens_set}
        self._floor = np.full(V, 1.0)  # (V,) which tokens the uniform floor covers
        self._floor[sorted(special)] = 0.0
        self._floor[self.eot] = 1.0
        self._floor /= self._floor.sum()
        # counts[n][context tuple of length n] = (ids array, probabilities array)
        raw = [defaultdict(Counter) for _ in range(self.order)]
        for doc in documents:
            for i, w in enumerate(doc):
                for n in range(self.order):
                    if i >= n:
                        raw[n][tuple(doc[i - n:i])][w] += 1
        self._tables = [
            {ctx: (np.array(list(c.keys()), dtype=np.int64),
                   np.array(list(c.values()), dtype=np.float64) / sum(c.values()))
             for ctx, c in table.items()}
            for table in raw
        ]
        digest = hashlib.sha256(repr((self.name, encoding.name, self.weights,
                                      [list(d) for d in documents])).encode()).hexdigest()
        #: Identifies the model for `refimpl.seeded.system_fingerprint`.
        self.identity = f"{name}:{encoding.name}:{digest[:16]}"

    def probabilities(self, token_ids):
        """Next-token probabilities (V,) after `token_ids` (a sequence of ints); they sum to 1.

        >>> m = default_model("cl100k_base")
        >>> round(float(m.probabilities(m.encoding.encode("The sea")).sum()), 12)
        1.0
        """
        ids = [int(t) for t in token_ids]
        parts = [(self.weights[0], None)]
        for n in range(self.order):
            ctx = tuple(ids[len(ids) - n:]) if n else ()
            if n and len(ids) < n:
                continue
            entry = self._tables[n].get(ctx)
            if entry is not None:
                parts.append((self.weights[n + 1], entry))
        total = sum(w for w, _ in parts)  # renormalise over the orders we have
        p = self._floor * (parts[0][0] / total)  # (V,)
        for w, (ids_n, probs_n) in parts[1:]:
            p[ids_n] += (w / total) * probs_n
        return p

    def __call__(self, token_ids):
        with np.errstate(divide="ignore"):  # log(0) = -inf for the excluded special tokens
            return np.log(self.probabilities(token_ids))


def _documents(text: str, encoding):
    docs = [d.strip() for d in text.split("\n\n") if d.strip()]
    return [encoding.encode_ordinary(d) + [encoding.eot_token] for d in docs]


@functools.lru_cache(maxsize=None)
def default_model(encoding_name: str = "cl100k_base") -> NGramModel:
    """The bundled trigram model over `encoding_name` (built on first use, then cached).

    Raises whatever `refimpl.registry.get_encoding` raises for an unknown encoding name.

    >>> default_model("cl100k_base") is default_model("cl100k_base")
    True
    """
    encoding = get_encoding(encoding_name)
    text = CORPUS_PATH.read_text(encoding="utf-8")
    return NGramModel(_documents(text, encoding), encoding, name="refimpl-ngram-v1")
