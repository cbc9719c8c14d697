"""The Sender Rewriting Scheme for forwards (``srslib``), with a rotating list of secrets.

A forward to an outside address leaves with ``SRS0=hash=tt=orig.domain=user@our.domain``
as its envelope sender, so SPF at the next hop checks our domain; a bounce to that
address is reversed to the original sender. A second forwarder makes SRS1 addresses.

The secrets live in one file (one per line, newest first, mode 0600), made on first
use. The newest secret signs; every secret in the file verifies, so a rotation
(:func:`rotate`) never breaks the bounces of mail forwarded before it.
Nothing here imports Django: the caller passes the file's path.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import srslib

from .durable import fsync_dir, write_fsynced

VALIDITY_DAYS = 21  # a bounce later than this is refused as expired
SRS_LOCAL = re.compile(r"^srs[01][=+-]", re.IGNORECASE)


class SRSError(ValueError):
    """An SRS address that is forged (bad hash), expired (old timestamp) or malformed."""


def is_srs(address: str) -> bool:
    """True for an address whose local part starts like SRS0= or SRS1=."""
    return bool(SRS_LOCAL.match(address.rpartition("@")[0]))


def read_secrets(path: Path, create: bool = True) -> list[str]:
    """The secrets in ``path``, newest first; a first one is made (mode 0600) if there is none."""
    try:
        found = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        found = []
    if not found and create:
        found = [secrets.token_urlsafe(32)]
        _write(path, found)
    return found


def rotate(path: Path, keep: int | None = None) -> list[str]:
    """Put a new secret first; keep the old ones for verifying (only the newest ``keep`` of them if given)."""
    old = read_secrets(path, create=False)
    if keep is not None:
        old = old[:keep]
    new = [secrets.token_urlsafe(32), *old]
    _write(path, new)
    return new


def _write(path: Path, values: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".new")
    write_fsynced(temp, "".join(v + "\n" for v in values).encode(), mode=0o600)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    fsync_dir(path.parent)


class Rewriter:
    """SRS forward and reverse with the secrets given (the first signs, all verify)."""

    def __init__(self, keys: list[str], validity_days: int = VALIDITY_DAYS,
                 clock: Callable[[], float] | None = None) -> None:
        if not keys:
            raise ValueError("SRS needs at least one secret")
        self._srs = srslib.SRS(keys[0], prev_secrets=keys[1:], validity_days=validity_days)
        if clock is not None:
            self._srs._time_fn = clock  # srslib's own hook for its clock

    def forward(self, sender: str, domain: str) -> str:
        """``sender`` rewritten into ``domain`` (SRS0, or SRS1 if it already is an SRS address)."""
        return str(self._srs.forward(sender, domain))

    def reverse(self, address: str) -> str:
        """The address an SRS address stands for (one step); SRSError if forged, expired or malformed."""
        try:
            return str(self._srs.reverse(address))
        except srslib.InvalidHashError as exc:
            raise SRSError("forged SRS address (bad signature)") from exc
        except srslib.InvalidTimestampError as exc:
            raise SRSError("expired SRS address") from exc
        except (srslib.Error, ValueError, IndexError) as exc:
            raise SRSError("malformed SRS address") from exc
