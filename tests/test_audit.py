"""refimpl.audit: one record per line, every error with its message, processes == one process,
streaming, the text cache, the bundled sample log."""
from __future__ import annotations

import io
import itertools
import json
import re
import subprocess
import sys

import pytest

from refimpl import audit
from refimpl.audit import RECORD_KEYS, AuditSummary, audit_line, audit_log, audit_pair, iter_audit, iter_audit_files
from refimpl.audit_bench import measure, synthetic_log
from refimpl.audit_cache import TextCache, active_get_encoding
from refimpl.chat_count import count_prompt_tokens
from refimpl.sample_log import BROKEN, SAMPLE_LOG, build_sample_log

HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}  # 8 prompt tokens
OCT_1_2024 = 1727740800


def line(request=HI, response=None, **extra) -> str:
    response = {"created": OCT_1_2024, "usage": {"prompt_tokens": 8}} if response is None else response
    return json.dumps({"request": request, "response": response, **extra})


# --- the bundled sample log -------------------------------------------------------------

def test_sample_log_every_line_accounted_for_and_deliberate_mistakes_found():
    lines = SAMPLE_LOG.read_text(encoding="utf-8").splitlines()
    records = list(iter_audit(SAMPLE_LOG))
    assert [r["line"] for r in records] == list(range(1, len(lines) + 1))
    for text, rec in zip(lines, records):
        assert list(rec) == list(RECORD_KEYS)
        kind = re.search(r'"deliberate": "(\w+)"', text)
        if kind is None:
            assert rec["status"] == "match", rec  # a real request with the count the API reported
        elif kind.group(1) == "mismatch":
            assert rec["status"] == "mismatch" and rec["breakdown"]["snapshot"] == "gpt-4o-2024-08-06"
        else:
            assert (rec["status"], rec["error_type"]) == ("error", kind.group(1))
    assert sum(r["status"] == "match" for r in records) == len(lines) - len(BROKEN) >= 100


def test_sample_log_is_small_and_rebuilds_byte_for_byte():
    assert SAMPLE_LOG.stat().st_size < 200_000
    assert "\n".join(build_sample_log()) + "\n" == SAMPLE_LOG.read_text(encoding="utf-8")


def test_sample_log_check_command():
    result = subprocess.run([sys.executable, "-m", "refimpl.sample_log", "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "up to date" in result.stdout


# --- one line -----------------------------------------------------------------------------

def test_match_uses_the_response_created_day():
    rec = audit_line(line(), 4)
    assert (rec["line"], rec["status"], rec["as_of"], rec["predicted_prompt_tokens"], rec["difference"]) == \
        (4, "match", "2024-10-01", 8, 0)
    assert rec["breakdown"] is None and rec["error"] is None and rec["estimate"] is False


def test_dated_rules_follow_created_and_as_of_overrides():
    jargon = {"model": "gpt-3.5-turbo", "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]}
    old = 1680307200  # 2023-04-01: the alias served 0301 (4 tokens per message)
    assert count_prompt_tokens(jargon, as_of="2023-04-01") != count_prompt_tokens(jargon, as_of="2024-04-01")
    n_old = count_prompt_tokens(jargon, as_of="2023-04-01")
    rec = audit_line(line(jargon, {"created": old, "usage": {"prompt_tokens": n_old}}))
    assert rec["status"] == "match" and rec["as_of"] == "2023-04-01"
    rec = audit_line(line(jargon, {"created": old, "usage": {"prompt_tokens": n_old}}), as_of="2024-04-01")
    assert rec["status"] == "mismatch" and rec["as_of"] == "2024-04-01"


def test_mismatch_carries_the_breakdown():
    rec = audit_line(line(response={"usage": {"prompt_tokens": 11}}), 2)
    assert rec["status"] == "mismatch" and rec["difference"] == -3 and rec["as_of"] is None
    assert rec["breakdown"]["by_source"]["reply priming"] == 3 and rec["breakdown"]["encoding"] == "o200k_base"


def test_custom_id_is_kept():
    assert audit_line(line(custom_id="req-7"))["custom_id"] == "req-7"


@pytest.mark.parametrize("text, error_type, message", [
    ("{oops", "invalid_json",
     r"^line is not JSON \(Expecting property name enclosed in double quotes, column 2\): found '\{oops'; "
     r"allowed: one JSON object per line\. Fix: repair or remove the line$"),
    (b"caf\xe9", "not_utf8", r"^line is not UTF-8: invalid byte b'\\xe9' at byte 3; allowed: UTF-8 JSON\. "
                             r"Fix: re-encode the log as UTF-8$"),
    ("   ", "empty_line", r"^line is empty: found ''; allowed: one JSON object per line\. Fix: remove blank lines$"),
    ("[1, 2]", "invalid_record", r"^line is a JSON list, not an object: found '\[1, 2\]'; allowed: "
                                 r"\{\"request\": \.\.\., \"response\": \.\.\.\}\. Fix: write one object per line$"),
    ('{"response": {}}', "missing_field", r"^`request` is missing: found keys \['response'\]; allowed: an object with "
                                          r"`request` and `response`\. Fix: log both bodies on each line$"),
    ('{"request": {}}', "missing_field", r"^`response` is missing: found keys \['request'\]"),
    ('{"request": "gpt-4o", "response": {}}', "missing_field",
     r"^`request` must be a chat request object: found 'gpt-4o'; allowed: a JSON object with `model` and "
     r"`messages`\. Fix: log the request body you sent$"),
    ('{"request": {"model": "gpt-4o", "messages": []}, "response": null}', "missing_field",
     r"^`response` must be a chat completion object: found 'null'; allowed: a JSON object with `usage`\. "
     r"Fix: log the response body you received$"),
    (line(response={"choices": []}), "no_usage",
     r"^`response\.usage\.prompt_tokens` is missing or invalid: found 'no usage'; allowed: a non-negative integer\. "
     r"Fix: log complete \(non-streamed\) responses, or stream with stream_options=\{\"include_usage\": true\}$"),
    (line(response={"usage": {"prompt_tokens": -1}}), "no_usage", r"found '\{\"prompt_tokens\": -1\}'"),
    (line(response={"usage": {"prompt_tokens": True}}), "no_usage", r"found '\{\"prompt_tokens\": true\}'"),
    (line({"model": "gpt-9", "messages": HI["messages"]}), "unknown_model",
     r"^unknown chat model at request\.model: found 'gpt-9'; allowed: a model of a known family: "),
    (line({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}), "invalid_request",
     r"^unknown role at messages\[0\]\.role: found 'robot'"),
    (line({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}), "image_size",
     r"https://example\.com/a\.png"),
])
def test_every_error_type_has_its_message(text, error_type, message):
    rec = audit_line(text, 9)
    assert (rec["line"], rec["status"], rec["error_type"]) == (9, "error", error_type)
    assert re.search(message, rec["error"]), rec["error"]
    assert "\n" not in rec["error"] and list(rec) == list(RECORD_KEYS)


def test_long_values_are_cut_in_messages():
    rec = audit_line("x" * 500)
    assert rec["error_type"] == "invalid_json" and "xxx...'" in rec["error"] and len(rec["error"]) < 250


def test_a_refimpl_bug_becomes_an_internal_error_record(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kaput\nsecond line")
    monkeypatch.setattr(audit, "explain_prompt_tokens", boom)
    rec = audit_pair(HI, {"usage": {"prompt_tokens": 8}}, line=3)
    assert rec["error_type"] == "internal_error"
    assert rec["error"] == "refimpl failed on this line: RuntimeError: kaput second line; please report it with the line"


# --- many lines ----------------------------------------------------------------------------

def test_every_input_line_gives_one_record_in_order():
    lines = [line(), "", "{bad", line(response={"usage": {"prompt_tokens": 1}}), "[]", line()]
    records = list(iter_audit(lines))
    assert [(r["line"], r["status"]) for r in records] == [
        (1, "match"), (2, "error"), (3, "error"), (4, "mismatch"), (5, "error"), (6, "match")]


def test_line_endings_and_a_last_line_without_newline():
    data = (line() + "\r\n" + line() + "\n\n" + line()).encode()
    records = list(iter_audit(io.BytesIO(data)))
    assert [r["status"] for r in records] == ["match", "match", "error", "match"]
    assert records[2]["error_type"] == "empty_line"


def test_streaming_reads_only_what_it_needs():
    # an endless log: the first records come out, so nothing waits for (or holds) the whole input
    endless = (line() for _ in itertools.count())
    first = list(itertools.islice(iter_audit(endless), 450))
    assert len(first) == 450 and first[-1]["line"] == 450


def test_jobs_2_gives_the_same_report_as_one_process(tmp_path):
    log = tmp_path / "log.jsonl"
    text = SAMPLE_LOG.read_text(encoding="utf-8")
    log.write_text(text * 4, encoding="utf-8")  # 448 lines: 3 chunks, some in flight together
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    s1 = audit_log(log, one, jobs=1)
    s2 = audit_log(log, two, jobs=2)
    assert one.read_bytes() == two.read_bytes()
    assert s1 == s2 and s1.records == 448 == len(one.read_text().splitlines())


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "2", True])
def test_bad_jobs(jobs):
    with pytest.raises(ValueError, match=r"^`jobs` must be an integer >= 1, got .*; pass e\.g\. jobs=\d+$"):
        list(iter_audit([line()], jobs=jobs))


def test_several_files_carry_the_file_name(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(line() + "\n{bad\n")
    b.write_text(line() + "\n")
    recs = list(iter_audit_files([a, b]))
    assert [(r["file"], r["line"], r["status"]) for r in recs] == [
        (str(a), 1, "match"), (str(a), 2, "error"), (str(b), 1, "match")]
    assert list(recs[0])[:2] == ["file", "line"]


def test_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        list(iter_audit(tmp_path / "nope.jsonl"))


# --- the summary ---------------------------------------------------------------------------

def test_summary_counts_and_text():
    s = AuditSummary()
    for rec in iter_audit([line(), line(response={"usage": {"prompt_tokens": 10}}), "{x", ""]):
        s.add(rec)
    d = s.to_dict()
    assert d == {"records": 4, "matches": 1, "mismatches": 1, "errors": 2, "estimates": 0,
                 "predicted_prompt_tokens": 16, "reported_prompt_tokens": 18, "difference": -2,
                 "errors_by_type": {"empty_line": 1, "invalid_json": 1}}
    text = s.format()
    assert "matches              1 (25.0%)" in text and "difference -2" in text and not s.clean


def test_write_report_to_a_text_stream():
    out = io.StringIO()
    summary = audit_log([line()], out)
    assert summary.clean and json.loads(out.getvalue())["status"] == "match"


# --- the content-keyed cache ---------------------------------------------------------------

def test_cache_gives_the_same_records_and_hits_repeated_prompts():
    lines = synthetic_log(40, seed=3)
    audit._WORKER_CACHE = None
    cached = list(iter_audit(lines, cache=True))
    assert audit._WORKER_CACHE.hits > 100 and audit._WORKER_CACHE.misses > 0
    assert cached == list(iter_audit(lines, cache=False))
    assert all(r["status"] == "match" for r in cached)


def test_cache_is_bounded_and_scoped():
    cache = TextCache(2, min_chars=1)
    texts = ["alpha beta", "gamma delta", "epsilon zeta"]
    counts = [count_prompt_tokens({"model": "gpt-4o", "messages": [{"role": "user", "content": t}]},
                                  get_encoding=cache.get_encoding) for t in texts]
    assert len(cache) == 2 and counts == [count_prompt_tokens({"model": "gpt-4o", "messages": [
        {"role": "user", "content": t}]}) for t in texts]
    misses = cache.misses
    count_prompt_tokens({"model": "gpt-4o", "messages": [{"role": "user", "content": "alpha beta"}]})
    assert cache.misses == misses  # without get_encoding=, the cache is not used
    # the audit finds the active cache through a ContextVar, only inside `with`
    assert active_get_encoding() is None
    with cache:
        assert active_get_encoding() == cache.get_encoding
    assert active_get_encoding() is None


def test_cache_keeps_to_its_character_budget():
    cache = TextCache(max_total_chars=1000, min_chars=1)
    for i in range(50):
        count_prompt_tokens({"model": "gpt-4o", "messages": [{"role": "user", "content": f"text {i} " * 20}]},
                            get_encoding=cache.get_encoding)
    assert 0 < cache.total_chars <= 1000 and len(cache) < 50
    assert cache.total_chars == sum(len(t) for _, t in cache._data)


def test_cache_nests_and_rejects_bad_sizes():
    outer, inner = TextCache(), TextCache()
    with outer:
        with inner:
            pass
        with outer:
            pass
    with pytest.raises(ValueError, match=r"^`max_entries` must be an int >= 1, got 0; pass e\.g\. 4096$"):
        TextCache(0)


def test_cache_benchmark_runs_and_checks_equality():
    r = measure(lines=30, repeat=1)
    assert r["statuses"] == ["match"] and r["speedup"] > 0


def test_bad_as_of_is_refused_before_reading():
    with pytest.raises(ValueError, match=r"^`as_of` must be a date 'YYYY-MM-DD' or a datetime\.date, got 'soon'; "
                                         r"pass e\.g\. as_of='2024-10-01', or None for each response's `created` day$"):
        list(iter_audit([line()], as_of="soon"))


def test_jobs_2_streams_too():
    endless = (line() for _ in itertools.count())
    first = list(itertools.islice(iter_audit(endless, jobs=2), 250))
    assert [r["line"] for r in first] == list(range(1, 251))


def test_memory_stays_flat():
    import tracemalloc

    def peak(n):
        lines = (line({"model": "gpt-4o", "messages": [{"role": "user", "content": f"question {i} " * 8}]},
                      {"usage": {"prompt_tokens": 1}}) for i in range(n))
        tracemalloc.start()
        try:
            audit_log(lines, None, cache=False)  # the cache has its own bound (next test)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(200)  # warm the tokenizer's own caches
    small, large = peak(400), peak(4000)
    assert large < 2 * small, (small, large)  # ten times the lines, not ten times the memory


def test_progress_bar_only_on_a_terminal(tmp_path):
    import os
    import pty

    report = tmp_path / "r.jsonl"
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "refimpl", "audit", "--demo", "-o", str(report)],
                                stderr=follower, stdout=subprocess.PIPE, text=True, timeout=60)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert result.returncode == 3
    assert b"\r" in seen and b"records" not in seen.replace(b"\r" + b" " * 72 + b"\r", b"")[-10:]
    assert "records            112" in result.stdout  # the summary is not on the terminal stream
