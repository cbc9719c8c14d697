"""What a first start needs: the data folders, the database, static files, a TLS certificate,
and the one-time setup link for the first admin while there is none."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
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
    from mailcore import srs

    if not Path(settings.MAILAPP_SRS_SECRETS_FILE).exists():
        srs.read_secrets(Path(settings.MAILAPP_SRS_SECRETS_FILE))
        done.append("made the SRS secret for forwards")
    if ensure_certificate(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY, settings.MAILAPP_HOSTNAME):
        done.append(f"made a self-signed TLS certificate for {settings.MAILAPP_HOSTNAME} in {settings.MAILAPP_TLS_DIR}")
    return done


# --- the first admin's one-time setup link (the dashboard's /dashboard/setup/<token>/) ----


def token_path() -> Path:
    return Path(settings.MAILAPP_HOME) / "setup-token"


def needs_first_admin() -> bool:
    return not get_user_model().objects.filter(is_superuser=True, is_active=True).exists()


def setup_token() -> str | None:
    """The current setup token, made now if missing; None once a superuser exists (the file is removed)."""
    path = token_path()
    if not needs_first_admin():
        path.unlink(missing_ok=True)
        return None
    try:
        token = path.read_text().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def token_valid(given: str) -> bool:
    """True if ``given`` is the setup token and there is still no superuser."""
    if not needs_first_admin():
        return False
    try:
        token = token_path().read_text().strip()
    except FileNotFoundError:
        return False
    return bool(token) and hmac.compare_digest(token.encode(), given.encode())
