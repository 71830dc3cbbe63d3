"""Where refimpl's warm time goes, part by part, against tiktoken's warm pass in the same run.

The warm measure of ``compare_tokenizer.py`` (a process that has encoded the first half of a
corpus encodes the second) splits into parts that can each be timed on their own, in one
process:

* split: the regex split of the warm half into pieces (``SplitPattern.findall``);
* again: the warm half encoded once more, every piece cached: the split plus one dictionary
  lookup per piece, so "lookups" is again minus split;
* new pieces: the pieces of the warm half that the first half did not have, each encoded into
  a fresh piece cache: whole tokens (one miss each) and the rest (BPE);
* the same BPE pieces through puretiktoken's merge loop, when it is installed: the other
  pure-Python implementation of the same algorithm.

Every round builds a fresh refimpl encoding, encodes the first half (not timed), then times the
warm pass, and each part above, and tiktoken's warm pass, one after another; each figure is
the median over the rounds of its time over tiktoken's in that round. Usage::

    python benchmarks/breakdown.py                 # both encodings, prose and code
    python benchmarks/breakdown.py --quick         # cl100k_base prose, 3 rounds (CI smoke)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from compare_tokenizer import _median_ratio  # noqa: E402
from make_corpus import halves  # noqa: E402

PARTS = ("refimpl warm pass", "again (every piece cached)", "split", "new pieces: whole tokens",
         "new pieces: BPE", "puretiktoken, same BPE pieces")


def _seconds(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def _puretiktoken_bpe():
    """puretiktoken's merge loop (a private function), or None if it cannot be imported."""
    try:
        from puretiktoken._bpe import byte_pair_encode
    except ImportError:
        return None
    return byte_pair_encode


def breakdown(name: str, kind: str, rounds: int) -> str:
    import refimpl
    import tiktoken
    from refimpl.bpe import byte_pair_encode
    from refimpl.piece_cache import PieceCache

    cold, warm = halves(kind)
    tk = tiktoken.get_encoding(name)
    base = refimpl.get_encoding(name)
    ranks = base._mergeable_ranks

    def fresh():
        return refimpl.Encoding(name, pat_str=base._pat_str, mergeable_ranks=ranks,
                                special_tokens=base._special_tokens)

    split = fresh()._split
    seen = set(split.findall(cold))
    new = [p for p in dict.fromkeys(split.findall(warm)) if p not in seen]
    whole = [p for p in new if p.encode("utf-8") in ranks]
    rest = [p for p in new if p.encode("utf-8") not in ranks]
    rest_bytes = [p.encode("utf-8") for p in rest]
    merges = sum(len(p) - len(byte_pair_encode(p, ranks)) for p in rest_bytes)
    pure_bpe = _puretiktoken_bpe()

    def encode_all(cache, pieces):  # every piece a miss of a fresh cache
        for piece in pieces:
            cache[piece]

    def pure_all():
        for piece in rest_bytes:
            pure_bpe(piece, ranks)

    times: dict[str, list[float]] = {part: [] for part in ("tiktoken",) + PARTS}
    for _ in range(rounds):
        enc = fresh()
        enc.encode_ordinary(cold)
        times["refimpl warm pass"].append(_seconds(enc.encode_ordinary, warm))
        times["again (every piece cached)"].append(_seconds(enc.encode_ordinary, warm))
        times["split"].append(_seconds(split.findall, warm))
        times["new pieces: whole tokens"].append(_seconds(encode_all, PieceCache(ranks), whole))
        times["new pieces: BPE"].append(_seconds(encode_all, PieceCache(ranks), rest))
        if pure_bpe is not None:
            times["puretiktoken, same BPE pieces"].append(_seconds(pure_all))
        times["tiktoken"].append(_seconds(tk.encode_ordinary, warm))

    times["lookups"] = [a - s for a, s in zip(times["again (every piece cached)"], times["split"])]
    lines = [f"{name} {kind}: warm half {len(warm.encode('utf-8')) / 1e3:.0f} KB, "
             f"{len(new):,} pieces the first half did not have: {len(whole):,} whole tokens, "
             f"{len(rest):,} through BPE ({merges / max(len(rest), 1):.1f} merges each)",
             "| part | ms (median) | x tiktoken's warm pass |", "|---|---|---|",
             f"| tiktoken warm pass | {statistics.median(times['tiktoken']) * 1e3:.1f} | 1.00 |"]
    for part in PARTS:
        if not times[part]:
            lines.append(f"| {part} | not installed | |")
            continue
        lines.append(f"| {part} | {statistics.median(times[part]) * 1e3:.1f} | "
                     f"{_median_ratio(times[part], times['tiktoken']):.2f} |")
    lines.append(f"| lookups (again - split) | {statistics.median(times['lookups']) * 1e3:.1f} | "
                 f"{_median_ratio(times['lookups'], times['tiktoken']):.2f} |")
    per_merge = statistics.median(times["new pieces: BPE"]) / max(merges, 1)
    lines.append(f"BPE: {per_merge * 1e6:.2f} us per merge, counting everything a new piece costs")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cl100k_base prose, 3 rounds")
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args(argv)
    import refimpl

    os.environ["TIKTOKEN_CACHE_DIR"] = refimpl.fill_tiktoken_cache(
        os.path.join(tempfile.gettempdir(), "refimpl-bench-tiktoken-cache"))
    cells = ([("cl100k_base", "prose")] if args.quick else
             [(name, kind) for name in ("cl100k_base", "o200k_base") for kind in ("prose", "code")])
    for name, kind in cells:
        print(breakdown(name, kind, 3 if args.quick else args.rounds))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
