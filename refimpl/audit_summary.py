"""The audit's summary (`AuditSummary`) and report writer (`write_report`).

Re-exported by `refimpl.audit`; see there for the record format.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["AuditSummary", "write_report"]


@dataclass
class AuditSummary:
    """Totals of a report. Token sums cover the records with both numbers (match and mismatch).

    >>> s = AuditSummary(); s.add({"status": "match", "predicted_prompt_tokens": 8,
    ...                            "reported_prompt_tokens": 8, "estimate": False})
    >>> s.to_dict()["matches"], s.to_dict()["predicted_prompt_tokens"]
    (1, 8)
    """

    records: int = 0
    matches: int = 0
    mismatches: int = 0
    errors: int = 0
    estimates: int = 0
    predicted_prompt_tokens: int = 0
    reported_prompt_tokens: int = 0
    errors_by_type: dict = field(default_factory=dict)

    def add(self, rec: dict) -> None:
        self.records += 1
        status = rec["status"]
        if status == "error":
            self.errors += 1
            self.errors_by_type[rec["error_type"]] = self.errors_by_type.get(rec["error_type"], 0) + 1
            return
        self.matches += status == "match"
        self.mismatches += status == "mismatch"
        self.estimates += bool(rec.get("estimate"))
        self.predicted_prompt_tokens += rec["predicted_prompt_tokens"]
        self.reported_prompt_tokens += rec["reported_prompt_tokens"]

    @property
    def clean(self) -> bool:
        """True when every record matched."""
        return self.matches == self.records

    def to_dict(self) -> dict:
        return {"records": self.records, "matches": self.matches, "mismatches": self.mismatches,
                "errors": self.errors, "estimates": self.estimates,
                "predicted_prompt_tokens": self.predicted_prompt_tokens,
                "reported_prompt_tokens": self.reported_prompt_tokens,
                "difference": self.predicted_prompt_tokens - self.reported_prompt_tokens,
                "errors_by_type": dict(sorted(self.errors_by_type.items()))}

    def format(self) -> str:
        """A few lines for a terminal."""
        d = self.to_dict()
        pct = f" ({100 * d['matches'] / d['records']:.1f}%)" if d["records"] else ""
        lines = [f"records     {d['records']:>10,}",
                 f"matches     {d['matches']:>10,}{pct}",
                 f"mismatches  {d['mismatches']:>10,}",
                 f"errors      {d['errors']:>10,}" + (
                     "  (" + ", ".join(f"{k}: {v}" for k, v in d["errors_by_type"].items()) + ")" if d["errors"] else ""),
                 f"prompt tokens predicted {d['predicted_prompt_tokens']:,} vs billed "
                 f"{d['reported_prompt_tokens']:,} (difference {d['difference']:+,}; matched and mismatched lines)"]
        if d["estimates"]:
            lines.append(f"estimates   {d['estimates']:>10,}  (predictions resting on an unmeasured rule; see notes)")
        return "\n".join(lines)


def write_report(records: Iterable[dict], report=None) -> AuditSummary:
    """Write `records` as JSON Lines to `report` (a path, ``"-"`` for stdout, a text file, or
    None to only summarize) and return their `AuditSummary`."""
    summary = AuditSummary()
    if report is None:
        for rec in records:
            summary.add(rec)
        return summary
    if isinstance(report, (str, os.PathLike)) and str(report) != "-":
        with open(report, "w", encoding="utf-8", newline="\n") as f:
            return write_report(records, f)
    if isinstance(report, (str, os.PathLike)):
        report = sys.stdout
    for rec in records:
        summary.add(rec)
        report.write(json.dumps(rec, ensure_ascii=False) + "\n")
    report.flush()
    return summary
