"""default_store() reads MAILAPP_MAIL_ROOT when called; importing the store never imports Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agents.store import default_store


def test_default_store_uses_the_mail_root_setting(settings, tmp_path):
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    assert default_store().root == tmp_path / "mail"
    assert default_store().mailbox("bob@example.com").path == tmp_path / "mail" / "example.com" / "bob"


def test_importing_the_store_does_not_import_django():
    code = "import sys, agents.store; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"
