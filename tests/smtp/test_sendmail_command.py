"""``bin/sendmail`` (manage.py sendmail) queues what local programs and cron pipe into it."""

from __future__ import annotations

import getpass
import io
import subprocess

from agents.models import QueueMessage
from agents.queue import spool
from agents.smtp import sendmail
from tests.conftest import REPO, agent_env, free_port

SENDMAIL = str(REPO / "bin" / "sendmail")


def run(args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    """The real thing: bin/sendmail in a child process."""
    return subprocess.run([SENDMAIL, *args], input=stdin, env=agent_env(), capture_output=True, timeout=60)


def run_here(args: list[str], stdin: bytes) -> int:
    """The same command in this process (a child costs seconds of Django start-up)."""
    from agents.management.commands.sendmail import Command

    return Command().send(args, io.BytesIO(stdin))


def test_sendmail_queues_with_recipients_from_the_command_line(transactional_db, example_com):
    done = run(["-oi", "-f", "cron@example.com", "alice@example.com"], b"Subject: cron job\n\noutput\n.\nmore\n")
    assert done.returncode == 0, done.stderr
    row = QueueMessage.objects.get()
    assert row.source == "sendmail" and row.sender == "cron@example.com"
    assert list(row.recipients.values_list("address", flat=True)) == ["alice@example.com"]
    raw = spool.read(row.queue_id)
    assert raw.endswith(b"\r\n\r\noutput\r\n.\r\nmore\r\n")  # -oi: the lone dot is content
    assert b"\nFrom: cron@example.com\r\n" in raw and b"\nMessage-ID: <" in raw and b"\nDate: " in raw


def test_sendmail_t_reads_recipients_and_drops_bcc(transactional_db, example_com):
    message = b"To: Alice <alice@example.com>\nCc: bob@example.com\nBcc: admin@example.com\nSubject: t\n\nbody\n"
    done = run(["-t", "-i"], message)
    assert done.returncode == 0, done.stderr
    row = QueueMessage.objects.get()
    assert set(row.recipients.values_list("address", flat=True)) == {
        "alice@example.com", "bob@example.com", "admin@example.com"
    }
    assert b"Bcc:" not in spool.read(row.queue_id)
    assert row.sender.startswith(f"{getpass.getuser()}@")


def test_sendmail_without_recipients_is_a_usage_error(db):
    assert run_here([], b"Subject: x\n\nbody\n") == sendmail.EX_USAGE


def test_sendmail_ignores_unknown_o_options_and_refuses_unknown_modes(db, example_com):
    assert run_here(["-odb", "-oem", "-o", "Foo=bar", "alice@example.com"], b"Subject: o\n\nx\n") == 0
    assert run_here(["-bp"], b"") == sendmail.EX_USAGE


def test_sendmail_bad_address_is_a_data_error(db):
    assert run_here(["alice@@example.com"], b"Subject: x\n\nbody\n") == sendmail.EX_DATAERR


def test_sendmail_t_without_any_recipient_header_is_a_data_error(db):
    assert run_here(["-t"], b"Subject: x\n\nbody\n") == sendmail.EX_DATAERR


def test_sendmail_message_over_the_size_limit(db, settings):
    settings.MAILAPP_MAX_MESSAGE_SIZE = 100
    assert run_here(["alice@example.com"], b"Subject: x\n\n" + b"y" * 200) == sendmail.EX_DATAERR


def test_sendmail_tempfails_when_the_queue_is_unavailable(transactional_db, tmp_path):
    env = agent_env(MAILAPP_SQLITE_PATH=str(tmp_path / "missing" / "db.sqlite3"))
    if "DATABASE_URL" in env:  # the PostgreSQL pass: a server that is not there
        env["DATABASE_URL"] = f"postgres://nobody@127.0.0.1:{free_port()}/nothing"
    done = subprocess.run([SENDMAIL, "alice@example.com"], input=b"Subject: x\n\nbody\n", env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == sendmail.EX_TEMPFAIL


def test_parse_args_understands_sendmail_spellings():
    request = sendmail.parse_args(["-ti", "-fme@x.test", "-F", "Me Myself", "-N", "never", "-v", "a@x.test,b@x.test"])
    assert (request.extract, request.ignore_dots, request.sender, request.full_name) == (
        True, True, "me@x.test", "Me Myself"
    )
    assert request.recipients == ["a@x.test", "b@x.test"]


def test_without_i_a_lone_dot_ends_the_message():
    assert sendmail.read_message(b"a\n.\nb\n", ignore_dots=False) == b"a\r\n"
    assert sendmail.read_message(b"a\r\n.\r\nb\r\n", ignore_dots=True) == b"a\r\n.\r\nb\r\n"


def test_bare_cr_never_reaches_the_queue():
    assert sendmail.read_message(b"a\rb\n", ignore_dots=True) == b"ab\r\n"


def test_a_user_name_is_qualified_with_the_hostname():
    assert sendmail.qualify("root", "mail.example.com") == "root@mail.example.com"
