"""Rank files: bundled and verified, read and written, and clear errors when they are wrong."""
from __future__ import annotations

import gzip
import hashlib

import pytest

import refimpl
from refimpl import load
from refimpl.errors import RankFileError


@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
def test_bundled_files_have_the_official_hashes(name):
    data = load.bundled_rank_file_bytes(name)
    assert hashlib.sha256(data).hexdigest() == load.EXPECTED_HASHES[name]


def test_p50k_is_r50k_plus_runs_of_spaces():
    r50k, p50k = load.load_bundled_ranks("r50k_base"), load.load_bundled_ranks("p50k_base")
    assert p50k == r50k | {b" " * n: 50257 + n - 2 for n in range(2, 26)}


def test_altered_bundled_file_is_refused(monkeypatch):
    real = load._bundled_bytes
    monkeypatch.setattr(load, "_bundled_bytes", lambda f: real(f).replace(b"IQ== 0", b"IQ== 9", 1))
    with pytest.raises(RankFileError, match=r"r50k_base.tiktoken.gz does not match the official r50k_base "
                                            r"\(expected sha256 306cd27f.*installation is corrupt: reinstall"):
        load.bundled_rank_file_bytes("r50k_base")
    # p50k_base is built on r50k_base, which is checked first
    with pytest.raises(RankFileError, match=r"r50k_base.tiktoken.gz does not match the official r50k_base"):
        load.bundled_rank_file_bytes("p50k_base")


def test_missing_bundled_file_names_it_and_the_fix(monkeypatch):
    monkeypatch.setitem(load.BUNDLED_FILES, "cl100k_base", "nope.tiktoken.gz")
    with pytest.raises(RankFileError, match=r"refimpl/_data/nope.tiktoken.gz is missing; reinstall refimpl"):
        load.bundled_rank_file_bytes("cl100k_base")


def test_unknown_bundled_name():
    with pytest.raises(RankFileError, match=r"no bundled rank file named 'x'; bundled: r50k_base, p50k_base"):
        load.bundled_rank_file_bytes("x")


def test_dump_then_load_round_trips(tmp_path):
    ranks = load.load_bundled_ranks("r50k_base")
    for name in ("r.tiktoken", "r.tiktoken.gz"):
        path = tmp_path / name
        refimpl.dump_tiktoken_bpe(ranks, path)
        assert refimpl.load_tiktoken_bpe(path, expected_hash=load.EXPECTED_HASHES["r50k_base"]) == ranks
    assert gzip.decompress((tmp_path / "r.tiktoken.gz").read_bytes()) == (tmp_path / "r.tiktoken").read_bytes()


def test_wrong_hash_names_file_and_both_hashes(tmp_path):
    path = tmp_path / "x.tiktoken"
    path.write_bytes(b"YQ== 0\n")
    with pytest.raises(RankFileError, match=r"x.tiktoken' has sha256 [0-9a-f]{64}, expected abc: the file is altered"):
        refimpl.load_tiktoken_bpe(path, expected_hash="abc")


def test_malformed_line_is_named(tmp_path):
    path = tmp_path / "bad.tiktoken"
    path.write_bytes(b"YQ== 0\nnot base64! 1\n")
    with pytest.raises(RankFileError, match=r"line 2 of .*bad.tiktoken is b'not base64! 1'; expected"):
        refimpl.load_tiktoken_bpe(path)


def test_missing_file_and_urls(tmp_path):
    with pytest.raises(RankFileError, match=r"cannot read rank file .*nothing.tiktoken.*No such file"):
        refimpl.load_tiktoken_bpe(tmp_path / "nothing.tiktoken")
    with pytest.raises(RankFileError, match=r"refimpl never downloads: cannot read 'https://x/y.tiktoken'"):
        refimpl.load_tiktoken_bpe("https://x/y.tiktoken")


def test_tiktoken_reads_what_refimpl_writes(tiktoken, tmp_path):
    ranks = {bytes([i]): i for i in range(256)} | {b"ab": 256}
    path = tmp_path / "tiny.tiktoken"
    refimpl.dump_tiktoken_bpe(ranks, path)
    from tiktoken.load import load_tiktoken_bpe

    assert load_tiktoken_bpe(str(path)) == ranks
