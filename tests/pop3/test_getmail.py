"""getmail6 (a real POP3 client) retrieves mail over TLS, with keep and with delete."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import PASSWORD

pytestmark = pytest.mark.clients


def run_getmail(tmp_path: Path, pop3, *, delete: bool) -> list[bytes]:
    out = tmp_path / "delivered"
    out.mkdir(exist_ok=True)
    rc = tmp_path / "getmailrc"
    rc.write_text(
        "[retriever]\n"
        "type = SimplePOP3SSLRetriever\n"
        f"server = 127.0.0.1\nport = {pop3.tls_port}\n"
        f"username = alice@example.com\npassword = {PASSWORD}\n"
        f"ca_certs = {settings.MAILAPP_TLS_CERT}\nssl_cert_hostname = localhost\n"
        # An external MDA rather than getmail's Maildir writer, which refuses to run as root (CI containers).
        "[destination]\ntype = MDA_external\npath = /bin/sh\nallow_root_commands = true\n"
        f"arguments = (\"-c\", \"cat > {out}/$(date +%%s%%N).$$\")\n"
        "[options]\n"
        f"delete = {'true' if delete else 'false'}\nread_all = false\nverbose = 0\n"
    )
    result = subprocess.run(
        ["getmail", "--rcfile", str(rc), "--getmaildir", str(tmp_path)], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace") + result.stdout.decode(errors="replace")
    return [p.read_bytes() for p in sorted(out.iterdir())]


def test_getmail_keep_then_delete(pop3, tmp_path):
    for i in range(2):
        pop3.deliver("alice@example.com", f"Subject: gm {i}\r\n\r\n..two dots\r\n".encode())
    kept = run_getmail(tmp_path, pop3, delete=False)
    assert len(kept) == 2 and all(b"\n..two dots" in m for m in kept)
    assert len(pop3.inbox().uids()) == 2
    assert len(run_getmail(tmp_path, pop3, delete=False)) == 2  # its UIDL cache: nothing new
    pop3.deliver("alice@example.com", b"Subject: gm new\r\n\r\nthird\r\n")
    fetched = run_getmail(tmp_path, pop3, delete=True)
    assert len(fetched) == 3
    assert pop3.inbox().uids() == []
