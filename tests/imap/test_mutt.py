"""mutt reads, flags, moves and deletes mail over IMAP (driven under tmux, bounded by timeouts)."""

import shutil
import subprocess
import time

import pytest

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, message

pytestmark = pytest.mark.clients


def run_mutt(imap_server, tmp_path, keys: str, timeout: float = 40.0, password: str = PASSWORD) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    rc = home / "muttrc"
    rc.write_text(
        f'set folder="imap://{ALICE.replace("@", "%40")}@127.0.0.1:{imap_server.port}/"\n'
        f'set imap_user="{ALICE}"\nset imap_pass="{password}"\n'
        'set spoolfile="+INBOX"\nset ssl_starttls=no\nset ssl_force_tls=no\n'
        "set sort=mailbox-order\nset confirmappend=no\nset confirmcreate=no\nset delete=yes\nset quit=yes\n"
        "set move=no\nset mark_old=no\nset wait_key=no\nset beep=no\nset imap_passive=no\nunset record\n"
        "set timeout=1\nset mail_check=1\nset pager_stop=yes\nset resolve=no\n"
    )
    session = f"mutt{time.monotonic_ns()}"
    command = f"mutt -n -F {rc} -e 'push \"{keys}\"'"
    env = {"HOME": str(home), "TERM": "xterm", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    subprocess.run(["tmux", "-L", session, "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
                    "env", *[f"{k}={v}" for k, v in env.items()], "sh", "-c", command], check=True, timeout=10)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "-L", session, "has-session", "-t", session], capture_output=True)
            if alive.returncode != 0:
                return
            time.sleep(0.3)
        screen = subprocess.run(["tmux", "-L", session, "capture-pane", "-p", "-t", session],
                                capture_output=True, text=True).stdout
        raise AssertionError(f"mutt did not finish in {timeout}s; screen:\n{screen}")
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True)


def test_mutt_reads_flags_moves_and_deletes(imap_server, tmp_path):
    assert shutil.which("mutt") and shutil.which("tmux")
    for subject in ("read me", "flag me", "move me", "delete me"):
        imap_server.deliver(message(subject))
    keys = ("<display-message><exit>"
            "<next-entry><flag-message>"
            "<next-entry><save-message>=Archive<enter>"
            "<next-entry><delete-message>"
            "<sync-mailbox><quit>")
    mailbox = imap_server.store.mailbox(ALICE)
    mailbox.create_folder("Archive")
    run_mutt(imap_server, tmp_path, keys)
    inbox = mailbox.folder("INBOX")
    subjects = {m.uid: s.subject for m in inbox.messages() for s in inbox.summaries([m.uid])}
    flags = {subjects[m.uid]: m.flags for m in inbox.messages()}
    assert set(flags) == {"read me", "flag me"}
    assert "\\Seen" in flags["read me"] and "\\Flagged" in flags["flag me"]
    archive = mailbox.folder("Archive")
    assert [s.subject for s in archive.summaries(archive.uids())] == ["move me"]
