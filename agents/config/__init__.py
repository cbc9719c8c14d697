"""Configuration lookups for the agents, cached and invalidated by a generation counter.

Agents never query the web models directly: they ask here. Each answer is cached
until the configuration generation (``webadmin.models.ConfigGeneration``) moves,
which every save or delete in the admin, the API or a command does. The
generation is re-read at most every ``MAILAPP_CONFIG_REFRESH`` seconds, so a
change reaches running agents on every host well within 2 seconds.

The functions are synchronous and use the Django ORM; asyncio servers call them
through ``asyncio.to_thread`` or accept the short block of a cached answer.

This package is the engine's one reader of ``webadmin`` (``tests/test_layers.py``
holds it): mail domains, mailboxes and aliases here; the mail-authentication
policy and DKIM keys in ``agents.config.mailauth``; external sources in
``agents.config.fetch``. All share this module's cache and generation counter.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from django.conf import settings

from agents import proxylogin
from agents.authcache import VerifiedCache, login_peer, login_via_proxy
from agents.db import fresh_connection
from mailcore import srs
from mailcore.addresses import AddressError, normalize_domain, split_address

Service = Literal["smtp", "imap", "pop3", "webmail", "managesieve"]
T = TypeVar("T")


@dataclass(frozen=True)
class MailboxInfo:
    id: int
    address: str  # canonical: lowercase local part @ ASCII domain
    local_part: str
    domain: str
    name: str
    quota: int  # bytes, 0 = unlimited
    active: bool
    can_smtp: bool
    can_imap: bool
    can_pop3: bool
    can_webmail: bool
    require_app_passwords: bool = False
    home_node: str = ""  # the node whose disk holds it (agents.cluster)

    def may_use(self, service: Service) -> bool:
        # ManageSieve follows the IMAP right: whoever reads the mail there may manage its filters.
        right = "imap" if service == "managesieve" else service
        return self.active and bool(getattr(self, f"can_{right}"))


@dataclass(frozen=True)
class FilterRule:
    name: str
    match: str  # "all" | "any"
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    stop: bool


@dataclass
class Expansion:
    """Where mail to an address goes after aliases, domain aliases and catch-alls."""

    mailboxes: list[str] = field(default_factory=list)  # canonical local mailbox addresses
    external: list[str] = field(default_factory=list)  # addresses on other systems
    discarded: bool = False  # some branch ended in a discard alias
    unknown: list[str] = field(default_factory=list)  # local addresses that lead nowhere
    loop: bool = False  # the alias graph looped or ran too deep


RecipientKind = Literal["mailbox", "alias", "unknown", "remote", "forged-srs"]

_lock = threading.Lock()
_cache: dict[tuple[str, Any], Any] = {}
_generation: int | None = None
_checked_at = 0.0
_epoch = 0  # bumped each time the cache is dropped (see generation())


@dataclass(frozen=True)
class _Verified:
    """What the verified-credential cache remembers of a success (never the password)."""

    mailbox_id: int
    app_password_id: int | None  # None: the account password
    stamp: str = ""  # digest of the stored password hash the success was checked against (account password)


_verified: VerifiedCache[_Verified] = VerifiedCache(0)
_last_use_written: dict[int, tuple[float, str]] = {}  # app password id -> (monotonic time, peer) last recorded
LAST_USE_INTERVAL = 60.0  # seconds between two writes of an app password's last use from the same address


def credential_cache() -> VerifiedCache[Any]:
    """This process's verified-credential cache (the auth service reports its size and keys turns by it)."""
    return _verified


def _current_generation() -> int:
    from webadmin.models import ConfigGeneration

    return ConfigGeneration.current()


def refresh(force: bool = False) -> None:
    """Drop the cache if the configuration changed (checked at most every refresh interval)."""
    global _generation, _checked_at, _epoch
    now = time.monotonic()
    if not force and now - _checked_at < settings.MAILAPP_CONFIG_REFRESH:
        return
    fresh_connection()
    generation = _current_generation()
    with _lock:
        _checked_at = now
        if generation != _generation:
            _cache.clear()
            _verified.clear()
            _last_use_written.clear()
            _generation = generation
            _epoch += 1


def generation() -> int:
    """A number that changes whenever this process's cache is dropped (the configuration
    generation moved, or :func:`invalidate`), read without asking the database: for caches of
    answers derived from this one's, which must be dropped with it."""
    return _epoch


def invalidate() -> None:
    """Forget everything now (tests, and the process that made a change)."""
    global _checked_at, _epoch
    with _lock:
        _cache.clear()
        _verified.clear()
        _last_use_written.clear()
        _checked_at = 0.0
        _epoch += 1


def cached_only(kind: str, key: Any, default: Any = None) -> Any:
    """The cached answer for (``kind``, ``key``) without asking the database, or ``default``.

    For the event loop, which must not block: it may be as old as the last refresh.
    """
    with _lock:
        return _cache.get((kind, key), default)


def _cached(kind: str, key: Any, compute: Callable[[], T]) -> T:
    refresh()
    with _lock:
        if (kind, key) in _cache:
            return _cache[(kind, key)]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _cache[(kind, key)] = value
    return value


# --- configuration hand-offs to the engine --------------------------------------------------


def connect_receivers() -> None:
    """Listen to the configuration's signals (called once, when Django starts the agents app)."""
    from webadmin.signals import mailbox_removed

    mailbox_removed.connect(_retire_mail, dispatch_uid="agents.config.retire-mail")


def _retire_mail(sender: Any, address: str, mode: Literal["keep", "archive"], home_node: str = "",
                 **kwargs: Any) -> str:
    """A removed mailbox's mail leaves the live tree (kept aside or archived); returns where it went.

    An address the store refuses (a row made before the model applied the store's
    rule) never had a Maildir: there is nothing to move. In cluster mode a mailbox homed
    on another node is retired there (a task on that node's queue; it waits while the node is down).
    """
    from agents.cluster import is_home
    from agents.store import InvalidAddress, retire_mailbox

    if not is_home(home_node):
        from agents.cluster.homework import send_home

        send_home("agents.tasks.retire_mailbox", [address, mode], home_node)
        return f"node {home_node}"

    try:
        return str(retire_mailbox(address, mode))
    except InvalidAddress:
        return ""


# --- home nodes (agents.cluster) ------------------------------------------------------------


def home_nodes_fresh(mailboxes: list[str]) -> dict[str, str]:
    """Canonical mailbox address → its home node, read now (not from the cache): a delivery about
    to write a mailbox checks that the mailbox did not move away moments ago. One query."""
    from webadmin.models import Mailbox

    wanted: dict[tuple[str, str], str] = {}
    for address in mailboxes:
        local, _, domain = address.lower().rpartition("@")
        wanted[(domain, local)] = address
    rows = Mailbox.objects.filter(domain__name__in={d for d, _ in wanted}, local_part__in={lp for _, lp in wanted})
    found = {}
    for domain, local, node in rows.values_list("domain__name", "local_part", "home_node"):
        if (domain, local) in wanted:
            found[wanted[(domain, local)]] = node
    return found


def home_node_counts() -> dict[str, int]:
    """Node → how many mailboxes it is home to (read now: placement and the dashboard)."""
    from django.db.models import Count

    from webadmin.models import Mailbox

    return {row["home_node"]: row["n"] for row in Mailbox.objects.values("home_node").annotate(n=Count("id"))}


def switch_home_node(address: str, source: str, target: str) -> bool:
    """Make ``target`` the home node of ``address`` if ``source`` still is (call inside the
    transaction that records the move). Saved as a configuration change, so every agent's
    cache follows within the propagation bound."""
    from webadmin.models import Mailbox

    info = get_mailbox(address)
    if info is None:
        return False
    row = Mailbox.objects.select_for_update().filter(pk=info.id, home_node=source).first()
    if row is None:
        return False
    row.home_node = target
    row.save(update_fields=["home_node"])
    return True


# --- domains ------------------------------------------------------------------------------


def canonical_domain(domain: str) -> str | None:
    """The active local domain that ``domain`` names (following a domain alias), or None."""
    try:
        ascii_domain = normalize_domain(domain)
    except AddressError:
        return None

    def compute() -> str | None:
        from webadmin.models import Domain, DomainAlias

        if Domain.objects.filter(name=ascii_domain, active=True).exists():
            return ascii_domain
        alias = DomainAlias.objects.filter(name=ascii_domain, active=True, target__active=True).first()
        return alias.target.name if alias else None

    return _cached("domain", ascii_domain, compute)


def is_local_domain(domain: str) -> bool:
    return canonical_domain(domain) is not None


def local_domains() -> list[str]:
    def compute() -> list[str]:
        from webadmin.models import Domain

        return list(Domain.objects.filter(active=True).values_list("name", flat=True))

    return _cached("domains", None, compute)


def canonical_address(address: str) -> str | None:
    """``local@domain`` lowercased with the domain alias resolved; None if not a valid address."""
    try:
        local, domain = split_address(address)
    except AddressError:
        return None
    return f"{local.lower()}@{canonical_domain(domain) or domain}"


# --- mailboxes ----------------------------------------------------------------------------


def get_mailbox(address: str) -> MailboxInfo | None:
    """The mailbox at ``address`` (any domain alias resolved), active or not; None if none."""
    canonical = canonical_address(address)
    if canonical is None:
        return None

    def compute() -> MailboxInfo | None:
        from webadmin.models import Mailbox

        local, _, domain = canonical.rpartition("@")
        row = Mailbox.objects.select_related("domain").filter(domain__name=domain, local_part=local).first()
        if row is None:
            return None
        return MailboxInfo(
            id=row.pk,
            address=canonical,
            local_part=row.local_part,
            domain=row.domain.name,
            name=row.name,
            quota=row.effective_quota,
            active=row.active and row.domain.active,
            can_smtp=row.can_smtp,
            can_imap=row.can_imap,
            can_pop3=row.can_pop3,
            can_webmail=row.can_webmail,
            require_app_passwords=row.require_app_passwords,
            home_node=row.home_node,
        )

    return _cached("mailbox", canonical, compute)


def authenticate(address: str, password: str, service: Service, *,
                 before_hash: Callable[[], bool] | None = None) -> MailboxInfo | None:
    """The mailbox if ``password`` is right and it may use ``service``; otherwise None.

    ``password`` is the account password or an app password whose scopes include
    ``service`` (never for webmail). A mailbox with ``require_app_passwords``
    accepts its account password for webmail only.

    A success is remembered in the verified-credential cache (``agents.authcache``,
    ``MAILAPP_AUTH_CACHE_TTL`` seconds) as a keyed hash, so the next login with the
    same credentials costs no password hash (mail protocols only). The cache is dropped with the rest
    of this module's cache whenever the configuration generation moves, which
    every save of a mailbox (its password, active flag, service rights) and of an
    app password does: a change refuses new logins within the refresh interval.
    Failures are never cached. Both the cached path and the checked path read the mailbox row
    itself (its password, active flags and service rights), so a change refuses the very next
    login, in every process, whatever the counter says.

    ``before_hash`` (the auth service's login guard check, ``agents.authsvc``) is asked once a
    hash slot is held, just before the hash: a guesser queued behind the hash cap is refused
    without hashing once its address passed the limit meanwhile.
    """
    info = get_mailbox(address)
    if info is None or not info.may_use(service):
        # The same time as a real check: timing does not tell who exists.
        _hashing(before_hash, lambda: _spend_a_hash(password))
        return None
    # Webmail signs in once per browser session, in the web process that also changes passwords:
    # it is checked every time, so a change made there holds for its very next sign-in.
    cached = service != "webmail"
    _verified.ttl = settings.MAILAPP_AUTH_CACHE_TTL
    generation = _generation if cached else None  # what the answer below is based on; see _remember
    login = info.address
    # The account password is cached for the mailbox, whatever the protocol (the row says at each hit
    # whether it may use this one): an IMAP client and a POP3 poller of one user cost one hash. An app
    # password is cached per protocol, as its scopes say where it may log in.
    hit = (_verified.get(login, "", password) or _verified.get(login, service, password)) if cached else None
    if hit is not None and hit.mailbox_id == info.id and _still_valid(hit, service):
        if hit.app_password_id is not None:
            _record_use(hit.app_password_id)
        return info
    if service != "webmail":
        app = _check_app_password(info, password, service)
        if app is not None:
            app_id, expires_at = app
            _remember(generation, login, service, password, _Verified(info.id, app_id), expires_at)
            _record_use(app_id)
            return info
    from django.contrib.auth.hashers import check_password

    fresh_connection()
    row = _mailbox_row(info.id)
    if row is None or not row[0]:
        return None  # gone, or no password set: nothing to check against
    stored = row[0]
    if not _hashing(before_hash, lambda: check_password(password, stored)):
        return None
    if not _row_allows(row, service):
        return None  # changed since the cached lookup: the row decides, at once
    if info.require_app_passwords and service != "webmail":
        return None  # checked all the same, so timing does not tell which accounts require app passwords
    _remember(generation, login, "", password, _Verified(info.id, None, _stamp(stored)), None)
    return info


def proxy_token(info: MailboxInfo, service: str) -> str:
    """The one-time credential for a mail proxy to log ``info`` in to its home node with (``Auth-Pass``),
    after :func:`authenticate` said yes: void once the password changes or after a few seconds."""
    return proxylogin.issue(settings.SECRET_KEY, info.address, service, _stamp(_stored_password(info.id)))


def relayed_login(address: str, password: str, service: Service) -> MailboxInfo | None | Literal[False]:
    """A login relayed by a trusted mail proxy with its one-time token, checked here; False when this is
    not such a login (the caller checks the password as ever).

    Only on a connection from ``MAILAPP_TRUSTED_PROXIES`` (``agents.authcache.login_via_proxy``, set by
    the listener) is a password shaped like a token taken as one: the proxy's auth_http endpoint
    already ran the guard and hashed the password, so here it costs one HMAC and one primary-key read.
    The protocol wrappers call this before ``authenticate`` (in process, or through an auth service)."""
    if not login_via_proxy.get() or not proxylogin.looks_like(password):
        return False
    info = get_mailbox(address)
    if info is None or not info.may_use(service):
        return None
    valid = proxylogin.verify(settings.SECRET_KEY, password, info.address, service, _stamp(_stored_password(info.id)))
    return info if valid else None


def _stored_password(mailbox_id: int) -> str:
    from django.db import connection

    from webadmin.models import Mailbox

    fresh_connection()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('password')} FROM {quote(Mailbox._meta.db_table)} WHERE {quote('id')} = %s",
                       [mailbox_id])
        row = cursor.fetchone()
    return str(row[0]) if row is not None else ""


def _hashing(before_hash: Callable[[], bool] | None, work: Callable[[], object]) -> bool:
    """Run ``work`` (a password hash); with ``before_hash``, only if it still says yes once a hash slot is held."""
    if before_hash is None:
        return bool(work())
    from mailappliance import hashers

    with hashers.slot():  # the guard is asked after the wait for a slot, right before the hash
        return before_hash() and bool(work())


_RIGHTS = {"smtp": 3, "imap": 4, "pop3": 5, "webmail": 6, "managesieve": 4}  # column of the service's right in the row


def _mailbox_row(mailbox_id: int) -> tuple[Any, ...] | None:
    """(password, active, domain active, can_smtp, can_imap, can_pop3, can_webmail, require_app_passwords), now.

    Raw SQL on two primary keys: the ORM spent several times the read itself building it, on every cached login.
    """
    from django.db import connection

    from webadmin.models import Domain, Mailbox

    quote = connection.ops.quote_name
    columns = ", ".join(f"m.{quote(c)}" for c in ("password", "active"))
    rights = ", ".join(f"m.{quote(c)}" for c in ("can_smtp", "can_imap", "can_pop3", "can_webmail",
                                                  "require_app_passwords"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}, d.{quote('active')}, {rights} FROM {quote(Mailbox._meta.db_table)} m"
                       f" JOIN {quote(Domain._meta.db_table)} d ON d.{quote('id')} = m.{quote('domain_id')}"
                       f" WHERE m.{quote('id')} = %s", [mailbox_id])
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def _row_allows(row: tuple[Any, ...], service: str) -> bool:
    return bool(row[1]) and bool(row[2]) and bool(row[_RIGHTS[service]])


def _stamp(stored_hash: str) -> str:
    """A short digest of a stored password hash: tells a changed password from the cached one."""
    return hashlib.blake2b(stored_hash.encode(), digest_size=16).hexdigest()


def _still_valid(hit: _Verified, service: str) -> bool:
    """Whether the credential a cached success was checked against still stands, in the database.

    One indexed read (tens of microseconds against a hash's fifth of a second) makes a
    password change, a disabled mailbox or domain, a withdrawn service right or an app
    password's revocation hold at once for the next login of every process, without
    waiting for the configuration generation to reach it.
    """
    from django.db import connection

    from webadmin.models import AppPassword

    fresh_connection()
    row = _mailbox_row(hit.mailbox_id)
    if row is None or not _row_allows(row, service):
        return False
    if hit.app_password_id is None:
        return _stamp(row[0]) == hit.stamp and (service == "webmail" or not row[7])
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {quote(AppPassword._meta.db_table)} WHERE {quote('id')} = %s"
                       f" AND {quote('mailbox_id')} = %s", [hit.app_password_id, hit.mailbox_id])
        return cursor.fetchone() is not None


def _remember(generation: int | None, login: str, service: str, password: str, value: _Verified,
              until: float | None) -> None:
    """Cache a success unless the configuration moved while it was checked.

    A check that read the old password hash must not land after the cache was
    dropped for the new one, or it would outlive the change.
    """
    with _lock:
        if generation is None or generation != _generation:
            return
        _verified.put(login, service, password, value, until=until)


def _spend_a_hash(password: str) -> None:
    from django.contrib.auth.hashers import make_password

    make_password(password)


def _check_app_password(info: MailboxInfo, password: str, service: str) -> tuple[int, float | None] | None:
    """(id, expiry on the monotonic clock or None) of a live app password of ``info`` for ``service``."""
    from django.utils import timezone

    from webadmin.models import AppPassword, app_password_digest, normalize_app_password

    if normalize_app_password(password) is None:
        return None
    fresh_connection()
    row = (
        AppPassword.objects.filter(mailbox_id=info.id, digest=app_password_digest(password))
        .only("id", "scopes", "expires")
        .first()
    )
    if row is None or service not in row.scopes:
        return None
    if row.expires is None:
        return row.id, None
    left = (row.expires - timezone.now()).total_seconds()
    if left <= 0:
        return None
    return row.id, _verified.clock() + left


def _record_use(app_password_id: int) -> None:
    """Write an app password's last use (time, client address), at most once a minute per address.

    ``update()`` sends no signal, so this does not move the configuration generation.
    """
    from django.utils import timezone

    from webadmin.models import AppPassword

    peer = login_peer.get()[:64]
    now = time.monotonic()
    with _lock:
        last = _last_use_written.get(app_password_id)
        if last is not None and last[1] == peer and now - last[0] < LAST_USE_INTERVAL:
            return
        _last_use_written[app_password_id] = (now, peer)
    fresh_connection()
    AppPassword.objects.filter(pk=app_password_id).update(last_used=timezone.now(), last_used_from=peer)


def filters_for(address: str) -> list[FilterRule]:
    """The active filter rows of a mailbox, in order (delivery runs their script, ``rule-builder``, not these)."""
    info = get_mailbox(address)
    if info is None:
        return []

    def compute() -> list[FilterRule]:
        from webadmin.models import Filter

        return [
            FilterRule(name=f.name, match=f.match, conditions=list(f.conditions), actions=list(f.actions), stop=f.stop)
            for f in Filter.objects.filter(mailbox_id=info.id, active=True).order_by("position", "id")
        ]

    return _cached("filters", info.id, compute)



@dataclass(frozen=True)
class SieveScripts:
    """A mailbox's Sieve scripts: the active one's name (``""`` for none) and every script by name."""

    active: str
    scripts: dict[str, str]

    @property
    def active_text(self) -> str | None:
        return self.scripts.get(self.active) if self.active else None


def sieve_scripts_for(address: str) -> SieveScripts:
    """The Sieve scripts of a mailbox (``include`` reads the inactive ones too)."""
    info = get_mailbox(address)
    if info is None:
        return SieveScripts("", {})

    def compute() -> SieveScripts:
        from webadmin.models import SieveScript

        rows = list(SieveScript.objects.filter(mailbox_id=info.id).values_list("name", "script", "active"))
        active = next((name for name, _, on in rows if on), "")
        return SieveScripts(active, {name: text for name, text, _ in rows})

    return _cached("sieve", info.id, compute)


# --- aliases ------------------------------------------------------------------------------


def _alias_targets(address: str) -> tuple[list[str], bool] | None:
    """(targets, discard) of the active alias at canonical ``address`` or its catch-all."""

    def compute() -> tuple[list[str], bool] | None:
        from webadmin.models import Alias

        local, _, domain = address.rpartition("@")
        row = Alias.objects.filter(domain__name=domain, local_part=local, active=True).first()
        if row is None:
            return None
        return list(row.targets), row.discard

    return _cached("alias", address, compute)


def recipient_kind(address: str) -> RecipientKind:
    """What an RCPT address is here: a mailbox, an alias, unknown (local domain) or remote;
    an SRS address in a local domain is an alias of its original sender, or forged-srs."""
    canonical = canonical_address(address)
    if canonical is None:
        return "unknown"
    domain = canonical.rpartition("@")[2]
    if canonical_domain(domain) is None:
        return "remote"
    if srs.is_srs(canonical) and get_mailbox(canonical) is None:
        try:
            srs_reverse(address)
        except srs.SRSError:
            return "forged-srs"
        return "alias"
    mailbox = get_mailbox(canonical)
    if mailbox is not None:
        return "mailbox" if mailbox.active else "unknown"
    if _alias_targets(canonical) is not None or _alias_targets("@" + domain) is not None:
        return "alias"
    return "unknown"


# --- SRS (the secrets are a file in MAILAPP_HOME, not a model) ------------------------------

_srs_cache: tuple[tuple[str, float, int], srs.Rewriter] | None = None


def srs_rewriter() -> srs.Rewriter:
    """The SRS rewriter with the current secrets (made on first use; re-read when the file changes)."""
    global _srs_cache
    path = Path(settings.MAILAPP_SRS_SECRETS_FILE)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        mtime = -1.0
    key = (str(path), mtime, int(settings.MAILAPP_SRS_VALIDITY_DAYS))
    if _srs_cache is None or _srs_cache[0] != key or mtime < 0:
        rewriter = srs.Rewriter(srs.read_secrets(path), validity_days=key[2])
        try:
            key = (str(path), path.stat().st_mtime, key[2])
        except FileNotFoundError:
            pass
        _srs_cache = (key, rewriter)
    return _srs_cache[1]


def srs_forward(sender: str, via: str) -> str:
    """The envelope sender for a forward by ``via`` (an address here) of mail from ``sender``.

    Rewritten into ``via``'s domain unless it is empty (a bounce) or already in a local domain."""
    if not sender or "@" not in sender or is_local_domain(sender.rpartition("@")[2]):
        return sender
    domain = canonical_domain(via.rpartition("@")[2]) or via.rpartition("@")[2]
    return srs_rewriter().forward(sender, domain)


def srs_reverse(address: str) -> str:
    """The original address of an SRS address; ``srs.SRSError`` if forged, expired or malformed."""
    return srs_rewriter().reverse(address)


def expand(address: str, max_depth: int = 20) -> Expansion:
    """Follow aliases recursively (multi-target, catch-all, domain aliases, discard).

    A local mailbox reached twice is listed once; a loop or a chain deeper than
    ``max_depth`` sets ``loop`` and stops that branch.
    """
    result = Expansion()
    seen: set[str] = set()

    def visit(addr: str, depth: int) -> None:
        canonical = canonical_address(addr)
        if canonical is None:
            result.unknown.append(addr)
            return
        if canonical in seen:
            return
        seen.add(canonical)
        if depth > max_depth:
            result.loop = True
            return
        domain = canonical.rpartition("@")[2]
        if canonical_domain(domain) is None:
            if canonical not in result.external:
                result.external.append(addr if "@" in addr else canonical)
            return
        mailbox = get_mailbox(canonical)
        if mailbox is None and srs.is_srs(canonical):  # a bounce to a forward: back to its sender
            try:
                original = srs_reverse(addr)
            except srs.SRSError:
                result.unknown.append(canonical)
                return
            visit(original, depth + 1)
            return
        if mailbox is not None and mailbox.active:
            if canonical not in result.mailboxes:
                result.mailboxes.append(canonical)
            return
        alias = _alias_targets(canonical)
        if alias is None and mailbox is None:
            alias = _alias_targets("@" + domain)
        if alias is None:
            result.unknown.append(canonical)
            return
        targets, discard = alias
        if discard:
            result.discarded = True
        for target in targets:
            visit(target, depth + 1)

    visit(address, 0)
    return result


def sender_addresses(mailbox_address: str) -> set[str]:
    """Addresses an authenticated user may use as envelope sender or From.

    Their own address (in the domain and its domain aliases), and every alias
    that expands to their mailbox.
    """
    info = get_mailbox(mailbox_address)
    if info is None:
        return set()

    def compute() -> set[str]:
        from webadmin.models import Alias, DomainAlias

        own = {info.address}
        for alias_domain in DomainAlias.objects.filter(target__name=info.domain, active=True).values_list(
            "name", flat=True
        ):
            own.add(f"{info.local_part}@{alias_domain}")
        for alias in Alias.objects.select_related("domain").filter(active=True).exclude(local_part=""):
            if info.address in expand(alias.address).mailboxes:
                own.add(alias.address)
        return own

    return _cached("senders", info.address, compute)


def may_send_as(mailbox_address: str, sender: str) -> bool:
    """True if the authenticated ``mailbox_address`` may send as ``sender``."""
    if sender == "":
        return True  # the null sender carries no identity to spoof
    canonical = canonical_address(sender)
    if canonical is None:
        return False
    allowed = sender_addresses(mailbox_address)
    if canonical in allowed:
        return True
    local, _, domain = canonical.rpartition("@")
    return any(
        a.rpartition("@")[0] == local and canonical_domain(a.rpartition("@")[2]) == canonical_domain(domain)
        for a in allowed
    )
