"""Run the POP3 agent from settings: build the server, serve until SIGTERM, close cleanly."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from django.conf import settings

from agents import aioloop
from agents.loginguard.db import mail_guard
from agents.proxyprotocol import TrustedProxies

from .backend import StoreBackend
from .server import Pop3Server, ServerConfig

log = logging.getLogger("agents.pop3")


def build_server(
    *,
    bind: str | None = None,
    port: int | None = None,
    tls_port: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    store: Any = None,
) -> Pop3Server:
    """A :class:`Pop3Server` configured from settings; arguments override (tests use port 0)."""
    from agents.store import default_store
    from agents.tls import settings_server_context

    config = ServerConfig(
        hostname=settings.MAILAPP_HOSTNAME,
        bind=bind if bind is not None else settings.MAILAPP_BIND,
        port=settings.MAILAPP_POP3_PORT if port is None else port,
        tls_port=settings.MAILAPP_POP3S_PORT if tls_port is None else tls_port,
        ssl_context=ssl_context if ssl_context is not None else settings_server_context(),
        idle_timeout=settings.MAILAPP_POP3_IDLE_TIMEOUT,
        dev_mode=settings.MAILAPP_DEV_MODE,
        processes=1 if settings.MAILAPP_COMBINED_AGENTS else settings.MAILAPP_POP3_PROCESSES,
        trusted_proxies=TrustedProxies(settings.MAILAPP_TRUSTED_PROXIES),
    )
    from agents.cluster import cluster_mode, move

    return Pop3Server(config, StoreBackend(store if store is not None else default_store()), mail_guard(),
                      evictions=move.evictions if cluster_mode() else None)


async def serve(server: Pop3Server) -> None:
    """Serve until SIGTERM or SIGINT, then close the listeners and end the sessions."""
    stop = aioloop.stop_on_signals()
    await server.start()
    await stop.wait()
    log.info("pop3: stopping")
    await server.stop()
    log.info("pop3: stopped")

