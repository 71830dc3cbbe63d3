"""Build the benchmark corpus: English prose, source code and multilingual text, 640 KB each.

The three files in ``benchmarks/corpus/`` were made by this script and are committed, so every
run measures the same bytes; ``CORPUS_SHA256`` pins them and ``load_corpus`` checks them.
Rebuilding needs the same inputs: CPython 3.11.7's standard library and ``faker==40.54.0``::

    pip install faker==40.54.0 && python benchmarks/make_corpus.py

Each text is split in two halves: the first half is the "cold" text (a fresh process's first
pass), the second the "warm" text (new text of the same kind, after the first half).

* prose: the Python Language Reference topics shipped with CPython (``pydoc_data/topics.py``),
  then the docstrings of the standard library (modules, classes, functions) in file order
  (PSF License).
* code: the standard library's ``.py`` files in sorted order (PSF License).
* multilingual: paragraphs from Faker's seeded text providers in Chinese, Japanese, Korean,
  Russian, Ukrainian, Greek, Armenian, Arabic, Persian, Hebrew, Thai, Bengali, Hindi
  (Devanagari names and addresses) and Vietnamese, interleaved, plus ASCII digits and
  punctuation as they come (MIT License). Faker's words are real; their order is random.
"""
from __future__ import annotations

import ast
import gzip
import hashlib
import os
import sys
import sysconfig

SIZE = 640_000  # bytes of UTF-8 per kind: 320 KB cold + 320 KB warm
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KINDS = ("prose", "code", "multilingual")
CORPUS_SHA256 = {  # of the uncompressed UTF-8 text
    "prose": "95bd87dca24a704c8f0c1fde15914d2b0fc96d33ef25886ea79a4b8410fb7b56",
    "code": "73c5fb56dc0eee0fb9cad26e472c7b4b7022575905a9dfd23de0d9c9e96f3b99",
    "multilingual": "b2bb865581520c6a540c40d7e746a5b93010bd67f32c408b4868c67f20e3001b",
}


def _cut(text: str) -> str:
    data = text.encode("utf-8")[:SIZE]
    return data.decode("utf-8", errors="ignore")


def _stdlib_files() -> list[str]:
    root = sysconfig.get_paths()["stdlib"]
    return sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".py"))


def make_prose() -> str:
    from pydoc_data.topics import topics

    parts = [topics[k].strip() for k in sorted(topics)]
    for path in _stdlib_files():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:  # prose, not one-liners
                    parts.append(doc)
    return _cut("\n\n".join(parts))


def make_code() -> str:
    parts = []
    for path in _stdlib_files():
        with open(path, encoding="utf-8") as f:
            parts.append(f.read())
    return _cut("\n".join(parts))


def make_multilingual() -> str:
    from faker import Faker

    lorem = ["zh_CN", "ja_JP", "ru_RU", "uk_UA", "el_GR", "hy_AM", "ar_AA", "fa_IR", "he_IL",
             "th_TH", "bn_BD", "vi_VN"]
    fakers = {loc: Faker(loc) for loc in lorem + ["hi_IN", "ko_KR"]}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(1000 + i)
    parts, size = [], 0
    while size < SIZE + 10_000:
        for loc in lorem:
            p = fakers[loc].paragraph(nb_sentences=4)
            parts.append(p)
            size += len(p.encode())
        for loc in ("hi_IN", "ko_KR"):
            p = f"{fakers[loc].name()}, {fakers[loc].address()}"
            parts.append(p)
            size += len(p.encode())
    return _cut("\n\n".join(parts))


def load_corpus(kind: str) -> str:
    """The committed corpus text of ``kind``, checked against its SHA-256."""
    with gzip.open(os.path.join(HERE, f"{kind}.txt.gz"), "rb") as f:
        data = f.read()
    expected = CORPUS_SHA256[kind]
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise SystemExit(f"benchmarks/corpus/{kind}.txt.gz does not match its pinned sha256 {expected}")
    return data.decode("utf-8")


def halves(kind: str) -> tuple[str, str]:
    """(cold text, warm text): the two halves of the corpus, split on a line break."""
    text = load_corpus(kind)
    mid = text.index("\n", len(text) // 2) + 1
    return text[:mid], text[mid:]


def main() -> None:
    os.makedirs(HERE, exist_ok=True)
    for kind, make in (("prose", make_prose), ("code", make_code), ("multilingual", make_multilingual)):
        text = make()
        data = text.encode("utf-8")
        with open(os.path.join(HERE, f"{kind}.txt.gz"), "wb") as f:
            f.write(gzip.compress(data, mtime=0))
        print(f'    "{kind}": "{hashlib.sha256(data).hexdigest()}",  # {len(data)} bytes', file=sys.stderr)


if __name__ == "__main__":
    main()
