"""Quota arithmetic shared by the RCPT check and local delivery, and the sentence that explains a refusal."""

from __future__ import annotations

from dataclasses import dataclass


def human_size(size: int) -> str:
    """``512 B``, ``9.0 KiB``, ``2.4 MiB``, ``1.5 GiB``: binary units, one decimal, like the dashboard."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Shortfall:
    """A message that does not fit: what the mailbox uses of its quota, and the message's size."""

    used: int
    quota: int
    incoming: int

    @property
    def left(self) -> int:
        return max(0, self.quota - self.used)

    @property
    def reason(self) -> str:
        """"Mailbox full" when nothing is left, else that the message is larger than the space left."""
        if self.left == 0 or self.incoming <= 0:
            return f"Mailbox full ({human_size(self.used)} of {human_size(self.quota)} used)"
        return (f"Message of {human_size(self.incoming)} is larger than the {human_size(self.left)} left "
                f"in the mailbox (quota {human_size(self.quota)})")


def shortfall(used: int, quota: int, incoming: int) -> Shortfall | None:
    """Why ``incoming`` bytes do not fit (quota 0 = unlimited), or None when they do."""
    if not quota or (used < quota and used + incoming <= quota):
        return None
    return Shortfall(used, quota, incoming)
