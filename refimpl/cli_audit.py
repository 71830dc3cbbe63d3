"""``refimpl audit``: the command-line face of `refimpl.audit`, `refimpl.audit_batch` and
`refimpl.audit_dask`, with a progress bar on a terminal and a summary at the end."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool

__all__ = ["add_audit_parser", "cmd_audit", "Progress"]

EPILOG = """\
examples:
  refimpl audit LOG.jsonl -o REPORT.jsonl --jobs 4
  refimpl audit --batch-input batch_in.jsonl --batch-output batch_out.jsonl -o REPORT.jsonl
  refimpl audit logs/*.jsonl -o REPORT.jsonl --dask tcp://scheduler:8786   (or --dask local)
  refimpl audit --demo

Each LOG line is {"request": <chat request body>, "response": <chat completion response body>}.
The report has one JSON record per input line, in order (see `pydoc refimpl.audit`). Exit
status: 0 every line matched; 3 the report is complete but some lines mismatched or could not be
checked; 1 an input could not be read; 2 bad usage.
"""


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be an integer >= 1, got {value!r}; "
                                         f"e.g. --jobs {os.cpu_count() or 1}")
    return n


def add_audit_parser(sub) -> None:
    p = sub.add_parser("audit", help="check a request log's billed usage.prompt_tokens line by line",
                       description="Audit request logs: predict each request's usage.prompt_tokens and compare "
                                   "it with the usage the API reported.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="*", metavar="LOG", help="JSONL request logs ('-' for stdin)")
    p.add_argument("-o", "--output", default="-", metavar="REPORT",
                   help="write the report (JSONL) here (default: stdout; the summary then goes to stderr)")
    p.add_argument("--batch-input", metavar="IN", help="a Batch API input file (with --batch-output)")
    p.add_argument("--batch-output", metavar="OUT", help="the batch's output file; matched by custom_id")
    p.add_argument("--demo", action="store_true", help="audit the bundled sample log")
    p.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                   help="worker processes (default 1); the report is the same for any N")
    p.add_argument("--dask", metavar="SCHEDULER",
                   help="run on a Dask cluster: a scheduler address (tcp://host:8786) or 'local' for a local "
                        "cluster of --jobs workers (needs refimpl[dask])")
    p.add_argument("--as-of", metavar="DATE",
                   help="count every line with that day's rules (default: each response's `created` day)")
    p.add_argument("--no-cache", action="store_true", help="tokenize every text again (for measuring the cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_audit)


class Progress:
    """A one-line progress bar on a terminal stream: bytes read of the total, records written."""

    def __init__(self, stream, total_bytes: int | None):
        self.stream, self.total, self.bytes, self.records = stream, total_bytes, 0, 0
        self.start = self._last = time.monotonic()

    def on_bytes(self, n: int) -> None:
        self.bytes = n

    def record(self) -> None:
        self.records += 1
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            self.draw(now)

    def draw(self, now: float) -> None:
        rate = self.records / max(now - self.start, 1e-9)
        if self.total:
            frac = min(self.bytes / self.total, 1.0)
            bar = "#" * int(frac * 30)
            head = f"[{bar:<30}] {100 * frac:5.1f}% "
        else:
            head = ""
        self.stream.write(f"\r{head}{self.records:,} records, {rate:,.0f}/s ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + " " * 72 + "\r")
        self.stream.flush()


def _check_inputs(args, UsageError, UserError) -> list[str]:
    modes = sum([bool(args.logs), bool(args.batch_input or args.batch_output), args.demo])
    if modes == 0:
        raise UsageError("give LOG files, --batch-input IN --batch-output OUT, or --demo")
    if modes > 1:
        raise UsageError("give one of: LOG files, --batch-input/--batch-output, --demo")
    if (args.batch_input is None) != (args.batch_output is None):
        raise UsageError("--batch-input and --batch-output go together; give both files of the batch")
    if args.dask and (args.batch_input or args.logs == ["-"]):
        raise UsageError("--dask audits LOG files (readable by the workers); run batches and stdin without --dask")
    paths = [args.batch_input, args.batch_output] if args.batch_input else list(args.logs)
    for path in paths:
        if path != "-" and not os.path.isfile(path):
            reason = "it is a directory" if os.path.isdir(path) else "no such file"
            raise UserError(f"cannot read {path!r}: {reason}")
    if args.logs.count("-") > 1:
        raise UsageError("stdin ('-') can be given once")
    if os.path.abspath(args.output) in {os.path.abspath(p) for p in paths if p != "-"}:
        raise UsageError(f"the report {args.output!r} would overwrite an input; choose another -o")
    return paths


def cmd_audit(args) -> int:
    from .audit import iter_audit, iter_audit_files, write_report
    from .audit_batch import iter_audit_batch
    from .chat_errors import UnknownModelError
    from .chat_rules import parse_date
    from .cli import EXIT_FINDINGS, EXIT_OK, UsageError, UserError
    from .sample_log import SAMPLE_LOG

    _check_inputs(args, UsageError, UserError)
    if args.demo:
        args.logs, args.demo = [str(SAMPLE_LOG)], False
    paths = _check_inputs(args, UsageError, UserError)
    try:
        parse_date(args.as_of)
    except UnknownModelError as e:
        raise UsageError(f"--as-of must be a date YYYY-MM-DD, got {args.as_of!r}") from None

    to_stdout = args.output == "-"
    info = sys.stderr if to_stdout else sys.stdout
    progress = None
    if not args.no_progress and sys.stderr.isatty() and not args.dask:
        read = [args.batch_input] if args.batch_input else paths
        progress = Progress(sys.stderr, None if "-" in read else sum(os.path.getsize(p) for p in read))
    common = dict(as_of=args.as_of, cache=not args.no_cache)
    on_bytes = progress.on_bytes if progress else None
    start = time.perf_counter()
    try:
        if args.dask:
            from .audit_dask import audit_with_dask

            summary = audit_with_dask(paths, args.output, scheduler=args.dask, workers=args.jobs, **common)
        else:
            if args.batch_input:
                records = iter_audit_batch(args.batch_input, args.batch_output, jobs=args.jobs, on_bytes=on_bytes, **common)
            elif len(paths) == 1:
                records = iter_audit(paths[0], jobs=args.jobs, on_bytes=on_bytes, **common)
            else:
                records = iter_audit_files(paths, jobs=args.jobs, on_bytes=on_bytes, **common)
            if progress:
                records = _counted(records, progress)
            summary = write_report(records, args.output)
    except OSError as e:
        if e.filename is None:
            raise
        raise UserError(f"cannot open {e.filename!r}: {e.strerror}") from None
    except ImportError as e:
        raise UserError(f"--dask needs Dask ({e}); install it with: pip install 'refimpl[dask]'") from None
    except BrokenProcessPool:
        raise UserError(f"a worker process died (out of memory, or killed) with --jobs {args.jobs}; "
                        "rerun with fewer --jobs") from None
    finally:
        if progress:
            progress.close()
    seconds = time.perf_counter() - start
    if args.json:
        doc = summary.to_dict()
        doc["report"] = args.output
        print(json.dumps(doc), file=info)
    else:
        where = "stdout" if to_stdout else args.output
        print(summary.format(), file=info)
        print(f"report: {where} ({seconds:.2f} s)", file=info)
    return EXIT_OK if summary.clean else EXIT_FINDINGS


def _counted(records, progress):
    for rec in records:
        progress.record()
        yield rec
