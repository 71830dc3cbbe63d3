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
]
