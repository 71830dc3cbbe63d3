"""Print the side-by-side table of issue 5's sampling step: refimpl vs per-row numpy vs torch vs
the memory floor, for peaked and flat logits, as ratios measured in one run.

    python benchmarks/compare_sampling.py            # B = 64, V = 200,019 (the issue's step)
    python benchmarks/compare_sampling.py --quick    # B = 8, fewer repeats (CI smoke)

Each peer is warmed up once, then run `--repeat` times in rotation, the starting peer moving by
one each round, so that machine noise and the after-effects of one peer on the next hit all of
them alike; the table shows medians and ratios.
"The floor" is one read-and-write pass over the logits array, measured two ways: `x.copy()`
(allocates its result, as process_logits must) and `np.add(x, 0, out=y)` into a preallocated y.
torch (optional, never a refimpl dependency) is the same computation batched on the CPU with
torch's default thread count; if it is not installed its column says so. The workload and the
peers live in benchmarks/benchmarks/bench_sampling.py.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks"))

from bench_sampling import (  # noqa: E402
    B, V, make_step, per_row_numpy, refimpl_step, refimpl_two_calls, torch_step)

try:
    import torch
except ImportError:  # optional peer
    torch = None


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(profile: str, batch: int, repeat: int, per_row_repeat: int):
    logits, history, bias, seeds = make_step(profile, batch)
    y = np.empty_like(logits)
    runs = {
        "refimpl": lambda: refimpl_step(logits, history, bias, seeds),
        "refimpl, two calls": lambda: refimpl_two_calls(logits, history, bias, seeds),
        "floor (copy)": lambda: logits.copy(),
        "floor (add out=)": lambda: np.add(logits, 0, out=y),
    }
    if torch is not None:
        tx, th = torch.from_numpy(logits), torch.from_numpy(history)
        bi = torch.tensor(list(bias), dtype=torch.int64)
        bv = torch.tensor(list(bias.values()), dtype=torch.float32)
        runs["torch"] = lambda: torch_step(torch, tx, th, bi, bv, seeds)
    times = {name: [] for name in runs}
    for fn in runs.values():  # warm-up
        fn()
    order = list(runs.items())
    for i in range(repeat):
        # subtle: the start moves every round, so each peer follows each other peer equally
        # often (after torch's threads, memory allocation and timing are measurably slower)
        for name, fn in order[i % len(order):] + order[:i % len(order)]:
            times[name].append(_timed(fn))
    slow = lambda: per_row_numpy(logits, history, bias, seeds)  # noqa: E731
    slow()
    times["per-row numpy"] = [_timed(slow) for _ in range(per_row_repeat)]
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="B = 8 and 3 repeats (CI smoke)")
    ap.add_argument("--repeat", type=int, default=None, help="runs per peer (default 15)")
    args = ap.parse_args(argv)
    batch = 8 if args.quick else B
    repeat = args.repeat or (3 if args.quick else 15)
    print(f"One decoding step: B={batch}, V={V:,} float32, logit_bias on 10 ids, penalties over "
          f"256 tokens, T=0.8, top_p=0.9, seeded draw per row")
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}"
          f"{f' ({torch.get_num_threads()} threads)' if torch else ''}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; medians of "
          f"{repeat} rotated runs")
    print()
    header = ["profile", "refimpl ms", "/ floor(copy)", "/ floor(add)", "per-row / refimpl",
              "torch / refimpl", "two calls / refimpl"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for profile in ["peaked", "flat"]:
        t = measure(profile, batch, repeat, max(1, repeat // 5))
        ref = t["refimpl"]
        torch_col = f"{t['torch'] / ref:.2f}x" if "torch" in t else "not installed"
        row = [profile, f"{ref * 1e3:.1f}", f"{ref / t['floor (copy)']:.2f}x",
               f"{ref / t['floor (add out=)']:.2f}x", f"{t['per-row numpy'] / ref:.0f}x", torch_col,
               f"{t['refimpl, two calls'] / ref:.2f}x"]
        print("| " + " | ".join(row) + " |")
    print()
    print("refimpl is sample_step (the step in one call); two calls: process_logits, then "
          "sample on its result. refimpl / floor: lower is better (targets: peaked <= 6x, "
          "flat <= 30x); peer / refimpl: how many times slower the peer is (targets: per-row "
          ">= 100x on peaked, torch >= 1x).")


if __name__ == "__main__":
    main()
