"""nginx's mail proxy in front of the test cluster: Debian's nginx with ``libnginx-mod-mail``
(scripts/setup.sh installs both, never as a running service), run here in the foreground with its
own prefix and configuration, on 127.0.0.1 and ports from tests/ports.py.

:func:`nginx_config` is also the example docs/scaling.md shows."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

from agents.tls import ensure_certificate

NGINX = "/usr/sbin/nginx"
MAIL_MODULE = "/usr/lib/nginx/modules/ngx_mail_module.so"
CLIENT_ADDRESS = "127.0.0.5"  # the test's clients connect from here, so the nodes can tell them from nginx


def nginx_config(run: Path, *, auth_http: str, secret: str, imap_port: int, pop3_port: int, smtp_port: int,
                 imaps_port: int) -> str:
    return f"""\
load_module {MAIL_MODULE};
pid {run}/nginx.pid;
error_log {run}/error.log info;
daemon off;
worker_processes 1;
events {{ worker_connections 256; }}

mail {{
    server_name mail.example.com;
    auth_http {auth_http};              # the appliance's /auth/mailproxy on any node
    auth_http_header X-Auth-Key "{secret}";  # MAILAPP_AUTH_HTTP_SECRET
    proxy_pass_error_message on;        # the home node's own NO / -ERR reach the client
    proxy_protocol on;                  # PROXY v1 to the home node: MAILAPP_TRUSTED_PROXIES must list us
    ssl_certificate {run}/cert.pem;     # the clients' TLS ends here
    ssl_certificate_key {run}/key.pem;

    server {{
        listen 127.0.0.1:{imaps_port} ssl;
        protocol imap;
    }}
    server {{
        listen 127.0.0.1:{imap_port};
        protocol imap;
        imap_auth plain login;
    }}
    server {{
        listen 127.0.0.1:{pop3_port};
        protocol pop3;
        pop3_auth plain;
    }}
    server {{
        listen 127.0.0.1:{smtp_port};
        protocol smtp;
        smtp_auth plain login;
        xclient on;                     # XCLIENT ADDR=… LOGIN=… to the node's submission port
    }}
}}
"""


class Nginx:
    """nginx in the foreground (``daemon off``) with the configuration above; :meth:`stop` ends it."""

    def __init__(self, run: Path, **config: object) -> None:
        self.run = run
        run.mkdir(parents=True, exist_ok=True)
        self.imap_port = int(config["imap_port"])  # type: ignore[call-overload]
        self.pop3_port = int(config["pop3_port"])  # type: ignore[call-overload]
        self.smtp_port = int(config["smtp_port"])  # type: ignore[call-overload]
        self.imaps_port = int(config["imaps_port"])  # type: ignore[call-overload]
        ensure_certificate(run / "cert.pem", run / "key.pem", "mail.example.com")
        (run / "nginx.conf").write_text(nginx_config(run, **config))  # type: ignore[arg-type]
        with open(run / "stderr.log", "wb") as log:
            self.process = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-e", "stderr"],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        for port in (self.imap_port, self.pop3_port, self.smtp_port, self.imaps_port):
            while True:
                assert self.process.poll() is None, f"nginx exited:\n{self.log()}"
                assert time.monotonic() < deadline, f"nginx never listened:\n{self.log()}"
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.05)

    def log(self) -> str:
        return "".join((self.run / name).read_text(errors="replace")[-3000:]
                       for name in ("stderr.log", "error.log") if (self.run / name).exists())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown, the workers with it
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def imap(self) -> imaplib.IMAP4:
        return ImapFrom(CLIENT_ADDRESS, "127.0.0.1", self.imap_port, timeout=20)

    def imaps(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.run / "cert.pem"))
        context.check_hostname = False  # the certificate names mail.example.com; we connect to 127.0.0.1
        return ImapsFrom(CLIENT_ADDRESS, "127.0.0.1", self.imaps_port, context)

    def pop3(self) -> poplib.POP3:
        return Pop3From(CLIENT_ADDRESS, "127.0.0.1", self.pop3_port, timeout=20)

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=20, source_address=(CLIENT_ADDRESS, 0))


class ImapFrom(imaplib.IMAP4):
    """imaplib's client connecting from a chosen loopback address."""

    def __init__(self, source: str, host: str, port: int, timeout: float) -> None:
        self.source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))


class ImapsFrom(imaplib.IMAP4_SSL):
    """imaplib's TLS client connecting from a chosen loopback address."""

    def __init__(self, source: str, host: str, port: int, context: ssl.SSLContext) -> None:
        self.source = source
        super().__init__(host, port, ssl_context=context, timeout=20)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class Pop3From(poplib.POP3):
    """poplib's client connecting from a chosen loopback address."""

    def __init__(self, source: str, host: str, port: int, timeout: float) -> None:
        self.source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))
