"""Which encoding a model uses: exact names first, then prefixes (longest first).

The table is tiktoken 0.14.0's (``tiktoken/model.py``) plus a few names it lacks, each marked
``# refimpl:`` with the reason. Prefix matching means dated snapshots
(``gpt-4o-2024-08-06``), fine-tunes (``ft:gpt-4o-mini:org::id``) and Azure deployment names
(``gpt-35-turbo-16k``) resolve without a table update.
"""
from __future__ import annotations

MODEL_TO_ENCODING: dict[str, str] = {
    # reasoning
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    # chat
    "gpt-5": "o200k_base",
    "gpt-4.5": "o200k_base",  # refimpl: the bare alias (tiktoken has only the prefix)
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-3.5": "cl100k_base",  # common shorthand
    "gpt-35-turbo": "cl100k_base",  # Azure deployment name
    "computer-use-preview": "o200k_base",  # refimpl: an o200k-era model (OpenAI's vision docs)
    # base
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
    # embeddings
    "text-embedding-ada-002": "cl100k_base",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-3-large": "cl100k_base",
    # legacy text completion
    "text-davinci-003": "p50k_base",
    "text-davinci-002": "p50k_base",
    "text-davinci-001": "r50k_base",
    "text-curie-001": "r50k_base",
    "text-babbage-001": "r50k_base",
    "text-ada-001": "r50k_base",
    "davinci": "r50k_base",
    "curie": "r50k_base",
    "babbage": "r50k_base",
    "ada": "r50k_base",
    # legacy code
    "code-davinci-002": "p50k_base",
    "code-davinci-001": "p50k_base",
    "code-cushman-002": "p50k_base",
    "code-cushman-001": "p50k_base",
    "davinci-codex": "p50k_base",
    "cushman-codex": "p50k_base",
    # legacy edit
    "text-davinci-edit-001": "p50k_edit",
    "code-davinci-edit-001": "p50k_edit",
    # legacy embeddings
    "text-similarity-davinci-001": "r50k_base",
    "text-similarity-curie-001": "r50k_base",
    "text-similarity-babbage-001": "r50k_base",
    "text-similarity-ada-001": "r50k_base",
    "text-search-davinci-doc-001": "r50k_base",
    "text-search-curie-doc-001": "r50k_base",
    "text-search-babbage-doc-001": "r50k_base",
    "text-search-ada-doc-001": "r50k_base",
    "code-search-babbage-code-001": "r50k_base",
    "code-search-ada-code-001": "r50k_base",
    # open weights
    "gpt2": "gpt2",
    "gpt-2": "gpt2",
}

MODEL_PREFIX_TO_ENCODING: dict[str, str] = {
    "o1-": "o200k_base",
    "o3-": "o200k_base",
    "o4-mini-": "o200k_base",
    "gpt-5": "o200k_base",  # gpt-5-mini, gpt-5.1, gpt-5-2025-08-07, ...
    "gpt-4.5-": "o200k_base",
    "gpt-4.1-": "o200k_base",
    "chatgpt-4o-": "o200k_base",
    "gpt-4o-": "o200k_base",  # e.g. gpt-4o-2024-05-13
    "gpt-4-": "cl100k_base",  # e.g. gpt-4-0314, gpt-4-32k, gpt-4-turbo
    "gpt-3.5-turbo-": "cl100k_base",  # e.g. gpt-3.5-turbo-0301
    "gpt-35-turbo-": "cl100k_base",  # Azure deployment name
    "gpt-oss-": "o200k_harmony",
    "computer-use-preview-": "o200k_base",  # refimpl: dated snapshots of the above
    # fine-tuned
    "ft:gpt-4.1": "o200k_base",  # refimpl: tiktoken's "ft:gpt-4" prefix maps these to cl100k
    "ft:o4-mini": "o200k_base",  # refimpl: reinforcement fine-tunes of o4-mini
    "ft:gpt-4o": "o200k_base",
    "ft:gpt-4": "cl100k_base",
    "ft:gpt-3.5-turbo": "cl100k_base",
    "ft:davinci-002": "cl100k_base",
    "ft:babbage-002": "cl100k_base",
}

# Longest prefix wins, so "ft:gpt-4.1" is tried before "ft:gpt-4".
_PREFIXES = sorted(MODEL_PREFIX_TO_ENCODING.items(), key=lambda kv: -len(kv[0]))


def encoding_name_for_model(model_name: str) -> str:
    """The name of the encoding a model uses.

    Raises ``KeyError`` for a model it cannot place, saying what to do instead.

    >>> encoding_name_for_model("gpt-4o-mini-2024-07-18")
    'o200k_base'
    >>> encoding_name_for_model("ft:gpt-3.5-turbo-0613:acme::8abc")
    'cl100k_base'
    """
    if not isinstance(model_name, str):
        raise TypeError(f"model name must be a str, got {type(model_name).__name__} {model_name!r}")
    if model_name in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[model_name]
    for prefix, encoding_name in _PREFIXES:
        if model_name.startswith(prefix):
            return encoding_name
    raise KeyError(
        f"Could not automatically map {model_name!r} to a tokeniser. Known model families: "
        "gpt-5*, gpt-4.5*, gpt-4.1*, gpt-4o*, o1*/o3*/o4-mini*, gpt-oss-*, gpt-4*, gpt-3.5-turbo*, "
        "text-embedding-*, legacy completion/edit/code models and ft: fine-tunes of these. "
        "Use refimpl.get_encoding(name) with one of refimpl.list_encoding_names() "
        "(o200k_base for current OpenAI models) to choose the tokeniser yourself."
    ) from None


def encoding_for_model(model_name: str):
    """The :class:`~refimpl.core.Encoding` a model uses (see :func:`encoding_name_for_model`).

    >>> encoding_for_model("gpt-4").name
    'cl100k_base'
    """
    from .registry import get_encoding

    return get_encoding(encoding_name_for_model(model_name))
