#!/usr/bin/env python
"""SMTP reception benchmark: our MX port against Postfix, side by side, with Postfix's smtp-source.

    .venv/bin/python bench/smtp.py [--messages 2000] [--sessions 1 20 50] [--size 4096]

Sets up, in a fresh temporary directory:
  - mailappliance: a new MAILAPP_HOME (SQLite, migrated), domain example.com with
    mailbox alice@, and ``manage.py smtpd`` on free loopback ports;
  - Postfix (Debian's package; ``apt-get install -y postfix``) with its own
    config_directory and queue_directory, smtpd on an unprivileged loopback port,
    final delivery of example.com to a Maildir by virtual(8).
Then, for each session count, smtp-source sends the same number of 4 KiB messages
to each, and the script prints accepted messages per second and the ratio.

Both are durable on "250": Postfix's cleanup fsyncs the queue file; we fsync the
spool file and its directory and commit the queue rows (group commit shares the
directory fsyncs and the commit across sessions). Postfix also delivers into the
Maildir during the run (its queue manager runs regardless); our Celery worker is
not started, so our figure is reception only, including the broker hand-off.
The script checks that every message was accepted: our queue rows, Postfix's Maildir.
Postfix is stopped at the end (``postfix -c <dir> stop``); the system Postfix is never started.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
DOMAIN = "example.com"
RECIPIENT = f"alice@{DOMAIN}"
SENDER = "bench@remote.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.recv(100)
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


# --- mailappliance ----------------------------------------------------------------------------


class Ours:
    def __init__(self, root: Path) -> None:
        self.home = root / "mailapp"
        self.home.mkdir()
        self.port = free_port()
        self.env = dict(os.environ)
        # Like the Postfix beside it: no SPF/DKIM/DMARC look-ups (they would ask the
        # system resolver for every message and measure the network, not the MTA).
        self.env.setdefault("MAILAPP_MAILAUTH", "0")
        self.env.update(
            MAILAPP_HOME=str(self.home),
            MAILAPP_HOSTNAME="mx.mailapp.bench",
            MAILAPP_BIND="127.0.0.1",
            MAILAPP_SMTP_PORT=str(self.port),
            MAILAPP_SUBMISSION_PORT=str(free_port()),
            MAILAPP_SMTPS_PORT=str(free_port()),
            MAILAPP_LOG_LEVEL="WARNING",
            # Postfix exempts $mynetworks (loopback) from its per-client limits; so do we here.
            MAILAPP_SMTP_MAX_SESSIONS_PER_IP="1000",
            DJANGO_SETTINGS_MODULE="mailappliance.settings",
            PYTHONPATH=str(REPO),
        )
        self.env.pop("DATABASE_URL", None)
        self.env.pop("MAILAPP_SQLITE_PATH", None)
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def setup(self) -> None:
        self.manage("migrate", "--noinput")
        script = (
            "from webadmin import services\n"
            f"services.create_domain({DOMAIN!r}, 'admin@{DOMAIN}')\n"
            f"services.create_mailbox({RECIPIENT!r}, 'bench password 123')\n"
        )
        self.manage("shell", "-c", script)

    def start(self, workers: int | None) -> None:
        extra = ["--workers", str(workers)] if workers else []
        self.proc = subprocess.Popen([sys.executable, str(REPO / "manage.py"), "smtpd", *extra], env=self.env,
                                     stderr=open(self.home / "smtpd.log", "wb"))
        wait_port(self.port)

    def accepted(self) -> int:
        import sqlite3

        with sqlite3.connect(self.home / "mailappliance.sqlite3") as db:
            return int(db.execute("select count(*) from agents_queuemessage").fetchone()[0])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


# --- Postfix ---------------------------------------------------------------------------------

MASTER_CF = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    def __init__(self, root: Path) -> None:
        self.root = root / "postfix"
        self.config = self.root / "etc"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.vmail = self.root / "vmail"
        self.port = free_port()

    def setup(self) -> None:
        for path in (self.config, self.data, self.queue, self.vmail / DOMAIN / "alice"):
            path.mkdir(parents=True)
        for path in (self.root.parent, self.root, self.queue):
            path.chmod(0o755)  # Postfix's daemons run as the postfix user and must get through
        nobody = 65534
        for path in (self.vmail, self.vmail / DOMAIN, self.vmail / DOMAIN / "alice"):
            os.chown(path, nobody, nobody)
        shutil.chown(self.data, "postfix")
        main_cf = f"""\
compatibility_level = 3.6
config_directory = {self.config}
queue_directory = {self.queue}
data_directory = {self.data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.bench
mydomain = postfix.bench
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_banner = $myhostname ESMTP
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.vmail}
virtual_mailbox_maps = inline:{{ {RECIPIENT}={DOMAIN}/alice/ }}
virtual_uid_maps = static:{nobody}
virtual_gid_maps = static:{nobody}
maillog_file = {self.root}/maillog
maillog_file_prefixes = {self.root}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
"""
        (self.config / "main.cf").write_text(main_cf)
        (self.config / "master.cf").write_text(MASTER_CF.format(port=f"127.0.0.1:{self.port}"))
        self.postfix("check")

    def postfix(self, *args: str) -> None:
        # Postfix reports to syslog or a terminal; "script" lends it one so errors reach us.
        command = " ".join([POSTFIX, "-c", str(self.config), *args])
        done = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {done.stdout.strip()[-500:]}")

    def start(self) -> None:
        self.postfix("start")
        wait_port(self.port)

    def delivered(self) -> int:
        folder = self.vmail / DOMAIN / "alice"
        return sum(len(list((folder / sub).iterdir())) for sub in ("new", "cur") if (folder / sub).is_dir())

    def wait_delivered(self, count: int, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self.delivered() < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.delivered()

    def stop(self) -> None:
        try:
            self.postfix("stop")
        except RuntimeError as exc:
            print(exc, file=sys.stderr)


# --- the run ---------------------------------------------------------------------------------


def drive(port: int, sessions: int, messages: int, size: int) -> float:
    """Send with smtp-source; return accepted messages per second (raises if any was refused)."""
    started = time.monotonic()
    done = subprocess.run(
        [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size), "-f", SENDER, "-t", RECIPIENT,
         "-M", "bench.client", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=600,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0 or done.stderr.strip():
        raise RuntimeError(f"smtp-source against port {port} failed: {done.stderr.strip()[:500]}")
    return messages / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20, 50])
    parser.add_argument("--size", type=int, default=4096, help="message payload in bytes (default 4096)")
    parser.add_argument("--workers", type=int, default=None, help="smtpd worker processes (default: its own)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    for tool in (SMTP_SOURCE, POSTFIX):
        if not Path(tool).exists():
            print(f"missing {tool}: apt-get install -y postfix", file=sys.stderr)
            return 1
    root = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    ours, postfix = Ours(root), Postfix(root)
    try:
        ours.setup()
        postfix.setup()
        ours.start(args.workers)
        postfix.start()
        print(f"{args.messages} messages of {args.size} bytes per run, smtp-source on loopback")
        print(f"{'sessions':>8} {'mailappliance msg/s':>20} {'postfix msg/s':>14} {'ratio':>6}")
        sent = 0
        for sessions in args.sessions:
            ours_rate = drive(ours.port, sessions, args.messages, args.size)
            postfix_rate = drive(postfix.port, sessions, args.messages, args.size)
            sent += args.messages
            postfix.wait_delivered(sent)  # let Postfix's deliveries finish before the next run
            print(f"{sessions:>8} {ours_rate:>20.0f} {postfix_rate:>14.0f} {ours_rate / postfix_rate:>6.2f}",
                  flush=True)
        print(f"accepted and durable: mailappliance {ours.accepted()} queue rows, "
              f"Postfix {postfix.delivered()} delivered to the Maildir (of {sent} sent to each)")
    finally:
        ours.stop()
        postfix.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
