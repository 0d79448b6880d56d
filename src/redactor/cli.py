"""The ``redactor`` command.

    redactor redact [FILE|-] [--policy P] [--json]      redacted text (or JSON) to stdout
    redactor analyze [FILE|-] [--policy P] [--show-values] [--format table|json]
    redactor policy check FILE                          validate a policy, print its hash

Exit status: 0 success, 1 a redaction error, 2 bad usage or an invalid policy / input.
Errors are one line on stderr; values found in the input are never printed unless
``analyze --show-values`` asks for them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence, TextIO

from .errors import PolicyError, RecognizerError, RedactorError, UnknownEntityError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def _read_input(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise _UsageError(f"input file not found: {path}") from None
    except UnicodeDecodeError:
        raise _UsageError(f"input file is not UTF-8 text: {path}") from None
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror}") from None


class _UsageError(Exception):
    pass


def _redactor(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .engine import Redactor

    return Redactor(args.policy)


def cmd_redact(args: argparse.Namespace) -> int:
    redactor = _redactor(args)  # policy errors first, before waiting on stdin
    text = _read_input(args.input)
    if args.json:
        import orjson

        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _UsageError(f"input is not valid JSON: {exc}") from None
        result = redactor.redact_json(value)
        sys.stdout.write(orjson.dumps(result.value, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sys.stdout.write(redactor.redact(text).text)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    redactor = _redactor(args)
    text = _read_input(args.input)
    findings = redactor.analyze(text)
    if args.format == "json":
        import orjson

        rows = [{"entity_type": f.entity_type, "start": f.start, "end": f.end,
                 "score": round(f.score, 4), "recognizer": f.recognizer,
                 **({"value": text[f.start:f.end]} if args.show_values else {})} for f in findings]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    _print_table(sys.stdout, text, findings, args.show_values)
    return 0


def _print_table(out: TextIO, text: str, findings: Sequence, show_values: bool) -> None:  # type: ignore[type-arg]
    header = ["entity_type", "start", "end", "score", "recognizer"] + (["value"] if show_values else [])
    rows = [[f.entity_type, str(f.start), str(f.end), f"{f.score:.2f}", f.recognizer]
            + ([repr(text[f.start:f.end])] if show_values else []) for f in findings]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    out.write(f"{len(findings)} finding(s)\n")


def cmd_policy_check(args: argparse.Namespace) -> int:
    from .engine import Redactor

    from .policy import check_operator_keys

    redactor = Redactor(args.file, model=None) if args.no_model else Redactor(args.file)
    policy = redactor.policy
    check_operator_keys(policy)  # roles' operators too; the CLI has no Redactor(hash_key=...)
    sys.stdout.write(f"ok: policy '{policy.name}' hash {policy.hash} "
                     f"({len(policy.entities)} entity types, packs {', '.join(policy.packs)})\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redactor", description="Find and mask PII.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("redact", help="redact text (or JSON) and write it to stdout")
    p.add_argument("input", nargs="?", default="-", help="input file, or - for stdin (default)")
    p.add_argument("--policy", help="policy YAML file or built-in name (default: default)")
    p.add_argument("--json", action="store_true", help="input is JSON: redact it field by field")
    p.set_defaults(handler=cmd_redact)

    p = sub.add_parser("analyze", help="list the findings in a text")
    p.add_argument("input", nargs="?", default="-", help="input file, or - for stdin (default)")
    p.add_argument("--policy", help="policy YAML file or built-in name (default: default)")
    p.add_argument("--show-values", action="store_true",
                   help="print the matched values too (they are PII: mind where output goes)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_analyze)

    p = sub.add_parser("policy", help="policy tools")
    psub = p.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    c = psub.add_parser("check", help="validate a policy file and print its hash")
    c.add_argument("file")
    c.add_argument("--no-model", action="store_true", help="do not load the spaCy pipeline")
    c.set_defaults(handler=cmd_policy_check)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    """Subcommands of optional parts (proxy, audit), registered when importable."""
    registers = []
    for module, attr in (("redactor.proxy.cli", "register"), ("redactor.audit.cli", "register")):
        try:
            mod = __import__(module, fromlist=[attr])
        except ImportError as exc:
            if exc.name and exc.name.startswith("redactor."):
                continue  # that part is not built in this version
            raise
        registers.append(getattr(mod, attr))
    return registers


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except _UsageError as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    except (PolicyError, RecognizerError, UnknownEntityError) as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    except RedactorError as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
