"""scripts/setup.sh (what `make run` and `make test` call first) says what it installs and lets
pip's progress through, instead of a minute of silence that looks like a hang."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FAKE_PIP = """#!/bin/sh
echo "pip $*" >> "$(dirname "$0")/../pip-calls"
echo "Collecting Django==5.1 (from -r requirements.txt (line 1))"
echo "Requirement already satisfied: asgiref in ./.venv/lib"
echo "  Downloading Django-5.1-py3-none-any.whl (8.2 MB)"
echo "WARNING: Location '/nowhere' is ignored: it is neither a file nor a directory." >&2
"""


def _checkout(tmp_path: Path, pip: str = FAKE_PIP) -> Path:
    """A copy of the script beside a requirements file and a venv whose pip only records its calls."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    (root / "requirements.txt").write_text("# pinned\nDjango==5.1\n\ncelery==5.7.0\n")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", "#!/bin/sh\nexit 0\n"), ("pip", pip)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return root


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup.sh"), "run"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )  # fmt: skip


def test_pip_is_announced_and_its_progress_shown(tmp_path):
    root = _checkout(tmp_path)
    done = _run(root)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Installing Python packages into .venv: pip, then the 2 pinned in requirements.txt" in out
    assert out.index("Installing Python packages") < out.index("Collecting Django==5.1")
    assert "Downloading Django-5.1" in out and out.rstrip().endswith("Python packages installed.")
    assert "Requirement already satisfied" not in out and "is ignored" not in out + done.stderr
    calls = (root / ".venv" / "pip-calls").read_text().splitlines()
    assert calls and all(" -q" not in call for call in calls)
    # Nothing to do the second time: no pip at all.
    again = _run(root)
    assert again.returncode == 0 and "Installing Python packages" not in again.stdout
    assert len((root / ".venv" / "pip-calls").read_text().splitlines()) == len(calls)


def test_a_failing_pip_stops_the_script(tmp_path):
    failing = '#!/bin/sh\necho "ERROR: No matching distribution found for Django==5.1" >&2\nexit 1\n'
    root = _checkout(tmp_path, pip=failing)
    done = _run(root)
    assert done.returncode != 0
    assert "No matching distribution" in done.stdout
    assert not (root / ".venv" / ".requirements-installed").exists()
