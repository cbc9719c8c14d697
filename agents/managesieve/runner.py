"""Run the ManageSieve agent from settings (``manage.py managesieved``, or inside mailagents)."""

from __future__ import annotations

import ssl

from django.conf import settings

from agents.loginguard.db import mail_guard

from .backend import ConfigBackend
from .server import ManageSieveServer, ServerConfig


def build_server(*, bind: str | None = None, port: int | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> ManageSieveServer:
    """A :class:`ManageSieveServer` configured from settings; arguments override (tests use port 0)."""
    from agents.tls import settings_server_context

    config = ServerConfig(
        hostname=settings.MAILAPP_HOSTNAME,
        bind=bind if bind is not None else settings.MAILAPP_BIND,
        port=settings.MAILAPP_MANAGESIEVE_PORT if port is None else port,
        ssl_context=ssl_context if ssl_context is not None else settings_server_context(),
        idle_timeout=settings.MAILAPP_POP3_IDLE_TIMEOUT,
        dev_mode=settings.MAILAPP_DEV_MODE,
    )
    return ManageSieveServer(config, ConfigBackend(), mail_guard())
