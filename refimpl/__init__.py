"""refimpl: a readable reference for the token and sampling math of OpenAI's text-generation APIs.

>>> import refimpl
>>> refimpl.get_encoding("cl100k_base").encode("hello world")
[15339, 1917]
"""
from .core import Encoding
from .data_gym import data_gym_to_mergeable_bpe_ranks
from .errors import DisallowedSpecialTokenError, RankFileError
from .load import dump_tiktoken_bpe, load_tiktoken_bpe
from .model import encoding_for_model, encoding_name_for_model
from .registry import get_encoding, list_encoding_names
from .tiktoken_cache import fill_tiktoken_cache

# Chat token counting (usage.prompt_tokens, per model and date)
from .chat_count import (
    PromptBreakdown,
    count_completion_tokens,
    count_prompt_tokens,
    explain_prompt_tokens,
    num_tokens_from_messages,
    usage_for_response,
)
from .chat_errors import ChatRequestError, ImageSizeError, UnknownModelError
from .chat_rules import ChatRules, resolve_rules

# Auditing billed usage (refimpl.audit_dask.audit_with_dask needs the `dask` extra)
from .audit import AuditSummary, audit_log, iter_audit
from .audit_batch import audit_batch

# Sampling math and the reference generation loop
from .generation import create_chat_completion, create_completion
from .params import InvalidParameterError
from .processors import (
    LogitBiasProcessor,
    LogSoftmaxProcessor,
    MinPProcessor,
    PenaltyProcessor,
    ProcessorList,
    TemperatureProcessor,
    TopKProcessor,
    TopPProcessor,
    api_processors,
)
from .sampling import process_logits, process_logits_reference
from .seeded import sample, sample_reference, system_fingerprint
from .sampling_step import sample_step

__version__ = "0.1.0"

__all__ = [
    "Encoding",
    "DisallowedSpecialTokenError",
    "RankFileError",
    "get_encoding",
    "list_encoding_names",
    "encoding_for_model",
    "encoding_name_for_model",
    "load_tiktoken_bpe",
    "dump_tiktoken_bpe",
    "data_gym_to_mergeable_bpe_ranks",
    "fill_tiktoken_cache",
    "count_prompt_tokens",
    "explain_prompt_tokens",
    "num_tokens_from_messages",
    "count_completion_tokens",
    "usage_for_response",
    "PromptBreakdown",
    "ChatRules",
    "resolve_rules",
    "ChatRequestError",
    "ImageSizeError",
    "UnknownModelError",
    "process_logits",
    "process_logits_reference",
    "sample",
    "sample_reference",
    "sample_step",
    "system_fingerprint",
    "create_completion",
    "create_chat_completion",
    "InvalidParameterError",
    "ProcessorList",
    "LogitBiasProcessor",
    "PenaltyProcessor",
    "TemperatureProcessor",
    "TopPProcessor",
    "TopKProcessor",
    "MinPProcessor",
    "LogSoftmaxProcessor",
    "api_processors",
    "audit_log",
    "iter_audit",
    "audit_batch",
    "AuditSummary",
]
