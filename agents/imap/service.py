"""Wiring of the IMAP server to the real store, configuration and settings (uses Django)."""

from __future__ import annotations

from django.conf import settings

from agents import authsvc, config
from agents.cluster import cluster_mode, move
from agents.cluster.placement import served_elsewhere
from agents.loginguard.db import mail_guard
from agents.mailauth.training import record_store_move
from agents.proxyprotocol import TrustedProxies
from agents.store import Store, default_store

from .server import ImapServer, Limits
from .session import User


def authenticate(address: str, password: str) -> User | None:
    """Mailbox password and the mailbox's IMAP permission (blocking: the auth service or the ORM).

    Raises LoginUnavailable when the auth service cannot answer (the session says ``NO [UNAVAILABLE]``).
    """
    relayed = config.relayed_login(address, password, "imap")  # a trusted mail proxy's one-time token
    info = authsvc.authenticate(address, password, "imap") if relayed is False else relayed
    if not isinstance(info, config.MailboxInfo):
        return None
    return User(address=info.address, quota=info.quota, elsewhere=served_elsewhere(info.address))


def build_server(store: Store | None = None, ssl_context: object | None = None) -> ImapServer:
    """An ImapServer configured from settings (TLS context made unless given)."""
    if ssl_context is None:
        from agents.tls import settings_server_context

        ssl_context = settings_server_context()
    store = store or default_store()
    limits = Limits(max_literal=settings.MAILAPP_IMAP_MAX_LITERAL, max_line=settings.MAILAPP_IMAP_MAX_LINE,
                    idle_timeout=settings.MAILAPP_IMAP_IDLE_TIMEOUT,
                    preauth_timeout=settings.MAILAPP_IMAP_PREAUTH_TIMEOUT)
    return ImapServer(store.mailbox, authenticate, ssl_context=ssl_context,  # type: ignore[arg-type]
                      dev_mode=settings.MAILAPP_DEV_MODE, limits=limits, hostname=settings.MAILAPP_HOSTNAME,
                      throttle=mail_guard(), junk_training=junk_training,
                      processes=1 if settings.MAILAPP_COMBINED_AGENTS else settings.MAILAPP_IMAP_PROCESSES,
                      trusted_proxies=TrustedProxies(settings.MAILAPP_TRUSTED_PROXIES),
                      evictions=move.evictions if cluster_mode() else None)


def junk_training(address: str, folder: object, uids: list[int], destination: str) -> object:
    """IMAP's Junk moves recorded for the spam filter (the session's ``junk_training``)."""
    return record_store_move(address, folder, uids, destination, via="imap")
