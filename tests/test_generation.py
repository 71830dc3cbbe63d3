import json
import re

import numpy as np
import pytest

from refimpl.generation import create_completion, generate
from refimpl.ngram import default_model
from refimpl.params import InvalidParameterError

BASE = {"model": "gpt-3.5-turbo-instruct", "prompt": "The weather", "max_tokens": 12, "seed": 7}


def req(**kw):
    return {**BASE, **kw}


def strip(r):
    return {k: v for k, v in r.items() if k != "created"}


def test_response_shape():
    r = create_completion(req(n=2, logprobs=2))
    assert set(r) == {"id", "object", "created", "model", "system_fingerprint", "choices", "usage"}
    assert r["object"] == "text_completion" and r["model"] == "gpt-3.5-turbo-instruct"
    assert re.fullmatch(r"cmpl-[0-9a-f]{24}", r["id"]) and re.fullmatch(r"fp_[0-9a-f]{10}", r["system_fingerprint"])
    assert [c["index"] for c in r["choices"]] == [0, 1]
    for c in r["choices"]:
        assert set(c) == {"text", "index", "logprobs", "finish_reason"}
        assert c["finish_reason"] in ("stop", "length")
        lp = c["logprobs"]
        assert set(lp) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}
        assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"])
        assert "".join(lp["tokens"]) == c["text"]
        for tok, l, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
            assert tok in top and top[tok] == l and len(top) <= 3
    json.dumps(r, allow_nan=False)


def test_same_seed_same_response_and_choice_i_independent_of_n():
    a = create_completion(req(n=3))
    assert strip(a) == strip(create_completion(req(n=3)))
    one = create_completion(req(n=1))
    five = create_completion(req(n=5))
    assert one["choices"][0] == a["choices"][0] == five["choices"][0]
    assert a["choices"][2] == five["choices"][2]
    texts = {c["text"] for c in five["choices"]}
    assert len(texts) > 1  # different choices draw differently


def test_usage_sums_over_choices():
    r = create_completion(req(n=4, max_tokens=5, temperature=1.5))
    assert r["usage"]["prompt_tokens"] == 2
    assert r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"]
    assert r["usage"]["completion_tokens"] <= 4 * 5


def test_max_tokens_gives_length():
    m = default_model("cl100k_base")
    r = create_completion(req(max_tokens=3, temperature=1.0, logit_bias={str(m.encoding.eot_token): -100}))
    c = r["choices"][0]
    assert c["finish_reason"] == "length" and r["usage"]["completion_tokens"] == 3


def test_stop_across_token_boundaries():
    prompt = "Question: What is the capital of France?\nAnswer:"
    full = create_completion(req(prompt=prompt, temperature=0))["choices"][0]["text"]
    assert full == " The capital of France is Paris."
    r = create_completion(req(prompt=prompt, temperature=0, stop=["l of Fr", "zzz"], logprobs=0))
    c = r["choices"][0]
    assert c["text"] == " The capita" and c["finish_reason"] == "stop"
    # the returned tokens cover the text ("l of Fr" starts inside " capital")
    assert c["logprobs"]["tokens"] == [" The", " capital"]


def test_best_of_keeps_highest_mean_logprob():
    many = create_completion(req(n=4, logprobs=0, temperature=1.5))
    means = [np.mean(c["logprobs"]["token_logprobs"]) for c in many["choices"]]
    best = create_completion(req(n=1, best_of=4, logprobs=0, temperature=1.5))
    assert best["choices"][0]["text"] == many["choices"][int(np.argmax(means))]["text"]
    assert best["usage"]["completion_tokens"] == many["usage"]["completion_tokens"]


def test_processed_logprobs_are_available():
    r = create_completion(req(temperature=0, logprobs=1), logprobs_source="processed")
    assert all(l == 0.0 for l in r["choices"][0]["logprobs"]["token_logprobs"])
    raw = create_completion(req(temperature=0, logprobs=1))
    assert all(l < 0 for l in raw["choices"][0]["logprobs"]["token_logprobs"])


def test_echo_scores_the_prompt():
    r = create_completion(req(echo=True, max_tokens=0, logprobs=1))
    c = r["choices"][0]
    assert c["text"] == "The weather"
    assert c["logprobs"]["tokens"] == ["The", " weather"]
    assert c["logprobs"]["token_logprobs"][0] is None and c["logprobs"]["token_logprobs"][1] < 0
    assert c["logprobs"]["text_offset"] == [0, 3]
    r = create_completion(req(echo=True, max_tokens=3))
    assert r["choices"][0]["text"].startswith("The weather")


def test_multiple_prompts_and_token_prompts():
    m = default_model("cl100k_base")
    r = create_completion(req(prompt=["The sea", "The garden"], n=2))
    assert [c["index"] for c in r["choices"]] == [0, 1, 2, 3]
    ids = create_completion(req(prompt=m.encoding.encode("The garden"), n=2))
    assert ids["choices"][0]["text"] == r["choices"][2]["text"]


def test_suffix_uses_fill_in_the_middle_tokens():
    r = create_completion(req(prompt="The sea", suffix=" the harbour.", max_tokens=3))
    assert r["usage"]["prompt_tokens"] == 2 + 3 + 3  # prefix, suffix, three FIM tokens
    with pytest.raises(InvalidParameterError, match=re.escape("`suffix` needs fill-in-the-middle tokens, which p50k_base")):
        create_completion(req(model="text-davinci-003", suffix="x"))
    with pytest.raises(InvalidParameterError, match=re.escape("`echo` and `suffix` cannot be used together")):
        create_completion(req(suffix="x", echo=True))


def test_custom_model_callable():
    enc = default_model("cl100k_base").encoding
    target = enc.encode(" hello")[0]

    def model(ids):
        logits = np.zeros(enc.n_vocab)
        logits[target] = 50.0
        return logits

    r = create_completion(req(max_tokens=3), model=model)
    assert r["choices"][0]["text"] == " hello hello hello"
    assert r["system_fingerprint"] != create_completion(req(max_tokens=3))["system_fingerprint"]
    with pytest.raises(ValueError, match=re.escape("model must return logits of shape (V,)")):
        create_completion(req(), model=lambda ids: np.zeros((2, 3)))


@pytest.mark.parametrize("bad, message", [
    ({"foo": 1}, "Unrecognized request argument supplied: 'foo'"),
    ({"model": "gpt-4o"}, "`model` must be a Completions model, got 'gpt-4o'"),
    ({"stream": True}, "`stream` is not supported by refimpl"),
    ({"n": 0}, "`n` must be in [1, 128], got 0"),
    ({"n": 3, "best_of": 2}, "`best_of` must be >= `n`, got best_of=2 with n=3"),
    ({"logprobs": 6}, "`logprobs` must be in [0, 5], got 6"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "`stop` must have at most 4 sequences"),
    ({"temperature": 3}, "`temperature` must be in [0, 2], got 3"),
    ({"max_tokens": 0}, "`max_tokens` must be >= 1, got 0"),
    ({"prompt": 5}, "`prompt` must be a string, a list of strings"),
    ({"logit_bias": {"999999": 1}}, "`logit_bias` key must be a token id in [0, 100276], got '999999'"),
])
def test_request_errors(bad, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        create_completion(req(**bad))


def test_generate_rejects_unknown_logprobs_source():
    m = default_model("cl100k_base")
    with pytest.raises(ValueError, match="logprobs_source must be 'raw' or 'processed', got 'x'"):
        generate(m, [1], encoding=m.encoding, max_tokens=1, seed=0, logprobs_source="x")


# -- Chat Completions ----------------------------------------------------------------------------

from refimpl.chat_count import count_prompt_tokens  # noqa: E402
from refimpl.json_mode import is_json_object_prefix  # noqa: E402
from refimpl.generation import create_chat_completion  # noqa: E402

CHAT = {"model": "gpt-4", "seed": 11, "max_tokens": 8,
        "messages": [{"role": "system", "content": "You are a helpful assistant."},
                     {"role": "user", "name": "ada", "content": "Tell me about the harbour."}]}


def chat(**kw):
    return {**CHAT, **kw}


@pytest.mark.parametrize("request_", [
    CHAT,
    chat(model="gpt-4o"),
    chat(model="gpt-3.5-turbo-0301"),
    chat(tools=[{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                  "parameters": {"type": "object", "properties": {
                                                      "city": {"type": "string"}}}}}]),
])
def test_chat_prompt_tokens_equal_count_prompt_tokens(request_):
    r = create_chat_completion(request_)
    assert r["usage"]["prompt_tokens"] == count_prompt_tokens(request_)
    assert r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"]


def test_chat_response_shape_and_logprobs():
    r = create_chat_completion(chat(n=2, logprobs=True, top_logprobs=3))
    assert set(r) == {"id", "object", "created", "model", "system_fingerprint", "choices", "usage"}
    assert r["object"] == "chat.completion" and re.fullmatch(r"chatcmpl-[0-9a-f]{24}", r["id"])
    for i, c in enumerate(r["choices"]):
        assert c["index"] == i and c["message"]["role"] == "assistant"
        content = c["logprobs"]["content"]
        assert "".join(e["token"] for e in content) == c["message"]["content"]
        for e in content:
            assert set(e) == {"token", "logprob", "bytes", "top_logprobs"}
            assert bytes(e["bytes"]).decode("utf-8", errors="replace") == e["token"]
            assert len(e["top_logprobs"]) == 3
            assert e["top_logprobs"][0]["logprob"] >= e["logprob"]
    assert r["usage"]["completion_tokens"] <= 2 * 8
    json.dumps(r, allow_nan=False)


def test_chat_completion_tokens_match_chat_count_for_a_finished_message():
    from refimpl.chat_count import count_completion_tokens

    r = create_chat_completion(chat(temperature=0, max_tokens=30, messages=[
        {"role": "user", "content": "Question: What is the capital of France?\nAnswer:"}]))
    assert r["choices"][0]["finish_reason"] == "stop"
    assert r["usage"]["completion_tokens"] == count_completion_tokens(r, "gpt-4")


def test_chat_choice_i_independent_of_n():
    a = create_chat_completion(chat(n=1))["choices"][0]
    b = create_chat_completion(chat(n=3))["choices"][0]
    assert a == b


def test_chat_max_completion_tokens_wins():
    m = default_model("cl100k_base")
    r = create_chat_completion(chat(max_tokens=9, max_completion_tokens=2,
                                    logit_bias={m.encoding.eot_token: -100}))
    assert r["choices"][0]["finish_reason"] == "length" and r["usage"]["completion_tokens"] == 2


def test_chat_json_mode():
    req_ = chat(max_tokens=40, temperature=0.7,
                messages=[{"role": "system", "content": "Reply with a JSON object."},
                          {"role": "user", "content": "Describe Mars."}])
    finishes = set()
    for seed in range(4):
        r = create_chat_completion({**req_, "seed": seed, "response_format": {"type": "json_object"}})
        c = r["choices"][0]
        finishes.add(c["finish_reason"])
        if c["finish_reason"] == "stop":
            assert isinstance(json.loads(c["message"]["content"]), dict)
        else:
            assert is_json_object_prefix(c["message"]["content"].encode("utf-8"))
    assert "stop" in finishes


@pytest.mark.parametrize("bad, message", [
    ({"echo": True}, "Unrecognized request argument supplied: 'echo'"),
    ({"stream": True}, "`stream` is not supported by refimpl"),
    ({"response_format": {"type": "json_object"}}, "'messages' must contain the word 'json' in some form"),
    ({"response_format": {"type": "json_schema", "json_schema": {}}}, "`response_format` type 'json_schema' is not supported"),
    ({"top_logprobs": 2}, "`top_logprobs` needs `logprobs` set to true, got top_logprobs=2 with logprobs=None"),
    ({"logprobs": True, "top_logprobs": 21}, "`top_logprobs` must be in [0, 20], got 21"),
    ({"max_completion_tokens": 0}, "`max_completion_tokens` must be >= 1, got 0"),
    ({"top_p": 2}, "`top_p` must be in [0, 1], got 2"),
])
def test_chat_request_errors(bad, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        create_chat_completion(chat(**bad))


def test_responses_validate_against_openai_types():
    openai = pytest.importorskip("openai")
    from openai.types import Completion
    from openai.types.chat import ChatCompletion

    Completion.model_validate(create_completion(req(n=2, logprobs=2)))
    ChatCompletion.model_validate(create_chat_completion(chat(n=2, logprobs=True, top_logprobs=2)))
    assert openai


def test_partial_utf8_tokens_in_legacy_logprobs():
    enc = default_model("cl100k_base").encoding
    script = enc.encode("日本語") + [enc.eot_token]  # 語 is split over two tokens

    def model(ids):
        logits = np.zeros(enc.n_vocab)
        logits[script[len(ids) - 1]] = 60.0
        return logits

    r = create_completion(req(model="davinci-002", prompt="x", logprobs=1), model=model)
    c = r["choices"][0]
    assert c["text"] == "日本語" and c["finish_reason"] == "stop"
    assert c["logprobs"]["tokens"][2:] == ["bytes:\\xe8\\xaa", "bytes:\\x9e"]
    assert c["logprobs"]["text_offset"] == [1, 2, 3, 3]
    assert r["usage"]["completion_tokens"] == 4  # the final <|endoftext|> is not counted
