"""The one subclass of aiosmtpd's ``SMTP``, for what its hooks cannot do.

Each override is small and says which capability aiosmtpd lacks.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP

from . import replies
from .limits import PeerLimits
from .policy import Listener

log = logging.getLogger(__name__)


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_SIMPLE_PATH = re.compile(rf"\s*<({_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*)>[ \t]*([^(\s].*|)\Z", re.S)


_NAMES: dict[type, list[str]] = {}


def _protocol_names(cls: type) -> list[str]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = sorted(n for n in dir(cls) if n.startswith(("smtp_", "auth_")))
    return names


class MailSMTP(SMTP):
    def __init__(
        self,
        handler: Any,
        *,
        listener: Listener,
        limits: PeerLimits,
        dev_mode: bool,
        max_line: int,
        on_refused: Callable[[], None] = lambda: None,
        **kwargs: Any,
    ) -> None:
        # aiosmtpd sizes its StreamReader from the class attribute ``line_length_limit``
        # (1001) inside ``__init__``; an instance value set first makes it configurable.
        self.line_length_limit = max(max_line, 1001)
        self.listener = listener
        self.limits = limits
        self.dev_mode = dev_mode
        self.on_refused = on_refused
        self._counted_ip: str | None = None
        self._refused = False
        super().__init__(handler, **kwargs)

    def __dir__(self) -> list[str]:
        """Only the ``smtp_*`` and ``auth_*`` names: aiosmtpd's ``__init__`` walks ``dir(self)``
        and ``inspect.getmembers(self)`` for them on every connection, and walking all ~150
        attributes was a tenth of the agent's CPU under load."""
        return _protocol_names(type(self))

    def connection_made(self, transport: Any) -> None:
        """Per-connection decisions aiosmtpd has no hook for (it fixes them per server):

        - sessions per client IP (``421 4.7.0`` and close, like Postfix's anvil);
        - AUTH without TLS and submission without STARTTLS only for a loopback
          client in dev mode; on the implicit-TLS port TLS is already up, but
          aiosmtpd only knows STARTTLS, so AUTH must not wait for it there.
        """
        if self._original_transport is not None:  # the same client, after STARTTLS
            super().connection_made(transport)
            return
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self.limits.open_session(ip):
            self._refused = True
            self.on_refused()
            reply = replies.too_many_sessions(self.hostname, ip)
            transport.write(reply.encode("ascii", "replace") + b"\r\n")
            transport.close()
            return
        self._counted_ip = ip
        relaxed = self.dev_mode and is_loopback(ip)
        self._auth_require_tls = not (self.listener.implicit_tls or relaxed)
        self.require_starttls = bool(self.tls_context) and self.listener.starttls_required and not relaxed
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Give the session slot back; a refused connection never started aiosmtpd's machinery."""
        if self._counted_ip is not None:
            self.limits.close_session(self._counted_ip)
            self._counted_ip = None
        if self._refused:
            return
        super().connection_lost(error)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd 1.4.6 defines a ``typing.Protocol`` class inside ``_getaddr`` on every
        call: a quarter of the agent's CPU under load went into building that class for
        each MAIL and RCPT. Same parsing, same results, without it."""
        if not arg:
            return "", ""
        simple = _SIMPLE_PATH.match(arg)
        if simple:  # the everyday <local@domain> form: what the full parser would return
            return simple.group(1), simple.group(2)
        address: Any
        try:
            if arg.lstrip().startswith("<"):
                address, rest = get_angle_addr(arg)
            else:
                address, rest = get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        addr = address.addr_spec
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    async def push(self, status: AnyStr) -> None:
        """aiosmtpd's stock replies lack enhanced status codes (RFC 2034); add them here,
        the one place every reply passes through."""
        if isinstance(status, str):
            status = replies.enhance(status)  # type: ignore[assignment]
        await super().push(status)
