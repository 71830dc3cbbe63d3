"""The refimpl command line: demo, encode, decode, count, render, models, audit.

'refimpl COMMAND --help' describes each command. Conventions: --json prints one JSON document
for scripts; errors print one line on stderr, never a traceback for a user mistake.

Exit status: 0 success; 1 bad input (a file that cannot be read, an invalid request, an unknown
model); 2 bad usage (unknown option, missing argument); 3 an audit finished and wrote its whole
report, but some lines did not match or could not be checked; 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from . import __version__
from .chat_errors import ChatRequestError, UnknownModelError
from .demo import demo_audit, demo_chat_counts, demo_completion
from .educational import colour_spans, format_steps, merge_steps
from .model import encoding_name_for_model
from .registry import get_encoding, list_encoding_names
from .unicode_tables import UNICODE_VERSION

SAMPLE_TEXT = (
    "Tokenizers don't see words: they see bytes. camelCase, 12345, naïve café,\n"
    "日本語のテキスト, Привет мир, नमस्ते — and <|endoftext|> as plain text."
)

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_FINDINGS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UserError(Exception):
    """A mistake in the command's input: reported on one line, exit status 1."""


class UsageError(UserError):
    """A wrong combination of options: reported on one line, exit status 2."""


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
    for line in format_steps(merge_steps(word, enc), colour).splitlines():
        out(f"   {line}\n")


def _demo_exactness(out, colour: bool) -> None:
    enc = get_encoding("cl100k_base")
    text = "a\U00010940b"  # U+10940 is a letter since Unicode 17.0, unassigned in 16.0
    out(f"\n3. Exact on every code point: splits follow Unicode {UNICODE_VERSION}, as tiktoken's do\n")
    out(f"   {text!r} -> {enc.encode(text)} (U+10940 is not a letter in Unicode {UNICODE_VERSION})\n")
    out(f"   model gpt-4o uses {encoding_name_for_model('gpt-4o')}; gpt-oss-120b uses "
        f"{encoding_name_for_model('gpt-oss-120b')}\n")


DEMO_SECTIONS: list[Callable] = [_demo_tokens, _demo_merges, _demo_exactness,
                                 demo_chat_counts, demo_completion, demo_audit]


def _use_colour(args, stream) -> bool:
    choice = getattr(args, "colour", "auto")
    if getattr(args, "no_colour", False):
        choice = "never"
    return choice == "always" or (choice == "auto" and stream.isatty())


def cmd_demo(args) -> int:
    colour = _use_colour(args, sys.stdout)
    out = sys.stdout.write
    out(f"refimpl {__version__}: the token and sampling math of OpenAI's text APIs, exactly\n\n")
    for section in DEMO_SECTIONS:
        section(out, colour)
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# encode / decode / count / render
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


def _read_file(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UserError(f"cannot read {path!r}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path!r} is not UTF-8 text (byte {e.start}); convert it first") from None


def _read_text(args) -> str:
    if args.text is not None and args.file is not None:
        raise UserError("give the text or --file, not both")
    if args.text is not None:
        return args.text
    return _read_file(args.file if args.file is not None else "-")


def _special_kwargs(args) -> dict:
    return {"allowed_special": "all"} if args.allow_special else {"disallowed_special": ()}


def cmd_encode(args) -> int:
    enc = _encoding_from(args)
    tokens = enc.encode(_read_text(args), **_special_kwargs(args))
    if args.json:
        print(json.dumps({"encoding": enc.name, "tokens": tokens}))
    else:
        print(" ".join(map(str, tokens)))
    return EXIT_OK


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
    return EXIT_OK


def _load_request(path: str, model: str | None) -> dict:
    text = _read_file(path)
    where = "standard input" if path == "-" else repr(path)
    try:
        request = json.loads(text)
    except ValueError as e:
        raise UserError(f"the request in {where} is not JSON ({e.msg}, line {e.lineno} column {e.colno}); "
                        "give a Chat Completions request body such as "
                        '{"model": "gpt-4o", "messages": [...]}') from None
    if not isinstance(request, dict):
        raise UserError(f"the request in {where} is a JSON {type(request).__name__}, not an object; give a "
                        'Chat Completions request body such as {"model": "gpt-4o", "messages": [...]}')
    if isinstance(request.get("request"), dict) and "messages" not in request:
        request = request["request"]  # a line of an audit log: {"request": ..., "response": ...}
    elif isinstance(request.get("body"), dict) and "messages" not in request:
        request = request["body"]  # a Batch API input line
    if model:
        request = dict(request, model=model)
    return request


def _explain(request: dict, as_of):
    from .chat_count import explain_prompt_tokens

    try:
        return explain_prompt_tokens(request, as_of=as_of)
    except (ChatRequestError, UnknownModelError) as e:
        raise UserError(str(e)) from None


def _breakdown_json(b) -> dict:
    return {"model": b.model, "snapshot": b.snapshot, "encoding": b.encoding, "prompt_tokens": b.total,
            "estimate": b.estimate, "notes": list(b.notes), "by_source": b.by_source}


def cmd_count(args) -> int:
    if args.request is None:
        if args.as_of or args.explain:
            raise UsageError("--as-of and --explain apply to a request; add --request FILE ('-' for stdin)")
        enc = _encoding_from(args)
        n = enc.count_tokens(_read_text(args), **_special_kwargs(args))
        print(json.dumps({"encoding": enc.name, "tokens": n}) if args.json else n)
        return EXIT_OK
    if args.text is not None or args.file is not None:
        raise UsageError("give a text or --request, not both")
    if args.encoding_given:
        raise UsageError("--encoding does not apply to a request: its model picks the encoding (use -m MODEL)")
    b = _explain(_load_request(args.request, args.model), args.as_of)
    if args.json:
        print(json.dumps(_breakdown_json(b)))
    elif args.explain:
        print(f"{b.total} prompt tokens: {b.model} -> {b.snapshot} ({b.encoding})")
        for source, n in b.by_source.items():
            print(f"  {n:>6}  {source}")
        for note in b.notes:
            print(f"  note: {note}")
    else:
        print(b.total)
    return EXIT_OK


def cmd_render(args) -> int:
    from .prompt_view import view_prompt

    if args.request == "-" and sys.stdin.isatty():
        raise UsageError("give a request JSON file, or pipe one on standard input")
    b = _explain(_load_request(args.request, args.model), args.as_of)
    if args.json:
        doc = _breakdown_json(b)
        doc["pieces"] = [{"text": p.text, "tokens": p.tokens, "kind": p.kind, "source": p.source,
                          "estimate": p.estimate, "note": p.note, "ids": list(p.ids) if p.ids else None}
                         for p in b.pieces]
        print(json.dumps(doc, ensure_ascii=False))
        return EXIT_OK
    colour = _use_colour(args, sys.stdout)
    print(view_prompt({}, breakdown=b, colour=colour, separator=args.separator or ""))
    if colour or args.summary:
        est = " (estimate)" if b.estimate else ""
        print(f"\n{b.total} prompt tokens{est}: {b.model} -> {b.snapshot}, {b.encoding}")
        for note in b.notes:
            print(f"note: {note}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------

def _rules_row(name: str, as_of=None) -> dict:
    from .chat_rules import resolve_rules

    r = resolve_rules(name, as_of=as_of)
    image = None if r.image is None else {"kind": r.image.kind, "base": r.image.base, "tile": r.image.tile,
                                          "multiplier": r.image.multiplier}
    return {"model": name, "snapshot": r.snapshot, "encoding": r.encoding, "format": r.format,
            "tokens_per_message": r.tokens_per_message, "tokens_per_name": r.tokens_per_name,
            "reply_priming": r.reply_priming, "tools_revision": r.tools_revision, "image": image,
            "measured": not r.estimated, "estimated": list(r.estimated)}


def _aliases() -> dict:
    from . import chat_rules

    return {a: [{"from": d, "snapshot": s} for d, s in h] for a, h in getattr(chat_rules, "_ALIASES", {}).items()}


def cmd_models(args) -> int:
    from .chat_rules import known_families
    from .model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING

    if args.model:
        try:
            row = _rules_row(args.model, args.as_of)
        except UnknownModelError as e:
            raise UserError(str(e)) from None
        if args.json:
            print(json.dumps(row))
        else:
            for key, value in row.items():
                print(f"{key:<19} {value}")
        return EXIT_OK
    families = [_rules_row(f) for f in known_families()]
    if args.json:
        print(json.dumps({"encodings": {"models": MODEL_TO_ENCODING, "prefixes": MODEL_PREFIX_TO_ENCODING},
                          "chat_rules": families, "aliases": _aliases()}))
        return EXIT_OK
    out = sys.stdout.write
    out("Chat counting rules by model family (refimpl models MODEL [--as-of DATE] for one model)\n\n")
    out(f"  {'family':<22} {'today':<24} {'encoding':<14} {'format':<8} msg name prime  image         measured\n")
    for r in families:
        img = r["image"]
        image = "-" if img is None else (f"tile {img['base']}+{img['tile']}" if img["kind"] == "tile"
                                         else f"patch x{img['multiplier']}")
        out(f"  {r['model']:<22} {r['snapshot']:<24} {r['encoding']:<14} {r['format']:<8} {r['tokens_per_message']:>3} "
            f"{r['tokens_per_name']:>4} {r['reply_priming']:>5}  {image:<13} {'yes' if r['measured'] else 'no'}\n")
    out("\nAliases (from date -> snapshot)\n\n")
    for alias, history in _aliases().items():
        out(f"  {alias:<22} " + ", ".join(f"{h['from']} {h['snapshot']}" for h in history) + "\n")
    out("\nEncodings by model name (tiktoken's table; prefixes match snapshots and fine-tunes)\n\n")
    for name, enc in list(MODEL_TO_ENCODING.items()) + [(p + "*", e) for p, e in MODEL_PREFIX_TO_ENCODING.items()]:
        out(f"  {name:<32} {enc}\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``refimpl count: error: ... (see refimpl count --help)``."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_text_options(p: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        p.add_argument("text", nargs="?", help="the text (default: --file, or standard input)")
        p.add_argument("-f", "--file", help="read the text from this UTF-8 file ('-' for stdin)")
    p.add_argument("-e", "--encoding", default=None, help="encoding name (default o200k_base)")
    p.add_argument("-m", "--model", help="model name; picks its encoding (overrides --encoding)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def _add_request_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", metavar="DATE", help="count as the API did that day, e.g. 2023-06-23 "
                                                   "(default: today's snapshots and rules)")


def build_parser() -> argparse.ArgumentParser:
    from .cli_audit import add_audit_parser

    parser = _Parser(prog="refimpl", description=__doc__.split("\n\n")[0],
                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"refimpl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="a guided tour of what refimpl computes")
    p.add_argument("--no-colour", "--no-color", action="store_true", help="plain output")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("encode", help="text -> token ids")
    _add_text_options(p)
    p.add_argument("--allow-special", action="store_true",
                   help="encode special-token text (e.g. <|endoftext|>) as special tokens")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("count", help="text -> number of tokens; a chat request -> its usage.prompt_tokens",
                       description="Count the tokens of a text (an argument, --file, or stdin), or predict a "
                                   "Chat Completions request's usage.prompt_tokens (--request FILE, '-' for stdin).")
    _add_text_options(p)
    p.add_argument("--allow-special", action="store_true",
                   help="encode special-token text (e.g. <|endoftext|>) as special tokens")
    p.add_argument("-r", "--request", metavar="FILE",
                   help="a request body in JSON ('-' for stdin); -m MODEL replaces its model")
    _add_request_options(p)
    p.add_argument("--explain", action="store_true", help="with --request: tokens per source and notes")
    p.set_defaults(func=cmd_count)

    p = sub.add_parser("decode", help="token ids -> text")
    p.add_argument("tokens", nargs="*", help="token ids (default: standard input)")
    _add_text_options(p, positional=False)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("render", help="a chat request's prompt, token by token",
                       description="Render a Chat Completions request into the prompt the model reads. On a "
                                   "terminal each token is coloured; piped, the prompt is printed as is.")
    p.add_argument("request", nargs="?", default="-", help="request JSON file (default: standard input)")
    p.add_argument("-m", "--model", help="replace the request's model")
    _add_request_options(p)
    p.add_argument("--colour", "--color", choices=["auto", "always", "never"], default="auto",
                   help="colour token boundaries (default: auto, on a terminal)")
    p.add_argument("--separator", metavar="TEXT", help="without colour: put TEXT between tokens, e.g. '|'")
    p.add_argument("--summary", action="store_true", help="also print the count and notes when piped")
    p.add_argument("--json", action="store_true", help="print the pieces as JSON")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("models", help="the model table and the chat counting rules",
                       description="List model families with their chat counting rules, the alias history and "
                                   "the model -> encoding table; or show the rules one model resolves to.")
    p.add_argument("model", nargs="?", help="show the rules for this model")
    _add_request_options(p)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_models)

    add_audit_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if hasattr(args, "encoding"):
        args.encoding_given = args.encoding is not None
        args.encoding = args.encoding or "o200k_base"
    try:
        return args.func(args)
    except UsageError as e:
        print(f"refimpl {args.command}: error: {e} (see refimpl {args.command} --help)", file=sys.stderr)
        return EXIT_USAGE
    except UserError as e:
        print(f"refimpl {args.command}: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"refimpl {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, and keep Python from complaining at exit
        import os
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
