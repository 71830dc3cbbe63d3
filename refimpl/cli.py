"""The ``refimpl`` command line: ``demo`` (a guided tour), ``encode``, ``decode``, ``count``.

Errors a user can fix print one line on stderr and exit with status 2 (bad usage) or 1 (bad
input); no traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from . import __version__
from .educational import colour_spans, format_steps, merge_steps
from .model import encoding_name_for_model
from .registry import get_encoding, list_encoding_names
from .unicode_tables import UNICODE_VERSION

SAMPLE_TEXT = (
    "Tokenizers don't see words: they see bytes. camelCase, 12345, naïve café,\n"
    "日本語のテキスト, Привет мир, नमस्ते — and <|endoftext|> as plain text."
)


class UserError(Exception):
    """A mistake in the command's input: reported on one line, exit status 1."""


# ---------------------------------------------------------------------------------------
# demo: a list of sections, each a function (out, colour) -> None; later capabilities add theirs
# ---------------------------------------------------------------------------------------

def _demo_tokens(out, colour: bool) -> None:
    out("1. The same text in every public encoding (token boundaries shown)\n")
    out(f"   text: {SAMPLE_TEXT!r}\n")
    for name in list_encoding_names():
        enc = get_encoding(name)
        tokens = enc.encode(SAMPLE_TEXT, disallowed_special=())
        out(f"   {name:<14} {len(tokens):>3} tokens\n")
    enc = get_encoding("o200k_base")
    tokens = enc.encode(SAMPLE_TEXT, disallowed_special=())
    out("\n   o200k_base, token by token:\n   ")
    out(colour_spans(enc.decode_tokens_bytes(tokens), colour).replace("\\n", "\\n\n   ") + "\n")
    out(f"   ids: {tokens[:16]} ...\n")


def _demo_merges(out, colour: bool) -> None:
    enc = get_encoding("cl100k_base")
    word = " tokenizers"
    out(f"\n2. How BPE builds {word!r} in cl100k_base: lowest rank first, leftmost on ties\n")
    for line in format_steps(merge_steps(word, enc._mergeable_ranks), colour).splitlines():
        out(f"   {line}\n")


def _demo_exactness(out, colour: bool) -> None:
    enc = get_encoding("cl100k_base")
    text = "a\U00010940b"  # U+10940 is a letter since Unicode 17.0, unassigned in 16.0
    out(f"\n3. Exact on every code point: splits follow Unicode {UNICODE_VERSION}, as tiktoken's do\n")
    out(f"   {text!r} -> {enc.encode(text)} (U+10940 is not a letter in Unicode {UNICODE_VERSION})\n")
    out(f"   model gpt-4o uses {encoding_name_for_model('gpt-4o')}; gpt-oss-120b uses "
        f"{encoding_name_for_model('gpt-oss-120b')}\n")


DEMO_SECTIONS: list[Callable] = [_demo_tokens, _demo_merges, _demo_exactness]


def cmd_demo(args) -> int:
    colour = sys.stdout.isatty() and not args.no_colour
    out = sys.stdout.write
    out(f"refimpl {__version__}: the token and sampling math of OpenAI's text APIs, exactly\n\n")
    for section in DEMO_SECTIONS:
        section(out, colour)
    return 0


# ---------------------------------------------------------------------------------------
# encode / decode / count
# ---------------------------------------------------------------------------------------

def _encoding_from(args):
    if args.model:
        try:
            return get_encoding(encoding_name_for_model(args.model))
        except KeyError as e:
            raise UserError(e.args[0]) from None
    if args.encoding not in list_encoding_names():
        raise UserError(f"unknown encoding {args.encoding!r}; choose one of {', '.join(list_encoding_names())}")
    return get_encoding(args.encoding)


def _read_text(args) -> str:
    if args.text is not None and args.file is not None:
        raise UserError("give the text or --file, not both")
    if args.text is not None:
        return args.text
    if args.file is not None and args.file != "-":
        try:
            with open(args.file, encoding="utf-8") as f:
                return f.read()
        except OSError as e:
            raise UserError(f"cannot read {args.file!r}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise UserError(f"{args.file!r} is not UTF-8 text (byte {e.start}); convert it first") from None
    return sys.stdin.read()


def _special_kwargs(args) -> dict:
    return {"allowed_special": "all"} if args.allow_special else {"disallowed_special": ()}


def cmd_encode(args) -> int:
    enc = _encoding_from(args)
    tokens = enc.encode(_read_text(args), **_special_kwargs(args))
    if args.json:
        print(json.dumps({"encoding": enc.name, "tokens": tokens}))
    else:
        print(" ".join(map(str, tokens)))
    return 0


def cmd_decode(args) -> int:
    enc = _encoding_from(args)
    raw = " ".join(args.tokens) if args.tokens else sys.stdin.read()
    try:
        tokens = [int(t) for t in raw.replace(",", " ").replace("[", " ").replace("]", " ").split()]
    except ValueError:
        raise UserError(f"tokens must be integers separated by spaces or commas, got {raw[:60]!r}") from None
    try:
        text = enc.decode(tokens)
    except KeyError as e:
        raise UserError(e.args[0]) from None
    print(json.dumps({"encoding": enc.name, "text": text}) if args.json else text)
    return 0


def cmd_count(args) -> int:
    enc = _encoding_from(args)
    n = enc.count_tokens(_read_text(args), **_special_kwargs(args))
    print(json.dumps({"encoding": enc.name, "tokens": n}) if args.json else n)
    return 0


def _add_text_options(p: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        p.add_argument("text", nargs="?", help="the text (default: --file, or standard input)")
        p.add_argument("-f", "--file", help="read the text from this UTF-8 file ('-' for stdin)")
    p.add_argument("-e", "--encoding", default="o200k_base", help="encoding name (default o200k_base)")
    p.add_argument("-m", "--model", help="model name; picks its encoding (overrides --encoding)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refimpl", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"refimpl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("demo", help="a guided tour of what refimpl computes")
    p.add_argument("--no-colour", "--no-color", action="store_true", help="plain output")
    p.set_defaults(func=cmd_demo)
    for name, func, helptext in [("encode", cmd_encode, "text -> token ids"), ("count", cmd_count, "text -> number of tokens")]:
        p = sub.add_parser(name, help=helptext)
        _add_text_options(p)
        p.add_argument("--allow-special", action="store_true",
                       help="encode special-token text (e.g. <|endoftext|>) as special tokens")
        p.set_defaults(func=func)
    p = sub.add_parser("decode", help="token ids -> text")
    p.add_argument("tokens", nargs="*", help="token ids (default: standard input)")
    _add_text_options(p, positional=False)
    p.set_defaults(func=cmd_decode)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except UserError as e:
        print(f"refimpl {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
