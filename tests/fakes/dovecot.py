"""A real Dovecot (Debian's dovecot-imapd/-pop3d) on loopback for tests, configured from scratch.

Its own config file in a temporary directory, unprivileged ports on 127.0.0.1,
``passdb passwd-file``, one Maildir per user, plaintext login (ssl = no), log to
a file. ``bench/imap.py`` and ``bench/pop3.py`` write similar configs for their
comparisons; this module is the reusable form (``start()`` / ``Dovecot.stop()``).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.ports import free_port

CONF = """
protocols = {protocols}
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:~/Maildir
first_valid_uid = {uid}
first_valid_gid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol pop3 {{
  pop3_uidl_format = %08Xu%08Xv
}}
{extra}"""
# Our store's namespace: "/" between folder levels, INBOX in it (Dovecot's default separator is ".").
SLASH_NAMESPACE = """namespace inbox {
  inbox = yes
  separator = /
}
"""




@dataclass
class Dovecot:
    base: Path
    imap_port: int
    pop3_port: int
    process: subprocess.Popen
    uid: int
    gid: int
    users: dict[str, str] = field(default_factory=dict)

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start(users: dict[str, str], protocols: str = "imap pop3", deadline: float = 20, extra: str = "") -> Dovecot:
    """Run ``dovecot -F`` with ``users`` ({name: password}) until ``stop()``; waits for both ports.

    ``extra`` is appended to the configuration (e.g. ``SLASH_NAMESPACE``).
    """
    if not shutil.which("dovecot"):
        raise RuntimeError("dovecot not found: apt-get install dovecot-imapd dovecot-pop3d")
    base = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
    base.chmod(0o755)  # auth and mail processes run as other users
    if os.geteuid() == 0:
        entry = pwd.getpwnam("mail")  # Dovecot refuses mail access as root
        uid, gid = entry.pw_uid, entry.pw_gid
    else:
        uid, gid = os.getuid(), os.getgid()
    lines = []
    for user, password in users.items():
        home = base / "home" / user
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
        for path in [base / "home", home, *home.rglob("*")]:
            os.chown(path, uid, gid)
        lines.append(f"{user}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
    (base / "passwd").write_text("".join(lines))
    (base / "run").mkdir()
    (base / "state").mkdir()
    imap_port, pop3_port = free_port(), free_port()
    conf = base / "dovecot.conf"
    conf.write_text(CONF.format(protocols=protocols, base=base, uid=min(uid, 500), imap_port=imap_port,
                                pop3_port=pop3_port, extra=extra))
    process = subprocess.Popen(["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    server = Dovecot(base, imap_port, pop3_port, process, uid, gid, dict(users))
    end = time.monotonic() + deadline
    for port in (imap_port, pop3_port):
        while True:
            if process.poll() is not None:
                text = server.log()
                server.stop()
                raise RuntimeError(f"dovecot exited with {process.returncode}: {text[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end:
                    server.stop()
                    raise RuntimeError(f"dovecot did not listen on {port}") from None
                time.sleep(0.05)
    return server


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
