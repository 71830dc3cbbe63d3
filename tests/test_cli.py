"""The command line, run as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refimpl.cli import main


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "refimpl", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_demo_runs_and_shows_tokens():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "cl100k_base" in result.stdout and "camel|Case" in result.stdout
    assert "\x1b[" not in result.stdout  # piped: no colour


def test_encode_count_decode(capsys):
    assert main(["encode", "hello world", "-e", "cl100k_base"]) == 0
    assert capsys.readouterr().out.strip() == "15339 1917"
    assert main(["count", "hello world", "-m", "gpt-4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"encoding": "cl100k_base", "tokens": 2}
    assert main(["decode", "15339,1917", "-e", "cl100k_base"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    assert main(["encode", "<|endoftext|>", "-e", "cl100k_base", "--allow-special"]) == 0
    assert capsys.readouterr().out.strip() == "100257"


def test_stdin_and_file(tmp_path):
    assert run("count", "-e", "gpt2", stdin="hello world").stdout.strip() == "2"
    path = tmp_path / "t.txt"
    path.write_text("hello world", encoding="utf-8")
    assert run("encode", "-f", str(path), "-e", "gpt2").stdout.strip() == "31373 995"


@pytest.mark.parametrize("args, message", [
    (["count", "x", "-e", "cl200k"], "refimpl count: error: unknown encoding 'cl200k'; choose one of gpt2"),
    (["count", "x", "-m", "llama"], "refimpl count: error: Could not automatically map 'llama'"),
    (["decode", "1", "x"], "refimpl decode: error: tokens must be integers separated by spaces or commas, got '1 x'"),
    (["decode", "-e", "gpt2", "99999"], "refimpl decode: error: Invalid token for decoding: 99999; gpt2 has ids 0..50256"),
    (["count", "-f", "/nonexistent/file"], "refimpl count: error: cannot read '/nonexistent/file': No such file"),
    (["count", "x", "-f", "y"], "refimpl count: error: give the text or --file, not both"),
])
def test_user_errors_are_one_line_without_traceback(args, message):
    result = run(*args)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_not_utf8_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9")
    result = run("count", "-f", str(path))
    assert result.returncode == 1 and "is not UTF-8 text (byte 3); convert it first" in result.stderr


def test_no_command_prints_help():
    result = run()
    assert result.returncode == 2 and "demo" in result.stdout
    assert run("--version").stdout.startswith("refimpl ")
