"""The automatic restore test: restore the latest backup into a scratch directory and compare it with the live store.

Run monthly by Celery beat (``agents.tasks.restore_test``) when scheduled backups are
on; the outcome is kept in ``$MAILAPP_RUN_DIR/backup-check.json`` and shown on the
dashboard's Health.
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from agents.store.snapshot import compare_with_live, restore_mailbox
from agents.tls import write_atomically

from .repository import BackupError, Repository

STATUS_NAME = "backup-check.json"


def restore_test(repo: Repository, scratch_parent: Path | None = None, *, record: bool = True) -> dict[str, Any]:
    """Restore every mailbox of the latest backup into scratch space, check it, and return the outcome.

    ``record``: also keep it as the outcome of the settings' scheduled backup (``last_status``); the
    dashboard's schedules keep theirs as a ``BackupRun`` instead.
    """
    live_root = Path(settings.MAILAPP_MAIL_ROOT)
    problems: list[str] = []
    messages = checked = 0
    name = ""
    try:
        name, manifest = repo.load_manifest()
        with repo.caching(), \
                tempfile.TemporaryDirectory(prefix="mailapp-restore-test-", dir=scratch_parent) as scratch_name:
            scratch = Path(scratch_name)
            repo.verify([c for e in manifest["entries"] if e["path"].startswith("mail/") for c in e["chunks"]])
            for box in manifest["mailboxes"]:
                domain, local = box.split("/")
                prefix = f"mail/{box}/"
                files = ((e["path"][len(prefix):], (lambda e=e: repo.read(e)), e["mtime"])
                         for e in manifest["entries"] if e["path"].startswith(prefix))
                restore_mailbox(scratch / "mail", f"{local}@{domain}", scratch / "archive", files)
                found, same, wrong = compare_with_live(scratch / "mail" / domain / local, live_root / domain / local)
                messages += found
                checked += same
                problems += [f"{local}@{domain} {p}" for p in wrong]
            shutil.rmtree(scratch, ignore_errors=True)
    except (BackupError, OSError, ValueError) as exc:
        problems.append(str(exc))
    state = "failed" if problems else "passed"
    note = (f"backup {name}: {len(problems)} problem(s): " + "; ".join(problems[:5]) if problems else
            f"backup {name}: {messages} messages restored, {checked} compared with the live store, all equal")
    status = {"state": state, "note": note, "when": datetime.datetime.now(datetime.UTC).isoformat(),
              "messages": messages, "checked": checked}
    if not record:
        return status
    run_dir = Path(settings.MAILAPP_RUN_DIR)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(run_dir / STATUS_NAME, json.dumps(status).encode(), 0o644)
    return status


def last_status() -> dict[str, Any]:
    """The last restore test's outcome (``state``, ``note``, ``when``), or {} if none ran."""
    try:
        return dict(json.loads((Path(settings.MAILAPP_RUN_DIR) / STATUS_NAME).read_text()))
    except (OSError, ValueError):
        return {}
