"""refimpl.audit_dask on a real local distributed cluster (2 worker processes): the same records
as the single-process audit. Dask stays optional: refimpl imports and explains itself without it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refimpl.audit import iter_audit, iter_audit_files
from refimpl.audit_dask import audit_bag, audit_with_dask, file_blocks
from refimpl.sample_log import SAMPLE_LOG


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, memory_limit="1GiB")
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture
def logs(tmp_path):
    text = SAMPLE_LOG.read_text(encoding="utf-8")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(text, encoding="utf-8")
    b.write_text("".join(text.splitlines(keepends=True)[:30]) + "{truncated", encoding="utf-8")
    return a, b


def test_dask_gives_the_single_process_records(client, logs, tmp_path):
    report = tmp_path / "report.jsonl"
    # small blocks: many partitions, several in flight at once, reassembled in order
    summary = audit_with_dask([str(p) for p in logs], report, scheduler=client, block_bytes=8_000, window=3)
    got = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert got == list(iter_audit_files([str(p) for p in logs]))
    assert summary.records == len(got) == 112 + 31
    assert got[-1]["line"] == 31 and got[-1]["error_type"] == "invalid_json"


def test_dask_bag_for_one_file(client, logs):
    bag = audit_bag(str(logs[0]), block_bytes=20_000)
    assert bag.npartitions > 1
    assert bag.compute() == list(iter_audit(logs[0]))


def test_blocks_cover_the_file(logs):
    data = logs[0].read_bytes()
    blocks = file_blocks(str(logs[0]), block_bytes=5_000)
    assert sum(b[2] for b in blocks) == len(data)
    for path, offset, length, first in blocks:
        assert data[:offset].count(b"\n") + 1 == first and data[offset + length - 1:offset + length] == b"\n"
    with pytest.raises(ValueError, match=r"^`block_bytes` must be an integer >= 1, got 0; pass e\.g\. 8388608$"):
        file_blocks(str(logs[0]), 0)


def test_bad_scheduler_and_paths():
    with pytest.raises(TypeError, match=r"^`scheduler` must be None, 'local', an address like 'tcp://host:8786' "
                                        r"or a distributed\.Client, got int; pass one of those$"):
        audit_with_dask([str(SAMPLE_LOG)], scheduler=3)
    with pytest.raises(ValueError, match=r"^`paths` is empty; pass at least one JSONL log path$"):
        audit_bag([])


def test_refimpl_works_without_dask(tmp_path):
    code = ("import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
            "import refimpl, refimpl.audit, refimpl.audit_dask, refimpl.cli\n"
            "sys.exit(refimpl.cli.main(['audit', '--demo', '-o', sys.argv[1], '--dask', 'local']))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.jsonl")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("refimpl audit: error: --dask needs Dask (")
    assert result.stderr.rstrip().endswith("install it with: pip install 'refimpl[dask]'")
    assert result.stderr.count("\n") == 1


def test_command_line_on_a_running_cluster(client, logs, tmp_path):
    from refimpl.cli import main

    on_dask, local = tmp_path / "dask.jsonl", tmp_path / "local.jsonl"
    paths = [str(p) for p in logs]
    assert main(["audit", *paths, "-o", str(on_dask), "--dask", client.scheduler.address]) == 3
    assert main(["audit", *paths, "-o", str(local)]) == 3
    assert on_dask.read_bytes() == local.read_bytes()
