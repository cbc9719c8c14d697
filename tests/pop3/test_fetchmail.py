"""fetchmail (a real POP3 client) retrieves mail over implicit TLS and STLS, with keep and with delete.

No local MTA is needed: fetchmail hands each message to an MDA script that
writes it into a directory.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import PASSWORD

pytestmark = pytest.mark.clients


def run_fetchmail(tmp_path: Path, pop3, *, keep: bool, implicit_tls: bool = True, password: str = PASSWORD,
                  expect_ok: bool = True) -> list[bytes]:
    out = tmp_path / "delivered"
    out.mkdir(exist_ok=True)
    mda = tmp_path / "mda.sh"
    mda.write_text(f'#!/bin/sh\nexec cat > "{out}/$(date +%s%N).$$"\n')
    mda.chmod(0o755)
    port = pop3.tls_port if implicit_tls else pop3.port
    tls = "ssl" if implicit_tls else "sslproto tls1.2+"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 protocol pop3 port {port} uidl\n'
        f'  user "alice@example.com" password "{password}"\n'
        f'  {tls} sslcertck sslcertfile "{settings.MAILAPP_TLS_CERT}" sslcommonname localhost\n'
        f'  {"keep" if keep else "nokeep fetchall"} mda "{mda}"\n'
    )
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    result = subprocess.run(
        ["fetchmail", "--nodetach", "--nosyslog", "-f", str(rc), "--idfile", str(tmp_path / "fetchids")],
        env=env, capture_output=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    # 0: mail fetched; 1: no mail. Anything else is an error worth seeing.
    if expect_ok:
        assert result.returncode in (0, 1), result.stderr.decode(errors="replace")
    else:
        assert result.returncode == 3, result.stderr.decode(errors="replace")  # 3: authentication failed
    return [p.read_bytes() for p in sorted(out.iterdir())]


def test_fetchmail_keep_then_delete(pop3, tmp_path):
    for i in range(3):
        pop3.deliver("alice@example.com", f"Subject: fm {i}\r\n\r\n.dot line {i}\r\nbody\r\n".encode())
    fetched = run_fetchmail(tmp_path, pop3, keep=True)
    assert len(fetched) == 3 and all(b"\n.dot line" in m for m in fetched)
    assert len(pop3.inbox().uids()) == 3
    again = run_fetchmail(tmp_path, pop3, keep=True)  # UIDL: nothing new the second time
    assert len(again) == 3
    second = tmp_path / "second"
    second.mkdir()
    assert len(run_fetchmail(second, pop3, keep=False)) == 3  # fetchall + nokeep: all again, then deleted
    assert pop3.inbox().uids() == []


def test_fetchmail_over_stls(pop3, tmp_path):
    pop3.deliver("alice@example.com", b"Subject: over stls\r\n\r\nhello\r\n")
    fetched = run_fetchmail(tmp_path, pop3, keep=False, implicit_tls=False)
    assert len(fetched) == 1 and b"Subject: over stls" in fetched[0]
    assert pop3.inbox().uids() == []
