"""Where an ACME HTTP-01 answer waits for the CA (RFC 8555 §8.3): one file per token.

The ACME run (``agents.acme``, in the worker) writes them; the web face serves them at
``/.well-known/acme-challenge/<token>``. Both sides know the layout from here.
"""

from __future__ import annotations

import re
from pathlib import Path

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # base64url


def challenge_dir(state_dir: Path) -> Path:
    return state_dir / "challenges"


def challenge_response(state_dir: Path, token: str) -> bytes | None:
    """The key authorization for ``token`` while an order waits for it, else None (also for a bad token)."""
    if not TOKEN.match(token):
        return None
    try:
        return (challenge_dir(state_dir) / token).read_bytes()
    except OSError:
        return None
