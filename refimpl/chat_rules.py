"""How each chat model turns a request into prompt tokens: a data table keyed by dated snapshot.

A *snapshot* (``gpt-3.5-turbo-0301``, ``gpt-4o-2024-08-06``) is a fixed model; an *alias*
(``gpt-3.5-turbo``) points at different snapshots over time. `resolve_rules(model, as_of=)`
follows the alias history to the snapshot that served a request on that day, then applies any
dated change to the snapshot's own rules (the 0301/0314 reply priming went from 2 to 3).

Evidence (all counts are API-reported ``usage.prompt_tokens``; see tests/data/chat_prompt_tokens.json):

* 0301 rules, 4 per message / -1 when ``name`` replaces the role / +2 priming: the cookbook's
  How_to_count_tokens_with_tiktoken.ipynb, 2023-03-02 and 2023-03-20 (126 for the jargon example).
* +3 priming from the cookbook commit of 2023-03-24 on (127 for 0301, 129 for gpt-4-0314, which
  gave 128 on 2023-03-20). The change happened between those two dates; we switch on 2023-03-24
  (the first day observed), an estimate of the exact day.
* 3 per message / +1 name / +3 priming for 0613 and every later snapshot: the cookbook (129 on
  cl100k, 124 on o200k), hmarr/openai-chat-tokens, pamelafox/openai-messages-token-helper and
  chrisdinn/tokens, all checked against the live API.
* Alias moves: ``gpt-3.5-turbo`` and ``gpt-4`` moved to 0613 on 2023-06-27 (OpenAI's
  2023-06-13 function-calling announcement); the cookbook still saw 0301's 127 on 2023-06-23 and
  0613's 129 on 2023-09-27. ``gpt-3.5-turbo`` moved to 1106 on 2023-12-11 and to 0125 on
  2024-02-16 (OpenAI DevDay and 2024-01-25 announcements; same counting rules either way).

>>> resolve_rules("gpt-3.5-turbo", as_of="2023-04-03").snapshot
'gpt-3.5-turbo-0301'
>>> r = resolve_rules("gpt-4o"); (r.encoding, r.tokens_per_message, r.reply_priming)
('o200k_base', 3, 3)
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass

from .chat_errors import UnknownModelError

__all__ = ["ChatRules", "ImageRules", "resolve_rules", "known_families", "parse_date", "TOOLS_REVISIONS"]


@dataclass(frozen=True)
class ImageRules:
    """Image token constants (OpenAI "Images and vision" guide, "Calculating costs").

    `kind` is ``"tile"`` (base + tile x number of 512 px tiles) or ``"patch"`` (32 px patches,
    capped at 1536, times `multiplier`).
    """

    kind: str = "tile"
    base: int = 85
    tile: int = 170
    multiplier: float = 1.0


@dataclass(frozen=True)
class ChatRules:
    """Counting rules for one model snapshot (all counts in tokens).

    * `format`: ``"chatml"`` (``<|im_start|>role<|im_sep|>content<|im_end|>``) or ``"harmony"``.
    * `tokens_per_message`: framing tokens around every message (4 for 0301, else 3).
    * `tokens_per_name`: added when a message has ``name`` (-1 for 0301, where the name replaces
      the role; +1 later).
    * `reply_priming`: tokens that start the assistant's reply (``<|im_start|>assistant<|im_sep|>``).
    * `tools_revision`: which function-definition rendering (see chat_tools.py) applies.
    * `image`: image constants, or None for a text-only model.
    * `estimated`: names of fields whose value is inferred rather than measured for this model.
    """

    snapshot: str
    encoding: str
    format: str = "chatml"
    tokens_per_message: int = 3
    tokens_per_name: int = 1
    reply_priming: int = 3
    tools_revision: str = "2023-11"
    image: ImageRules | None = None
    estimated: tuple[str, ...] = ()
    notes: str = ""

    def replace(self, **changes) -> "ChatRules":
        """A copy with some fields changed (for passing explicit rules).

        >>> resolve_rules("gpt-4o").replace(reply_priming=2).reply_priming
        2
        """
        return dataclasses.replace(self, **changes)


# The function-definition renderings we can tell apart from the measurements (chat_tools.py):
# "2023-06" is what hmarr/openai-chat-tokens measured on gpt-3.5-turbo-0613 (Jul-Sep 2023);
# "2023-11" what chrisdinn (Mar 2024), pamelafox (May 2024) and the cookbook (Oct 2024) measured.
# We date the switch to the tools API launch (2023-11-06, DevDay): an estimate.
TOOLS_REVISIONS = (("2023-06-13", "2023-06"), ("2023-11-06", "2023-11"))

# --- image constants, from the issue / OpenAI's vision guide -------------------------------
_TILE_85 = ImageRules("tile", 85, 170)
_MINI_4O = ImageRules("tile", 2833, 5667)
_O_SERIES = ImageRules("tile", 75, 150)
_GPT5 = ImageRules("tile", 70, 140)
_CUA = ImageRules("tile", 65, 129)
_PATCH_MINI = ImageRules("patch", multiplier=1.62)
_PATCH_NANO = ImageRules("patch", multiplier=2.46)
_PATCH_O4 = ImageRules("patch", multiplier=1.72)

_CL, _O2 = "cl100k_base", "o200k_base"

# --- families: prefix -> default rules for any snapshot of that family ----------------------
# Longest prefix wins, so "gpt-4o-mini" beats "gpt-4o" and "gpt-4.1-mini" beats "gpt-4.1".
_FAMILIES: dict[str, dict] = {
    "gpt-3.5-turbo": dict(encoding=_CL),
    "gpt-35-turbo": dict(encoding=_CL),  # Azure's spelling
    "gpt-4": dict(encoding=_CL),
    "gpt-4-turbo": dict(encoding=_CL, image=_TILE_85),
    "gpt-4-vision": dict(encoding=_CL, image=_TILE_85),
    "gpt-4-1106-vision": dict(encoding=_CL, image=_TILE_85),
    "gpt-4v": dict(encoding=_CL, image=_TILE_85),  # Azure's name for gpt-4 with vision
    "gpt-4o": dict(encoding=_O2, image=_TILE_85),
    "chatgpt-4o": dict(encoding=_O2, image=_TILE_85),
    "gpt-4o-mini": dict(encoding=_O2, image=_MINI_4O),
    "gpt-4.1": dict(encoding=_O2, image=_TILE_85),
    "gpt-4.1-mini": dict(encoding=_O2, image=_PATCH_MINI),
    "gpt-4.1-nano": dict(encoding=_O2, image=_PATCH_NANO),
    "gpt-4.5": dict(encoding=_O2, image=_TILE_85),
    "o1": dict(encoding=_O2, image=_O_SERIES),
    "o1-mini": dict(encoding=_O2),
    "o1-pro": dict(encoding=_O2, image=_O_SERIES),
    "o3": dict(encoding=_O2, image=_O_SERIES),
    "o3-mini": dict(encoding=_O2),
    "o4-mini": dict(encoding=_O2, image=_PATCH_O4),
    "gpt-5": dict(encoding=_O2, image=_GPT5),
    "gpt-5-mini": dict(encoding=_O2, image=_PATCH_MINI),
    "gpt-5-nano": dict(encoding=_O2, image=_PATCH_NANO),
    "computer-use-preview": dict(encoding=_O2, image=_CUA),
    "gpt-oss": dict(encoding="o200k_harmony", format="harmony", tokens_per_message=0,
                    tokens_per_name=0, reply_priming=2),
}
# Families whose chat framing we have no API measurement for: same ChatML rules as gpt-4o
# (the best evidence available), flagged as estimates in every breakdown.
_UNMEASURED = ("gpt-4.1", "gpt-4.5", "o1", "o3", "o4-mini", "gpt-5", "computer-use-preview")

# --- snapshots whose rules differ from their family's defaults ------------------------------
# Each entry: list of (effective-from date, overrides); later entries win from their date.
_SNAPSHOTS: dict[str, list[tuple[str, dict]]] = {
    "gpt-3.5-turbo-0301": [
        ("2023-03-01", dict(tokens_per_message=4, tokens_per_name=-1, reply_priming=2)),
        ("2023-03-24", dict(reply_priming=3)),
    ],
    "gpt-4-0314": [
        ("2023-03-14", dict(reply_priming=2)),
        ("2023-03-24", dict(reply_priming=3)),
    ],
}

# --- aliases: alias -> list of (from date, snapshot), oldest first --------------------------
_ALIASES: dict[str, list[tuple[str, str]]] = {
    "gpt-3.5-turbo": [("2023-03-01", "gpt-3.5-turbo-0301"), ("2023-06-27", "gpt-3.5-turbo-0613"),
                      ("2023-12-11", "gpt-3.5-turbo-1106"), ("2024-02-16", "gpt-3.5-turbo-0125")],
    "gpt-35-turbo": [("2023-03-01", "gpt-3.5-turbo-0301"), ("2023-06-27", "gpt-3.5-turbo-0613"),
                     ("2024-02-16", "gpt-3.5-turbo-0125")],
    "gpt-4": [("2023-03-14", "gpt-4-0314"), ("2023-06-27", "gpt-4-0613")],
    "gpt-4-turbo-preview": [("2024-01-25", "gpt-4-0125-preview")],
    "gpt-4-turbo": [("2024-04-09", "gpt-4-turbo-2024-04-09")],
    "gpt-4o": [("2024-05-13", "gpt-4o-2024-05-13"), ("2024-10-02", "gpt-4o-2024-08-06")],
    "gpt-4o-mini": [("2024-07-18", "gpt-4o-mini-2024-07-18")],
}


def parse_date(value) -> _dt.date | None:
    """`as_of` as a date: None, a `datetime.date`/`datetime`, or an ISO string ``"2023-06-23"``.

    >>> parse_date("2023-06-23")
    datetime.date(2023, 6, 23)
    """
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise UnknownModelError("`as_of` is not a date", where="as_of", found=value,
                            allowed="None, a datetime.date, or an ISO date string 'YYYY-MM-DD'",
                            fix="pass e.g. as_of='2023-06-23'")


def known_families() -> list[str]:
    """The model families the table knows (prefixes; any snapshot of them resolves).

    >>> "gpt-4o-mini" in known_families()
    True
    """
    return sorted(_FAMILIES)


def _family(name: str) -> str | None:
    base = name.split(":")[1] if name.startswith("ft:") else name  # fine-tunes: ft:gpt-4o:org::id
    best = None
    for prefix in _FAMILIES:
        if base == prefix or base.startswith(prefix + "-"):
            if best is None or len(prefix) > len(best):
                best = prefix
    return best


def _pick(history: list[tuple[str, object]], day: _dt.date | None):
    """The last entry whose start date is on or before `day` (today's entry when day is None)."""
    if day is None:
        return history[-1][1]
    chosen = history[0][1]  # before the first date: the earliest known entry
    for start, value in history:
        if _dt.date.fromisoformat(start) <= day:
            chosen = value
    return chosen


def resolve_rules(model: str, *, as_of=None) -> ChatRules:
    """The counting rules for `model` as the API applied them on `as_of` (default: today).

    Resolution: alias -> dated snapshot (by `as_of`), snapshot -> family defaults, then the
    snapshot's own dated overrides. Raises `UnknownModelError` (a KeyError) for a model
    outside every known family; the message lists the families and how to pass explicit rules.

    >>> resolve_rules("gpt-3.5-turbo-0301", as_of="2023-03-20").reply_priming
    2
    >>> resolve_rules("gpt-3.5-turbo-0301", as_of="2023-03-24").reply_priming
    3
    >>> resolve_rules("gpt-4o-mini-2024-07-18").image.base
    2833
    """
    if not isinstance(model, str) or not model:
        raise UnknownModelError("`model` must be a non-empty string", where="request.model",
                                found=model, allowed="a model name such as 'gpt-4o'",
                                fix="set request['model']")
    day = parse_date(as_of)
    snapshot = _pick(_ALIASES[model], day) if model in _ALIASES else model
    family = _family(snapshot)
    if family is None:
        raise UnknownModelError(
            "unknown chat model", where="request.model", found=model,
            allowed="a model of a known family: " + ", ".join(known_families()),
            fix="use a known model name, or pass explicit rules, e.g. "
                "count_prompt_tokens(request, rules=resolve_rules('gpt-4o').replace(...))")
    values = dict(_FAMILIES[family])
    estimated: list[str] = []
    if family in _UNMEASURED or _family(family) in _UNMEASURED:
        estimated.append("message framing (no API measurement for this family; gpt-4o's rules)")
    for i, (start, overrides) in enumerate(_SNAPSHOTS.get(snapshot, [])):
        # the first entry is the snapshot's launch rules and always applies
        if i == 0 or day is None or _dt.date.fromisoformat(start) <= day:
            values.update(overrides)
    if snapshot in _SNAPSHOTS and day is not None and day.isoformat() in ("2023-03-21", "2023-03-22", "2023-03-23"):
        estimated.append("reply priming (changed from 2 to 3 between 2023-03-20 and 2023-03-24)")
    values.setdefault("tools_revision", _pick([(d, r) for d, r in TOOLS_REVISIONS], day))
    return ChatRules(snapshot=snapshot, estimated=tuple(estimated), **values)
