"""An in-memory maildrop and backend, so the session state machine runs without storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.loginguard import GuardPolicy, LoginGuard, MemoryStore
from agents.pop3.session import Backend, DropMessage, MaildropInUse, MessageUnavailable, Session, SessionConfig


@dataclass
class MemoryMaildrop:
    store: dict[int, bytes]  # uid -> CRLF message, shared with the backend
    uidvalidity: int = 7
    seen_marked: list[int] = field(default_factory=list)
    expunged: list[int] = field(default_factory=list)
    released: bool = False

    def __post_init__(self) -> None:
        self._messages = [
            DropMessage(uid, len(raw), f"{self.uidvalidity}.{uid}") for uid, raw in sorted(self.store.items())
        ]

    @property
    def messages(self) -> Sequence[DropMessage]:
        return self._messages

    async def fetch(self, uid: int) -> bytes:
        try:
            return self.store[uid]
        except KeyError:
            raise MessageUnavailable(uid) from None

    def fetch_now(self, message: DropMessage) -> bytes | None:
        try:
            return self.store[message.uid]
        except KeyError:
            raise MessageUnavailable(message.uid) from None

    async def expunge(self, uids: Sequence[int]) -> None:
        for uid in uids:
            self.store.pop(uid, None)
        self.expunged += list(uids)

    async def mark_seen(self, uids: Sequence[int]) -> None:
        self.seen_marked += list(uids)

    async def release(self) -> None:
        self.released = True

    def read_ahead(self, uid: int) -> None:
        pass


@dataclass
class MemoryBackend(Backend):
    users: dict[str, str]  # address -> password
    mail: dict[str, dict[int, bytes]]
    locked: set[str] = field(default_factory=set)
    opened: list[MemoryMaildrop] = field(default_factory=list)

    async def authenticate(self, user: str, password: str) -> str | None:
        return user.lower() if self.users.get(user.lower()) == password else None

    async def open_maildrop(self, address: str) -> MemoryMaildrop:
        if address in self.locked:
            raise MaildropInUse(address)
        drop = MemoryMaildrop(self.mail.setdefault(address, {}))
        self.opened.append(drop)
        return drop


def make_session(backend: MemoryBackend, *, tls: bool = False, loopback: bool = True, dev_mode: bool = True) -> Session:
    return Session(
        config=SessionConfig("pop.example.com", tls_available=True, dev_mode=dev_mode),
        backend=backend,
        throttle=LoginGuard(MemoryStore(), GuardPolicy(delay=0.0)),
        peer_ip="127.0.0.1" if loopback else "192.0.2.9",
        peer_loopback=loopback,
        tls=tls,
    )
