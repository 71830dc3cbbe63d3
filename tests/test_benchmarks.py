"""A smoke pass of the benchmarks: the asv suite and the side-by-side scripts run and print.

They measure nothing here (CI machines are shared and noisy); they must simply work, so that
anyone can reproduce the figures in the README.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(args, tmp_path, timeout=600):
    env = dict(os.environ, HOME=str(tmp_path))  # asv keeps its machine file in $HOME
    return subprocess.run(args, cwd=BENCHMARKS, env=env, capture_output=True, text=True, timeout=timeout)


def test_asv_quick_smoke_pass(tmp_path):
    machine = _run([sys.executable, "-m", "asv", "machine", "--yes"], tmp_path)
    assert machine.returncode == 0, machine.stderr
    run = _run([sys.executable, "-m", "asv", "run", "--quick", "--python=same", "--show-stderr",
                "--dry-run"], tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "failed" not in output, output
    # every benchmark asv found reports a result ("ok" for parametrized ones, a time otherwise)
    total = int(re.search(r"Running (\d+) total benchmarks", output).group(1))
    results = re.findall(r"^\[ *[\d.]+%\] ··· \S+\s+(?:ok|[\d.]+±\S+)$", output, flags=re.M)
    assert total >= 15 and len(results) == total, output


def test_compare_scripts_quick(tmp_path):
    sampling = _run([sys.executable, "compare_sampling.py", "--quick"], tmp_path)
    assert sampling.returncode == 0, sampling.stderr
    assert "floor" in sampling.stdout
    tokenizer = _run([sys.executable, "compare_tokenizer.py", "--quick"], tmp_path)
    assert tokenizer.returncode == 0, tokenizer.stderr
    assert "| cl100k_base | prose" in tokenizer.stdout and "1 MB piece" in tokenizer.stdout
    parts = _run([sys.executable, "breakdown.py", "--quick"], tmp_path)
    assert parts.returncode == 0, parts.stderr
    assert "| new pieces: BPE |" in parts.stdout and "per merge" in parts.stdout
