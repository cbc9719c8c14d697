"""What a first start needs: the data folders, the database, static files, a TLS certificate."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from agents.tls import ensure_certificate

log = logging.getLogger(__name__)


def prepare(migrate: bool = True, collectstatic: bool = True) -> list[str]:
    """Create MAILAPP_HOME's folders, migrate, collect static files, make the TLS certificate.

    Idempotent: every start runs it. Returns sentences about what it did.
    """
    done: list[str] = []
    for folder in (
        settings.MAILAPP_HOME,
        settings.MAILAPP_MAIL_ROOT,
        settings.MAILAPP_SPOOL_DIR,
        settings.MAILAPP_TLS_DIR,
        settings.MAILAPP_ARCHIVE_DIR,
        settings.MAILAPP_RUN_DIR,
        Path(settings.MAILAPP_RUN_DIR) / "broker",
    ):
        Path(folder).mkdir(parents=True, exist_ok=True)
    if migrate:
        call_command("migrate", interactive=False, verbosity=0)
    if collectstatic:
        call_command("collectstatic", interactive=False, verbosity=0)
    if ensure_certificate(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY, settings.MAILAPP_HOSTNAME):
        done.append(f"made a self-signed TLS certificate for {settings.MAILAPP_HOSTNAME} in {settings.MAILAPP_TLS_DIR}")
    return done
