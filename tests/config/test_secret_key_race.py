"""Processes starting together on a fresh home agree on one secret key (sessions, app passwords and
stored secrets all derive from it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def test_processes_starting_at_once_on_a_fresh_home_share_one_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MAILAPP_SECRET_KEY"}
    env.update(MAILAPP_HOME=str(tmp_path / "home"), DJANGO_SETTINGS_MODULE="mailappliance.settings")
    root = Path(__file__).resolve().parents[2]
    starters = [subprocess.Popen([sys.executable, "-c", PRINT_KEY], cwd=root, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outcomes = [(proc.communicate(timeout=120), proc.returncode) for proc in starters]
    assert [code for _, code in outcomes] == [0] * len(starters), [err for (_, err), _ in outcomes]
    keys = {out.strip() for (out, _), _ in outcomes}
    stored = (tmp_path / "home" / "secret_key").read_text().strip()
    assert keys == {stored}
    assert stored != "insecure-unwritable-home" and len(stored) >= 40
    assert [p.name for p in (tmp_path / "home").iterdir() if p.name.startswith(".secret_key")] == []
