"""refimpl.audit_batch: Batch API input/output pairs matched by custom_id, every line of both
files accounted for, every error message checked."""
from __future__ import annotations

import json
import re

import pytest

from refimpl.audit import RECORD_KEYS
from refimpl.audit_batch import audit_batch, iter_audit_batch

HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}  # 8 prompt tokens


def inp(cid, body=HI, url="/v1/chat/completions") -> str:
    return json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": body})


def out(cid, prompt_tokens=8, status=200, error=None) -> str:
    body = {"object": "chat.completion", "created": 1727740800, "usage": {"prompt_tokens": prompt_tokens}}
    return json.dumps({"id": f"batch_req_{cid}", "custom_id": cid, "error": error,
                       "response": {"status_code": status, "request_id": "r", "body": body}})


def run(tmp_path, inputs, outputs, **kw):
    a, b = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    a.write_text("\n".join(inputs) + "\n", encoding="utf-8")
    b.write_text("\n".join(outputs) + "\n", encoding="utf-8")
    return list(iter_audit_batch(a, b, **kw))


def test_pairs_match_by_custom_id_whatever_the_output_order(tmp_path):
    recs = run(tmp_path, [inp("a"), inp("b"), inp("c")], [out("c"), out("a", 9), out("b")])
    assert [(r["line"], r["output_line"], r["custom_id"], r["status"]) for r in recs] == [
        (1, 2, "a", "mismatch"), (2, 3, "b", "match"), (3, 1, "c", "match")]
    assert list(recs[0]) == ["line", "output_line"] + [k for k in RECORD_KEYS if k != "line"]


ERRORS = [
    # (input lines, output lines, index of the record, error_type, message pattern)
    ([inp("a"), inp("a")], [out("a")], 1, "duplicate_id",
     r"^custom_id 'a' repeats an earlier input line: found it again; allowed: a unique custom_id per line\. "
     r"Fix: make custom_ids unique$"),
    ([inp("a")], [], 0, "unmatched",
     r"^no response in the batch output for custom_id 'a': found none; allowed: one output line per input line\. "
     r"Fix: check the batch's error_file and that the batch completed$"),
    ([inp("a")], [out("a"), out("z")], 1, "unmatched",
     r"^custom_id 'z' is in the batch output but not in the batch input: found '.*'; allowed: one output line "
     r"per input custom_id\. Fix: pass the input file of this batch$"),
    ([inp("a")], [out("a"), "garbage"], 1, "unmatched",
     r"^the output line has no usable custom_id or repeats one: found 'garbage'"),
    ([inp("a")], [out("a", error={"code": "server_error", "message": "boom"})], 0, "api_error",
     r"^the batch output has an error for this request: found '\{\"code\": \"server_error\", \"message\": \"boom\"\}'; "
     r"allowed: error null\. Fix: see the error and resend$"),
    ([inp("a")], [out("a", status=400)], 0, "api_error",
     r"^the API answered status 400: found '.*'; allowed: status_code 200\. Fix: see the error body and resend$"),
    ([inp("a", url="/v1/embeddings")], [out("a")], 0, "invalid_record",
     r"^`url` is not the Chat Completions endpoint: found '/v1/embeddings'; allowed: '/v1/chat/completions'\. "
     r"Fix: audit only chat completion batches$"),
    ([json.dumps({"custom_id": "a", "url": "/v1/chat/completions"})], [out("a")], 0, "missing_field",
     r"^`body` is missing or not an object: found 'null'; allowed: the chat request body\. "
     r"Fix: write the request under `body`$"),
    ([json.dumps({"url": "/v1/chat/completions", "body": HI})], [], 0, "missing_field",
     r"^`custom_id` is missing or not a string: found 'null'; allowed: a unique string per line\. "
     r"Fix: give every batch input line its custom_id$"),
    (["{not json"], [], 0, "invalid_json", r"^line is not JSON"),
    ([inp("a", body={"model": "gpt-9", "messages": HI["messages"]})], [out("a")], 0, "unknown_model",
     r"^unknown chat model at request\.model: found 'gpt-9'"),
]


@pytest.mark.parametrize("inputs, outputs, k, error_type, message", ERRORS)
def test_every_batch_error_has_its_message(tmp_path, inputs, outputs, k, error_type, message):
    recs = run(tmp_path, inputs, outputs)
    rec = recs[k]
    assert (rec["status"], rec["error_type"]) == ("error", error_type)
    assert re.search(message, rec["error"]), rec["error"]


def test_every_line_of_both_files_is_accounted_for(tmp_path):
    inputs = [inp("a"), "{bad", inp("b"), inp("a"), inp("c")]
    outputs = [out("x"), out("c"), "junk", out("a"), out("a")]
    recs = run(tmp_path, inputs, outputs)
    assert [r["line"] for r in recs[:5]] == [1, 2, 3, 4, 5]
    # output lines: 2 and 4 answered inputs; 1 (x), 3 (junk) and 5 (second a) are left over
    assert [(r["line"], r["output_line"]) for r in recs[5:]] == [(None, 1), (None, 3), (None, 5)]
    assert {r["output_line"] for r in recs if r["output_line"]} == {1, 2, 3, 4, 5}
    assert [r["status"] for r in recs[:5]] == ["match", "error", "error", "error", "match"]


def test_jobs_2_equals_jobs_1_and_the_report_file(tmp_path):
    inputs = [inp(f"r{i}", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * i}]}) for i in range(300)]
    outputs = [out(f"r{i}", 8) for i in reversed(range(300))]
    assert run(tmp_path, inputs, outputs, jobs=2) == run(tmp_path, inputs, outputs, jobs=1)
    report = tmp_path / "report.jsonl"
    summary = audit_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl", report)
    assert summary.records == 300 == len(report.read_text().splitlines())
