"""``redactor audit ...`` (and ``redactor vault keygen``), registered by :mod:`redactor.cli`.

    redactor audit verify --store URL [--key-file F] [--public-key F] [--witness F]
        exit 0 and one summary line when intact; exit 1 and "FAILED: sequence N: reason:
        ..." at the first bad record; exit 2 for bad usage (unreadable key, bad URL)
    redactor audit export --store URL [--since T] [--until T] [--output F]
        JSON Lines, one record per line; T is RFC 3339 with an offset (2026-05-01T00:00:00Z)
    redactor audit keygen --dir D [--force]
        audit-hmac.key, audit-signing.pem (private, 0600), audit-signing.pub.pem
    redactor vault keygen --out F [--force]
        a 256-bit vault key as hex (0600)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import AuditKeyError, AuditStoreError, VerificationError

__all__ = ["register"]


def cmd_verify(args: argparse.Namespace) -> int:
    from .keys import load_hmac_key, load_public_key
    from .verify import verify

    try:
        key = load_hmac_key(args.key_file) if args.key_file else None
        public = load_public_key(args.public_key) if args.public_key else None
        report = verify(args.store, key=key, public_key=public, witness=args.witness)
    except (AuditKeyError, AuditStoreError) as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"FAILED: {exc}", file=sys.stdout)
        return 1
    print(report.summary())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .record import parse_ts
    from .verify import export

    try:
        since = parse_ts(args.since) if args.since else None
        until = parse_ts(args.until) if args.until else None
    except ValueError as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for line in export(args.store, since=since, until=until):
            out.write(line)
    except AuditStoreError as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from .keys import generate_keys

    try:
        paths = generate_keys(args.dir, force=args.force)
    except (FileExistsError, OSError) as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


def cmd_vault_keygen(args: argparse.Namespace) -> int:
    from ..vault.crypto import generate_key_file

    try:
        generate_key_file(args.out, force=args.force)
    except (FileExistsError, OSError) as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    print(args.out)
    return 0


def register(sub: Any) -> None:
    """Add the ``audit`` and ``vault`` commands to the ``redactor`` parser's subparsers."""
    p = sub.add_parser("audit", help="verify, export and key the audit trail")
    asub = p.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")

    v = asub.add_parser("verify", help="check the hash chain, HMACs and signed checkpoints")
    v.add_argument("--store", required=True, help="sqlite:///path or postgresql://...")
    v.add_argument("--key-file", help="HMAC key file (hex); every record must match it")
    v.add_argument("--public-key", help="Ed25519 public key (PEM) the checkpoints must verify with")
    v.add_argument("--witness", help="witness file of checkpoints kept outside the store")
    v.set_defaults(handler=cmd_verify)

    e = asub.add_parser("export", help="write records as JSON Lines (for a SIEM)")
    e.add_argument("--store", required=True)
    e.add_argument("--since", help="RFC 3339 time, inclusive (e.g. 2026-05-01T00:00:00Z)")
    e.add_argument("--until", help="RFC 3339 time, exclusive")
    e.add_argument("--output", "-o", help="file to write (default stdout)")
    e.set_defaults(handler=cmd_export)

    k = asub.add_parser("keygen", help="create an HMAC key and an Ed25519 signing key pair")
    k.add_argument("--dir", required=True, help="directory for the key files")
    k.add_argument("--force", action="store_true", help="replace existing key files")
    k.set_defaults(handler=cmd_keygen)

    p = sub.add_parser("vault", help="token vault tools")
    vsub = p.add_subparsers(dest="vault_command", required=True, metavar="SUBCOMMAND")
    g = vsub.add_parser("keygen", help="create a vault key file (256-bit, hex)")
    g.add_argument("--out", required=True)
    g.add_argument("--force", action="store_true")
    g.set_defaults(handler=cmd_vault_keygen)
