"""A real Dovecot (Debian's dovecot-imapd/-pop3d) on loopback, configured from scratch: the reference
the tests compare us with, and the server the benches run side by side with ours.

Its own config file in a directory of its own, unprivileged ports on 127.0.0.1, ``passdb`` and
``userdb passwd-file``, one Maildir per user (``~/Maildir``), plaintext login (ssl = no), log to a
file. Tests call :func:`start`: plaintext passwords, no delay or penalty after a failed login, a
temporary directory that ``Dovecot.stop()`` removes. Benches call :func:`configure` and then
``Dovecot.run()``: passwords in Dovecot's default scheme (SHA512-CRYPT) and Dovecot's other defaults,
so that both servers pay for a real login (like with like); the few things a bench changes (which
protocol, login processes, limits for a thousand connections, where the mail comes from) are
arguments.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.ports import free_port, wait_port

CONF = """
protocols = {protocols}
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = {uid}
first_valid_gid = 0
passdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
{services}{extra}"""
LOGIN_SERVICE = """service {protocol}-login {{
  inet_listener {protocol} {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener {protocol}s {{
    port = 0
  }}
{options}}}
"""
# Dovecot's "high-performance" login: each login process serves many connections, one stays ready.
SHARED_LOGIN = "  service_count = 0\n  process_min_avail = 1\n"
# Room for a few thousand connections at once (Dovecot's defaults stop at 100 processes a service).
MANY_CONNECTIONS = """default_process_limit = 2000
default_client_limit = 4000
default_vsz_limit = 0
service imap {
  process_limit = 2000
}
service anvil {
  client_limit = 5000
}
service auth {
  client_limit = 5000
}
protocol imap {
  mail_max_userip_connections = 5000
}
"""
# Tests only: a failed login answers at once and counts no penalty (tests fail logins on purpose).
TEST_SETTINGS = """auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
"""
# Our store's namespace: "/" between folder levels, INBOX in it (Dovecot's default separator is ".").
SLASH_NAMESPACE = """namespace inbox {
  inbox = yes
  separator = /
}
"""


@dataclass
class Dovecot:
    """A configured Dovecot; ``run()`` starts it, ``stop()`` ends it. A port is 0 for a protocol it does not serve."""

    base: Path
    imap_port: int
    pop3_port: int
    uid: int
    gid: int
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    temporary: bool = False  # stop() removes ``base`` (start()'s own directory)

    def maildir(self, user: str) -> Path:
        return self.base / "home" / user / "Maildir"

    def add_message(self, user: str, raw: bytes, name: str, folder_dir: str = "") -> Path:
        """Drop a message into ``new/`` of the user's Maildir (or of its folder ``.Name``), as an MDA would."""
        root = self.maildir(user) / folder_dir if folder_dir else self.maildir(user)
        for sub in ("cur", "new", "tmp"):
            if not (root / sub).is_dir():
                (root / sub).mkdir(parents=True)
                os.chown(root, self.uid, self.gid)
                os.chown(root / sub, self.uid, self.gid)
        path = root / "new" / name
        path.write_bytes(raw)
        os.chown(path, self.uid, self.gid)
        return path

    def messages(self, user: str) -> list[Path]:
        root = self.maildir(user)
        return sorted(p for sub in ("new", "cur") for p in (root / sub).iterdir())

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, deadline: float = 20) -> None:
        """Run ``dovecot -F`` until ``stop()``; returns once every port it serves answers.

        Raises RuntimeError (with the end of Dovecot's log) if it exits or does not listen in time.
        """
        if not shutil.which("dovecot"):
            raise RuntimeError("dovecot not found: apt-get install dovecot-imapd dovecot-pop3d")
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.base / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for port in (self.imap_port, self.pop3_port):
                if port:
                    wait_port(port, self.process, deadline)
        except RuntimeError as exc:
            text = self.log()
            self.stop()
            raise RuntimeError(f"dovecot: {exc}: {text[-2000:]}") from None

    def stop(self, timeout: float = 10) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.temporary:
            shutil.rmtree(self.base, ignore_errors=True)


def configure(
    base: Path,
    users: dict[str, str],
    *,
    protocols: str = "imap pop3",
    scheme: str = "PLAIN",
    mail: dict[str, Path] | None = None,
    copy_function: Callable[[str, str], object] = os.link,
    keep_mail: bool = False,
    shared_login: bool = False,
    many_connections: bool = False,
    extra: str = "",
) -> Dovecot:
    """Write Dovecot's config, passwd-file and Maildirs under ``base`` (made, and opened to other users).

    ``users`` ({name: password}) are stored in ``scheme`` (hashed by ``doveadm pw``; PLAIN as is).
    A user named in ``mail`` gets the files of that Maildir's cur/, new/ and tmp/, copied by
    ``copy_function`` (hard links by default), the others an empty Maildir. With ``keep_mail`` a
    Maildir left by an earlier run stays as it is (Dovecot's index with it), else every one is made
    anew. ``shared_login``: login processes serving many connections each (Dovecot's
    high-performance mode) instead of one per connection (its default). ``many_connections``: process
    and client limits for thousands of connections at once. ``extra`` is appended to the config.
    Ports are picked for the ``protocols`` named; ``Dovecot.run()`` starts the server.
    """
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)  # the auth and mail processes run as other users
    uid, gid = mail_owner()
    homes = base / "home"
    if homes.exists() and not keep_mail:
        shutil.rmtree(homes)
    homes.mkdir(exist_ok=True)
    os.chown(homes, uid, gid)
    lines = []
    for user, password in users.items():
        home = homes / user
        maildir, source = home / "Maildir", (mail or {}).get(user)
        if not maildir.exists():
            for sub in ("cur", "new", "tmp"):
                if source is None:
                    (maildir / sub).mkdir(parents=True)
                else:
                    shutil.copytree(source / sub, maildir / sub, copy_function=copy_function)
            for path in [home, *home.rglob("*")]:
                os.chown(path, uid, gid)
        lines.append(f"{user}:{password_entry(password, scheme)}:{uid}:{gid}::{home}::\n")
    (base / "passwd").write_text("".join(lines))
    for sub in ("run", "state"):
        (base / sub).mkdir(exist_ok=True)
    served = protocols.split()
    imap_port = free_port() if "imap" in served else 0
    pop3_port = free_port() if "pop3" in served else 0
    options = SHARED_LOGIN if shared_login else ""
    services = "".join(LOGIN_SERVICE.format(protocol=protocol, port=port, options=options)
                       for protocol, port in (("imap", imap_port), ("pop3", pop3_port)) if port)
    (base / "dovecot.conf").write_text(CONF.format(
        protocols=protocols, base=base, uid=min(uid, 500), services=services,
        extra=(MANY_CONNECTIONS if many_connections else "") + extra,
    ))  # fmt: skip
    return Dovecot(base, imap_port, pop3_port, uid, gid, dict(users))


def start(users: dict[str, str], protocols: str = "imap pop3", deadline: float = 20, extra: str = "") -> Dovecot:
    """A running Dovecot for tests: ``users`` ({name: password}) with empty Maildirs, until ``stop()``.

    ``extra`` is appended to the configuration (e.g. ``SLASH_NAMESPACE``).
    """
    server = configure(Path(tempfile.mkdtemp(prefix="dovecot-test-")), users, protocols=protocols,
                       extra=TEST_SETTINGS + extra)
    server.temporary = True
    server.run(deadline)
    return server


def mail_owner() -> tuple[int, int]:
    """The uid and gid Dovecot's mail processes run as: ``mail`` under root (Dovecot refuses mail access
    as root), else the caller's own."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("mail")
        return entry.pw_uid, entry.pw_gid
    return os.getuid(), os.getgid()


def password_entry(password: str, scheme: str) -> str:
    """``password`` as a passwd-file field in ``scheme`` (``{SCHEME}...``), hashed as Dovecot itself would."""
    if scheme == "PLAIN":
        return "{PLAIN}" + password
    return subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password], check=True, capture_output=True,
                          text=True).stdout.strip()


IMAP_BINARY = "/usr/lib/dovecot/imap"
POP3_BINARY = "/usr/lib/dovecot/pop3"


def pop3_preauth(maildir: Path, work: Path, script: str | bytes, timeout: float = 60) -> bytes:
    """Like :func:`imap_preauth`, with Dovecot's ``pop3`` process: it starts logged in (TRANSACTION
    state, no greeting) and answers ``script``; its standard error (the log) follows the replies."""
    return imap_preauth(maildir, work, script, timeout, binary=POP3_BINARY)


def imap_preauth(
    maildir: Path, work: Path, script: str | bytes, timeout: float = 60, binary: str = IMAP_BINARY
) -> bytes:
    """Run Dovecot's ``imap`` process pre-authenticated on ``maildir``, feed it ``script``, return its output.

    No daemon and no login: the binary reads commands on stdin (as ``doveadm exec imap`` does).
    ``work`` holds the config, index and logs; it must be reachable by an unprivileged user
    (not under pytest's ``tmp_path``, whose parents are private to root), as Dovecot refuses
    to touch mail as root.
    """
    if os.geteuid() == 0:
        user = "nobody"
        entry = pwd.getpwnam(user)
        group = grp.getgrgid(entry.pw_gid).gr_name
        for path in [work, *work.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        prefix = ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"]
    else:
        user, group, prefix = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name, []
    conf = work / "dovecot.conf"
    conf.write_text(
        f"base_dir = {work}/run\nstate_dir = {work}/state\nlog_path = {work}/dovecot.log\n"
        f"mail_uid = {user}\nmail_gid = {group}\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n"
        "namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
    )
    os.chmod(conf, 0o644)
    data = script.encode() if isinstance(script, str) else script
    result = subprocess.run(
        [*prefix, "env", "-i", "USER=alice", f"HOME={work}", binary, "-c", str(conf),
         "-o", f"mail_location=maildir:{maildir}:INDEX={work}/index"],
        input=data, capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr
