"""mbsync (isync) syncs a mailbox both ways over STARTTLS with the appliance's self-signed certificate."""

import subprocess

import pytest

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, message

pytestmark = pytest.mark.clients


def mbsync(imap_server, tmp_path, password: str = PASSWORD) -> str:
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount appliance\nHost localhost\nPort {imap_server.port}\nUser {ALICE}\nPass \"{password}\"\n"
        f"SSLType STARTTLS\nCertificateFile {imap_server.cert}\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount appliance\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX Archive\nCreate Both\nExpunge Both\n"
        f"SyncState *\nSync All\n"
    )
    result = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, timeout=60,
                            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def local_files(tmp_path, folder="INBOX"):
    base = tmp_path / "local" / folder
    return sorted(p for sub in ("cur", "new") for p in (base / sub).iterdir()) if base.exists() else []


def test_mbsync_both_ways(imap_server, tmp_path):
    mailbox = imap_server.store.mailbox(ALICE)
    mailbox.create_folder("Archive")
    imap_server.deliver(message("from server 1"))
    imap_server.deliver(message("from server 2"))
    mbsync(imap_server, tmp_path)
    files = local_files(tmp_path)
    assert len(files) == 2

    # Local changes: a new message, a flag, and a deletion; then sync up.
    new_dir = tmp_path / "local" / "INBOX" / "new"
    (new_dir / "1700000000.local.host").write_bytes(message("from laptop"))
    first = files[0]
    first.rename(first.parent.parent / "cur" / (first.name.split(":2,")[0] + ":2,FS"))
    files[1].rename(files[1].parent.parent / "cur" / (files[1].name.split(":2,")[0] + ":2,ST"))
    mbsync(imap_server, tmp_path)

    inbox = mailbox.folder("INBOX")
    metas = inbox.messages()
    subjects = {s.subject: s.meta.flags for s in inbox.summaries([m.uid for m in metas])}
    assert set(subjects) == {"from server 1", "from laptop"} or set(subjects) == {"from server 2", "from laptop"}
    assert any("\\Flagged" in flags for flags in subjects.values())

    # A server-side change flows down again.
    imap_server.deliver(message("late from server"))
    mbsync(imap_server, tmp_path)
    assert len(local_files(tmp_path)) == 3
