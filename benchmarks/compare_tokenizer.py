"""Side-by-side tokenizer speed: refimpl vs tiktoken (Rust) vs puretiktoken (pure Python).

Every figure is a ratio between libraries measured in the same run on the same bytes
(``benchmarks/corpus``, see make_corpus.py). Single thread. Three measurements per corpus:

* cold: a fresh process loads the encoding (not timed) and encodes the first half once;
* warm: the same process then encodes the second half: new text of the same kind, so a cache
  of whole inputs earns nothing (refimpl's piece cache does earn, as tiktoken's notes say the
  reference tokenizer's did);
* load: a fresh process's ``get_encoding(name)``, import excluded;
* again (refimpl only, printed below the table): the warm half a second time, every piece
  cached: the most that faster BPE alone could give the warm measure.

Each run of ``--repeats`` rounds starts, in every round, one fresh process per library, one
after another; each cell is the median over the rounds of the ratio within a round, so a slow
spell of the shared machine hits both sides of a ratio alike. Usage::

    python benchmarks/compare_tokenizer.py            # full table (a few minutes)
    python benchmarks/compare_tokenizer.py --quick    # one encoding, one repeat (CI smoke)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARIES = ("refimpl", "tiktoken", "puretiktoken")
KINDS = ("prose", "code", "multilingual")

_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {here!r})
from make_corpus import halves
lib, name, kind = sys.argv[1:4]
cold, warm = halves(kind) if kind != "-" else ("", "")
t0 = time.perf_counter()
mod = __import__(lib)
t1 = time.perf_counter()
enc = mod.get_encoding(name)
t2 = time.perf_counter()
enc.encode_ordinary(cold)
t3 = time.perf_counter()
enc.encode_ordinary(warm)
t4 = time.perf_counter()
enc.encode_ordinary(warm)
t5 = time.perf_counter()
print(json.dumps({{"load": t2 - t1, "cold": t3 - t2, "warm": t4 - t3, "again": t5 - t4,
                   "cold_bytes": len(cold.encode()), "warm_bytes": len(warm.encode())}}))
"""


def _child(lib: str, name: str, kind: str, env: dict) -> dict:
    code = _CHILD.format(here=HERE)
    out = subprocess.run([sys.executable, "-c", code, lib, name, kind], capture_output=True,
                         text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{lib} {name} {kind} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def _available(lib: str) -> bool:
    try:
        __import__(lib)
    except ImportError:
        return False
    return True


def measure(names, kinds, repeats: int) -> dict:
    import refimpl

    env = dict(os.environ, TIKTOKEN_CACHE_DIR=refimpl.fill_tiktoken_cache(
        os.path.join(tempfile.gettempdir(), "refimpl-bench-tiktoken-cache")))
    libs = [lib for lib in LIBRARIES if _available(lib)]
    results: dict = {}
    for name in names:
        for kind in kinds:
            for _ in range(repeats):
                for lib in libs:  # interleaved, so load on the machine hits all alike
                    r = _child(lib, name, kind, env)
                    results.setdefault((name, kind, lib), []).append(r)
    return results


_BATCH_CHILD = r"""
import os, sys, sysconfig, time
sys.path.insert(0, {here!r})
from make_corpus import halves
import refimpl
processes, batch = int(sys.argv[1]), sys.argv[2]
if batch == "corpus":  # ~9,400 paragraphs of the three kinds, in corpus order
    texts = [p for kind in ("prose", "code", "multilingual") for half in halves(kind) for p in half.split("\n\n")]
else:  # the standard library's .py files, in sorted order, up to 20 MB: a genuinely large batch
    root, texts, size = sysconfig.get_paths()["stdlib"], [], 0
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(root) if "site-packages" not in d
                   for f in files if f.endswith(".py"))
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
        size += len(texts[-1].encode("utf-8"))
        if size >= 20_000_000:
            break
enc = refimpl.get_encoding("cl100k_base")
t = time.perf_counter()
enc.encode_ordinary_batch(texts, processes=processes)
print(time.perf_counter() - t, len(texts), sum(len(s.encode("utf-8")) for s in texts))
"""

# One 1 MB piece of each kind: random letters (refimpl cuts it where no token holds the byte
# pair), one letter repeated (no cut: rounds of equal merges, then the heap), random common
# letters (eight letters every pair of which some token holds: no cut and few repeats, so
# rounds of safe merges, then the heap), and Han
# characters with no punctuation (cut into short segments, most of them repeated): drawn with
# the corpus's own frequencies, and uniformly from U+4E00-U+9FFF (mostly rare: no token of
# their own in cl100k_base).
PIECES = ("random letters", "one letter repeated", "random common letters", "common Han characters",
          "rare Han characters")

_PIECE_CHILD = r"""
import sys, time, random
sys.path.insert(0, {here!r})
lib, kind = sys.argv[1], sys.argv[2]
rng = random.Random(5)
if kind == "random letters":
    piece = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(1_000_000))
elif kind == "one letter repeated":
    piece = "a" * 1_000_000
elif kind == "random common letters":
    piece = "".join(rng.choice("etaoinsh") for _ in range(1_000_000))
elif kind == "common Han characters":
    import regex
    from make_corpus import load_corpus
    han = "".join(regex.findall(r"\p{{Han}}+", load_corpus("multilingual")))
    piece = "".join(rng.choice(han) for _ in range(333_333))
else:
    piece = "".join(chr(rng.randrange(0x4E00, 0xA000)) for _ in range(333_333))
mod = __import__(lib)
enc = mod.get_encoding("cl100k_base")
t = time.perf_counter()
enc.encode_ordinary(piece)
print(time.perf_counter() - t)
"""


def _timed_child(code: str, *args: str, env=None) -> float:
    return float(_child_output(code, *args, env=env)[0])


def _child_output(code: str, *args: str, env=None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return out.stdout.split()


def batch_scaling(batch: str, repeats: int) -> str:
    """One line: all cores vs one process on ``batch`` ("corpus" or "stdlib"), each a fresh
    process (cold piece cache), the two interleaved so load on the machine hits both alike."""
    cores = os.cpu_count() or 1
    times: dict[int, list[float]] = {1: [], cores: []}
    for _ in range(repeats):
        for processes in times:
            seconds, count, size = _child_output(_BATCH_CHILD.format(here=HERE), str(processes), batch)
            times[processes].append(float(seconds))
    speedup = _median_ratio(times[1], times[cores])
    what = ("whole corpus" if batch == "corpus" else "standard-library .py files")
    return (f"encode_ordinary_batch, {what} ({int(size) / 1e6:.1f} MB in {int(count):,} texts), cold: "
            f"{cores} processes are {speedup:.2f}x one process")


def extras(repeats: int) -> list[str]:
    """Batch encoding on all cores vs one, and a 1 MB single piece vs tiktoken."""
    import refimpl

    env = dict(os.environ, TIKTOKEN_CACHE_DIR=refimpl.fill_tiktoken_cache(
        os.path.join(tempfile.gettempdir(), "refimpl-bench-tiktoken-cache")))
    lines = [batch_scaling("corpus", repeats), batch_scaling("stdlib", repeats)]
    if _available("tiktoken"):
        for kind in PIECES:
            code = _PIECE_CHILD.format(here=HERE)
            times: dict[str, list[float]] = {"refimpl": [], "tiktoken": []}
            for _ in range(repeats):  # interleaved, so load on the machine hits both alike
                for lib in times:
                    times[lib].append(_timed_child(code, lib, kind, env=env))
            slower = _median_ratio(times["refimpl"], times["tiktoken"])
            lines.append(f"one 1 MB piece ({kind}), cl100k_base: refimpl takes {slower:.1f}x "
                         "tiktoken's time")
    return lines


def _median(rows, key):
    return statistics.median(r[key] for r in rows)


def _median_ratio(tops: list[float], bottoms: list[float]) -> float:
    """The statistic of every figure here: the median over the rounds of the ratio within a
    round (``tops[i] / bottoms[i]``, both measured in round i)."""
    return statistics.median(a / b for a, b in zip(tops, bottoms, strict=True))


def _paired(theirs, ours, key, our_key=None) -> float:
    """Their time over our time for ``key`` (ours for ``our_key`` if given), paired by round."""
    return _median_ratio([t[key] for t in theirs], [o[our_key or key] for o in ours])


def table(results: dict, names, kinds) -> str:
    lines = ["| encoding | corpus | measure | refimpl / tiktoken | refimpl / puretiktoken |",
             "|---|---|---|---|---|"]
    for name in names:
        for kind in kinds:
            ours = results[(name, kind, "refimpl")]
            for measure in ("cold", "warm"):
                cells = []
                for peer in ("tiktoken", "puretiktoken"):
                    theirs = results.get((name, kind, peer))
                    if not theirs:
                        cells.append("not installed")
                        continue
                    # throughput ratio = their time / our time (above 1: refimpl is faster)
                    cells.append(f"{_paired(theirs, ours, measure):.2f}x")
                lines.append(f"| {name} | {kind} ({_median(ours, measure + '_bytes') / 1e3:.0f} KB) "
                             f"| {measure} | {cells[0]} | {cells[1]} |")
        load_cells = []
        for peer in ("tiktoken", "puretiktoken"):
            theirs = results.get((name, kinds[0], peer))
            ours = results[(name, kinds[0], "refimpl")]
            load_cells.append(f"{_paired(theirs, ours, 'load'):.2f}x" if theirs else "not installed")
        lines.append(f"| {name} | - | load (get_encoding, fresh process) | {load_cells[0]} | {load_cells[1]} |")
    return "\n".join(lines)


def ceiling(results: dict, names, kinds) -> str:
    """How close the warm target can get with this design: refimpl encoding the warm half a
    second time, so that every piece is cached and no BPE runs (splitting and lookups only),
    against tiktoken's warm pass. Not a target measure: the same text twice."""
    cells = []
    for name in names:
        for kind in kinds:
            theirs = results.get((name, kind, "tiktoken"))
            if theirs:
                ours = results[(name, kind, "refimpl")]
                cells.append(f"{name} {kind} {_paired(theirs, ours, 'warm', 'again'):.2f}x")
    return ("Upper bound of warm with every piece cached (refimpl's second pass over the warm half "
            "vs tiktoken's warm): " + ", ".join(cells)) if cells else ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cl100k_base only, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    names = ["cl100k_base"] if args.quick else ["cl100k_base", "o200k_base"]
    repeats = 1 if args.quick else args.repeats
    results = measure(names, KINDS, repeats)
    print("Throughput ratios (above 1.00x: refimpl is faster), median over", repeats,
          "rounds of one fresh process per library")
    print(table(results, names, KINDS))
    print()
    print(ceiling(results, names, KINDS))
    print()
    for line in extras(repeats):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
