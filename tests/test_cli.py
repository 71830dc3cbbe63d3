"""The command line, run as a user runs it (a subprocess where stdin, pipes or exit matter)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from refimpl.chat_count import explain_prompt_tokens
from refimpl.cli import build_parser, main
from refimpl.prompt_view import token_texts, view_prompt
from refimpl.sample_log import SAMPLE_LOG

HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
JARGON = [{"role": "system", "content": "You are a helpful, pattern-following assistant."},
          {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
          {"role": "user", "content": "This late pivot means we don't have time to boil the ocean."}]


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "refimpl", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def one_line_error(result, code, message):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.fixture
def request_file(tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"model": "gpt-3.5-turbo", "messages": JARGON}), encoding="utf-8")
    return path


# --- demo ------------------------------------------------------------------------------------

def test_demo_is_the_guided_tour():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cl100k_base" in out and "camel|Case" in out
    assert "\x1b[" not in out  # piped: no colour
    assert "gpt-3.5-turbo-0301   2023-03-02  gpt-3.5-turbo-0301         cl100k_base        126  126 (cookbook)" in out
    assert "gpt-4o               today       gpt-4o-2024-08-06          o200k_base         124  124 (cookbook)" in out
    assert "seed 7 again: identical = True; seed 8: different = True" in out
    assert "records            112" in out and "line 106: mismatch, predicted 46 vs billed 45" in out


# --- encode / decode / count -----------------------------------------------------------------

def test_encode_count_decode(capsys):
    assert main(["encode", "hello world", "-e", "cl100k_base"]) == 0
    assert capsys.readouterr().out.strip() == "15339 1917"
    assert main(["count", "hello world", "-m", "gpt-4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"encoding": "cl100k_base", "tokens": 2}
    assert main(["decode", "15339,1917", "-e", "cl100k_base"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    assert main(["encode", "<|endoftext|>", "-e", "cl100k_base", "--allow-special"]) == 0
    assert capsys.readouterr().out.strip() == "100257"
    assert main(["decode", "[15339, 1917]", "-e", "cl100k_base", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"encoding": "cl100k_base", "text": "hello world"}


def test_stdin_and_file(tmp_path):
    assert run("count", "-e", "gpt2", stdin="hello world").stdout.strip() == "2"
    path = tmp_path / "t.txt"
    path.write_text("hello world", encoding="utf-8")
    assert run("encode", "-f", str(path), "-e", "gpt2").stdout.strip() == "31373 995"


def test_count_a_request_file_dated_and_explained(capsys, request_file):
    assert main(["count", "--request", str(request_file)]) == 0
    today = int(capsys.readouterr().out)
    assert main(["count", "--request", str(request_file), "--as-of", "2023-04-01"]) == 0
    assert int(capsys.readouterr().out) == today + 1  # 0301: 4 per message, -1 for the name
    assert main(["count", "-r", str(request_file), "-m", "gpt-4o", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["snapshot"] == "gpt-4o-2024-08-06" and doc["prompt_tokens"] == sum(doc["by_source"].values())
    assert main(["count", "-r", str(request_file), "--explain"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{today} prompt tokens: gpt-3.5-turbo -> gpt-3.5-turbo-0125 (cl100k_base)")
    assert "      3  reply priming" in text


def test_count_a_request_on_stdin_and_log_or_batch_lines():
    result = run("count", "--request", "-", stdin=json.dumps(HI))
    assert result.returncode == 0 and result.stdout == "8\n"
    log_line = json.dumps({"request": HI, "response": {}})
    assert run("count", "-r", "-", stdin=log_line).stdout == "8\n"
    batch_line = json.dumps({"custom_id": "a", "body": HI})
    assert run("count", "-r", "-", stdin=batch_line).stdout == "8\n"


@pytest.mark.parametrize("args, code, message", [
    (["count", "x", "-e", "cl200k"], 1, "refimpl count: error: unknown encoding 'cl200k'; choose one of gpt2"),
    (["count", "x", "-m", "llama"], 1, "refimpl count: error: Could not automatically map 'llama'"),
    (["decode", "1", "x"], 1, "refimpl decode: error: tokens must be integers separated by spaces or commas, got '1 x'"),
    (["decode", "-e", "gpt2", "99999"], 1, "refimpl decode: error: Invalid token for decoding: 99999; gpt2 has ids 0..50256"),
    (["count", "-f", "/nonexistent/file"], 1, "refimpl count: error: cannot read '/nonexistent/file': No such file"),
    (["count", "x", "-f", "y"], 1, "refimpl count: error: give the text or --file, not both"),
    (["count", "-r", "/nonexistent.json"], 1, "refimpl count: error: cannot read '/nonexistent.json': No such file"),
    (["count", "x", "-r", "-"], 2, "refimpl count: error: give a text or --request, not both (see refimpl count --help)"),
    (["count", "x", "--as-of", "2023-01-01"], 2,
     "refimpl count: error: --as-of and --explain apply to a request; add --request FILE ('-' for stdin)"),
    (["count", "-r", "-", "-e", "gpt2"], 2,
     "refimpl count: error: --encoding does not apply to a request: its model picks the encoding (use -m MODEL)"),
    (["count", "--bogus"], 2, "refimpl: error: unrecognized arguments: --bogus (see refimpl --help)"),
    (["frobnicate"], 2, "refimpl: error: argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_user_errors_are_one_line_without_traceback(args, code, message):
    one_line_error(run(*args, stdin=""), code, message)


@pytest.mark.parametrize("stdin, message", [
    ("{", "refimpl count: error: the request in standard input is not JSON (Expecting property name enclosed in "
          "double quotes, line 1 column 2); give a Chat Completions request body such as {\"model\": \"gpt-4o\""),
    ("[1]", "refimpl count: error: the request in standard input is a JSON list, not an object; give a Chat "
            "Completions request body"),
    (json.dumps({"model": "gpt-9", "messages": HI["messages"]}),
     "refimpl count: error: unknown chat model at request.model: found 'gpt-9'; allowed: a model of a known family"),
    (json.dumps({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}),
     "refimpl count: error: unknown role at messages[0].role: found 'robot'"),
    (json.dumps(HI), "refimpl count: error: `as_of` is not a date at as_of: found 'soon'"),
])
def test_bad_requests_are_one_line(stdin, message):
    args = ["count", "-r", "-"] + (["--as-of", "soon"] if "as_of" in message else [])
    one_line_error(run(*args, stdin=stdin), 1, message)


def test_not_utf8_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9")
    one_line_error(run("count", "-f", str(path)), 1,
                   f"refimpl count: error: '{path}' is not UTF-8 text (byte 3); convert it first")


def test_no_command_prints_help_and_every_command_has_help():
    result = run()
    assert result.returncode == 2 and "demo" in result.stdout and "Exit status" in result.stdout
    assert run("--version").stdout.startswith("refimpl ")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"demo", "encode", "count", "decode", "render", "models", "audit"}
    for name, sub in commands.items():
        assert sub.format_help().startswith(f"usage: refimpl {name}")
    assert run("audit", "--help").returncode == 0


# --- render ----------------------------------------------------------------------------------

def test_render_piped_is_the_plain_prompt(request_file):
    result = run("render", str(request_file))
    b = explain_prompt_tokens({"model": "gpt-3.5-turbo", "messages": JARGON})
    assert result.returncode == 0 and result.stdout == b.rendered + "\n" and "\x1b[" not in result.stdout
    result = run("render", "--separator", "|", stdin=json.dumps(HI))
    assert result.stdout == "<|im_start|>|user|<|im_sep|>|Hi|<|im_end|>|<|im_start|>|assistant|<|im_sep|>\n"


def test_render_colour_summary_and_json(capsys, request_file):
    assert main(["render", str(request_file), "--colour", "always", "-m", "gpt-4.1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[30;48;5;" in out and "\x1b[1;7m<|im_start|>\x1b[0m" in out
    assert "prompt tokens (estimate): gpt-4.1 -> gpt-4.1, o200k_base" in out and "note: message framing" in out
    assert main(["render", str(request_file), "--json", "--as-of", "2023-04-01"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["snapshot"] == "gpt-3.5-turbo-0301" and doc["prompt_tokens"] == sum(p["tokens"] for p in doc["pieces"])


def test_view_prompt_shows_every_token_and_whole_characters():
    req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "naïve 日本語 🙂"}]}
    b = explain_prompt_tokens(req)
    units = token_texts(b)
    assert "".join(t for t, _ in units) == b.rendered  # nothing lost, no replacement characters
    assert "\ufffd" not in "".join(t for t, _ in units)
    tools = {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."}, HI["messages"][0]],
             "tools": [{"type": "function", "function": {"name": "f", "description": "Does f."}}]}
    coloured = view_prompt(tools, colour=True)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert "namespace functions {\\n" in plain and "} // namespace functions" in plain
    assert "\x1b[2m<-1: tools block" in coloured  # measured tokens without public text, dimmed
    assert view_prompt(tools) == explain_prompt_tokens(tools).rendered


# --- models ----------------------------------------------------------------------------------

def test_models_table_one_model_and_json(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4o-mini" in out and "Aliases" in out and "gpt-3.5-turbo          2023-03-01 gpt-3.5-turbo-0301" in out
    assert main(["models", "gpt-3.5-turbo", "--as-of", "2023-04-01", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["snapshot"], row["tokens_per_message"], row["tokens_per_name"]) == ("gpt-3.5-turbo-0301", 4, -1)
    assert main(["models", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["encodings"]["models"]["gpt-4o"] == "o200k_base" and any(r["model"] == "gpt-oss" for r in doc["chat_rules"])


def test_models_unknown_model():
    one_line_error(run("models", "gpt-9"), 1, "refimpl models: error: unknown chat model at request.model: found 'gpt-9'")


# --- audit -----------------------------------------------------------------------------------

def test_audit_demo_writes_every_record_and_exits_3(tmp_path):
    report = tmp_path / "report.jsonl"
    result = run("audit", "--demo", "-o", str(report), "--json")
    assert result.returncode == 3, result.stderr  # complete report, with findings
    summary = json.loads(result.stdout)
    assert summary["records"] == 112 == len(report.read_text().splitlines())
    assert (summary["matches"], summary["mismatches"], summary["errors"]) == (106, 1, 5)
    assert summary["report"] == str(report)
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_audit_clean_log_exits_0_and_report_to_stdout(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"request": HI, "response": {"usage": {"prompt_tokens": 8}}}) + "\n")
    result = run("audit", str(log))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "match"
    assert "records              1" in result.stderr and "report: stdout" in result.stderr  # summary moved aside
    result = run("audit", "-", "--json", "-o", str(tmp_path / "r.jsonl"), stdin=log.read_text())
    assert result.returncode == 0 and json.loads(result.stdout)["matches"] == 1


def test_audit_jobs_and_batch_from_the_command_line(tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["audit", "--demo", "-o", str(one), "--no-progress"]) == 3
    assert main(["audit", str(SAMPLE_LOG), "-o", str(two), "--jobs", "2", "--no-cache"]) == 3
    assert one.read_bytes() == two.read_bytes()
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"custom_id": "a", "url": "/v1/chat/completions", "body": HI}) + "\n")
    out.write_text(json.dumps({"custom_id": "a", "response": {"status_code": 200, "body": {
        "usage": {"prompt_tokens": 8}}}}) + "\n")
    assert main(["audit", "--batch-input", str(inp), "--batch-output", str(out), "-o", str(tmp_path / "r.jsonl")]) == 0


@pytest.mark.parametrize("args, code, message", [
    (["audit"], 2, "refimpl audit: error: give LOG files, --batch-input IN --batch-output OUT, or --demo "
                   "(see refimpl audit --help)"),
    (["audit", "x.jsonl", "--demo"], 2, "refimpl audit: error: give one of: LOG files, --batch-input/--batch-output, --demo"),
    (["audit", "--batch-input", "in.jsonl"], 2,
     "refimpl audit: error: --batch-input and --batch-output go together; give both files of the batch"),
    (["audit", "--batch-input", "a", "--batch-output", "b", "--dask", "local"], 2,
     "refimpl audit: error: --dask audits LOG files (readable by the workers); run batches and stdin without --dask"),
    (["audit", "/nonexistent.jsonl"], 1, "refimpl audit: error: cannot read '/nonexistent.jsonl': no such file"),
    (["audit", "/tmp"], 1, "refimpl audit: error: cannot read '/tmp': it is a directory"),
    (["audit", "--demo", "--jobs", "0"], 2,
     "refimpl audit: error: argument -j/--jobs: --jobs must be an integer >= 1, got '0'; e.g. --jobs "),
    (["audit", "--demo", "--as-of", "soon"], 2, "refimpl audit: error: --as-of must be a date YYYY-MM-DD, got 'soon'"),
    (["audit", "-", "-"], 2, "refimpl audit: error: stdin ('-') can be given once"),
    (["audit", str(SAMPLE_LOG), "-o", str(SAMPLE_LOG)], 2,
     f"refimpl audit: error: the report '{SAMPLE_LOG}' would overwrite an input; choose another -o"),
    (["audit", "--demo", "-o", "/nonexistent/dir/r.jsonl"], 1,
     "refimpl audit: error: cannot open '/nonexistent/dir/r.jsonl': No such file or directory"),
])
def test_audit_usage_errors(args, code, message):
    one_line_error(run(*args, stdin=""), code, message)
