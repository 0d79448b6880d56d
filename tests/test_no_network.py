"""Nothing in the package opens a network connection: import, analyze and redact with
sockets blocked, in a fresh interpreter so the import itself is covered."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r'''
import socket

class NoNetwork(Exception):
    pass

def refuse(*args, **kwargs):
    raise NoNetwork(f"network access attempted: {args!r}")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import redactor
text = "Dana Fakesmith, dana@example.com, https://example.org/x?email=a@b.org, 10.0.0.1"
findings = redactor.analyze(text)
assert {f.entity_type for f in findings} >= {"PERSON", "EMAIL_ADDRESS", "URL", "IP_ADDRESS"}, findings
print(redactor.redact(text))
'''


def test_import_analyze_and_redact_with_sockets_blocked() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("<PERSON>, <EMAIL_ADDRESS>, https://example.org/x?email=<EMAIL_ADDRESS>, "
                           "<IP_ADDRESS>\n")
