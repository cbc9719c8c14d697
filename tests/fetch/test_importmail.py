"""``manage.py importmail`` loads mbox files and Maildirs, keeping flags and dates, resumable, with progress."""

from __future__ import annotations

import datetime
import io
import os

import pytest
from django.core.management import CommandError, call_command

from agents.models import ImportProgress


def write_mbox(path, count: int) -> None:
    with open(path, "wb") as out:
        for n in range(count):
            out.write(f"From sender{n}@old.example Tue Nov  3 10:{n % 60:02d}:00 2020\n".encode())
            status = "Status: RO\nX-Status: AF\n" if n % 2 else "Status: O\n"
            out.write(f"From: s{n}@old.example\nSubject: old {n}\n{status}\nbody {n}\n>From the past\n\n".encode())


def imported(store, folder="INBOX"):
    box = store.mailbox("alice@example.com").folder(folder)
    box.refresh()
    return box.messages()


def test_mbox_import_keeps_flags_dates_and_reports_progress(example_com, store, tmp_path):
    """1,200 messages cross the importer's 1,000-message batch; the speed figure is bench/import_bench.py's."""
    mbox = tmp_path / "alice.mbox"
    write_mbox(mbox, 1_200)
    err, out = io.StringIO(), io.StringIO()
    call_command("importmail", str(mbox), "alice@example.com", stdout=out, stderr=err)
    messages = imported(store)
    assert len(messages) == 1_200 and [m.uid for m in messages] == list(range(1, 1_201))
    assert "1200/1200" in err.getvalue() and "Imported 1200 messages" in out.getvalue()
    second = messages[1]
    assert second.flags == {"\\Seen", "\\Answered", "\\Flagged"} and messages[0].flags == frozenset()
    assert second.internaldate.astimezone().replace(tzinfo=None) == datetime.datetime(2020, 11, 3, 10, 1)
    raw = store.mailbox("alice@example.com").folder("INBOX").read(second.uid)
    assert b"Subject: old 1\r\n" in raw and b"Status:" not in raw
    progress = ImportProgress.objects.get()
    assert (progress.done, progress.total, progress.finished) == (1_200, 1_200, True)


def test_interrupted_mbox_import_resumes_without_duplicates(example_com, store, tmp_path, monkeypatch):
    from agents.fetch import importer

    mbox = tmp_path / "m.mbox"
    write_mbox(mbox, 50)
    monkeypatch.setattr(importer, "BATCH", 10)
    real_add = importer.MaildirDrop.add

    def dying_add(self, position, item):
        if position == 25:
            raise KeyboardInterrupt
        return real_add(self, position, item)

    monkeypatch.setattr(importer.MaildirDrop, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        call_command("importmail", str(mbox), "alice@example.com", stdout=io.StringIO(), stderr=io.StringIO())
    assert ImportProgress.objects.get().done == 20
    monkeypatch.setattr(importer.MaildirDrop, "add", real_add)
    err = io.StringIO()
    call_command("importmail", str(mbox), "alice@example.com", stdout=io.StringIO(), stderr=err)
    assert "resuming after message 20 of 50" in err.getvalue()
    assert len(imported(store)) == 50
    call_command("importmail", str(mbox), "alice@example.com", "--restart", stdout=io.StringIO(),
                 stderr=io.StringIO())
    assert len(imported(store)) == 50


def test_maildir_import_keeps_flags_subfolders_and_mtime(example_com, store, tmp_path):
    root = tmp_path / "Maildir"
    for folder in ("", ".Sent", ".Archive.2020"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True)
    (root / "cur" / "1600000000.M1P1.host:2,FS").write_bytes(b"Subject: seen flagged\n\nx\n")
    (root / "new" / "1600000001.M2P1.host").write_bytes(b"Subject: new one\n\nx\n")
    (root / ".Sent" / "cur" / "1600000002.M3P1.host:2,RS").write_bytes(b"Subject: sent\n\nx\n")
    (root / ".Archive.2020" / "cur" / "1600000003.M4P1.host:2,D").write_bytes(b"Subject: draft\n\nx\n")
    os.utime(root / "cur" / "1600000000.M1P1.host:2,FS", (1600000000, 1600000000))
    err = io.StringIO()
    call_command("importmail", str(root), "alice@example.com", stdout=io.StringIO(), stderr=err)
    inbox = sorted(imported(store), key=lambda m: m.uid)
    assert [m.flags for m in inbox] == [{"\\Flagged", "\\Seen"}, frozenset()]
    assert inbox[0].internaldate.timestamp() == 1600000000
    assert [m.flags for m in imported(store, "Sent")] == [{"\\Answered", "\\Seen"}]
    assert [m.flags for m in imported(store, "Archive/2020")] == [{"\\Draft"}]
    assert "INBOX: [" in err.getvalue() and "2/2" in err.getvalue()


def test_malformed_mbox_from_lines_and_missing_mailbox(example_com, store, tmp_path):
    mbox = tmp_path / "odd.mbox"
    mbox.write_bytes(b"From \nSubject: no date\nDate: Mon, 2 Mar 2015 10:00:00 +0000\n\nx\n"
                     b"From garbage line here\nSubject: garbage\n\ny\n")
    call_command("importmail", str(mbox), "alice@example.com", stdout=io.StringIO(), stderr=io.StringIO())
    messages = imported(store)
    assert len(messages) == 2 and messages[0].internaldate.year == 2015
    with pytest.raises(CommandError, match="not a mailbox"):
        call_command("importmail", str(mbox), "nobody@example.com")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("importmail", str(tmp_path / "missing"), "alice@example.com")


def test_a_maildir_written_by_dovecot_imports_with_folders_flags_and_dates(example_com, store, remote):
    import imaplib

    client = imaplib.IMAP4("127.0.0.1", remote.imap_port)
    client.login("remote", "s3cret-remote")
    client.create("Sent")
    client.append("Sent", r"(\Seen \Answered)", imaplib.Time2Internaldate(1500000000), b"Subject: sent\r\n\r\nx\r\n")
    client.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(1500000100), b"Subject: flagged\r\n\r\ny\r\n")
    client.logout()
    err = io.StringIO()
    call_command("importmail", str(remote.maildir("remote")), "alice@example.com", stdout=io.StringIO(), stderr=err)
    sent, inbox = imported(store, "Sent"), imported(store)
    assert [m.flags for m in sent] == [{"\\Seen", "\\Answered"}] and sent[0].internaldate.timestamp() == 1500000000
    assert [m.flags for m in inbox] == [{"\\Flagged"}] and inbox[0].internaldate.timestamp() == 1500000100
    assert "Sent: [" in err.getvalue()


def test_progress_is_a_live_bar_on_a_tty_and_lines_otherwise():
    from agents.fetch.importer import Progress

    tty, plain = io.StringIO(), io.StringIO()
    bar = Progress(tty, "INBOX:", 3, tty=True)
    lines = Progress(plain, "INBOX:", 3000, tty=False)
    for n in range(1, 3001):
        lines.update(n)
    bar.last -= 1  # as if 1 s had passed
    bar.update(2)
    bar.finish()
    assert tty.getvalue().startswith("\rINBOX: [####################..........] 2/3") and "done\n" in tty.getvalue()
    assert plain.getvalue().count("\n") == 3 and "3000/3000" in plain.getvalue()
