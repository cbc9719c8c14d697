"""Service functions shared by the admin, the API and the management commands.

Each is the one place a rule is enforced: the views only parse, call and render.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import QuerySet

from mailcore.addresses import AddressError, split_address

from .dkimkeys import key_for_new_domain
from .models import Alias, Domain, DomainAdmin, DomainAlias, Mailbox
from .signals import mailbox_removed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

RemovalMode = Literal["keep", "archive"]
MAX_ALIAS_DEPTH = 20


# --- alias graph --------------------------------------------------------------------------


def _canonical(address: str, domain_aliases: dict[str, str]) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain_aliases.get(domain, domain)}"


def find_alias_loop(alias: Alias) -> list[str] | None:
    """Return the addresses of a loop that saving ``alias`` would create, or None.

    Walks the alias graph as delivery would (domain aliases rewritten, catch-alls
    applied where no exact address exists) with the candidate's targets in place.
    Nodes are alias rules: an address, or ``@domain`` for a catch-all.
    """
    domain_aliases = dict(DomainAlias.objects.filter(active=True).values_list("name", "target__name"))
    mailboxes = {f"{lp}@{d}" for lp, d in Mailbox.objects.values_list("local_part", "domain__name")}
    graph: dict[str, list[str]] = {}
    for other in Alias.objects.select_related("domain").filter(active=True).exclude(pk=alias.pk):
        graph[other.address] = list(other.targets)
    start = f"{alias.local_part}@{alias.domain.name}"
    graph[start] = list(alias.targets)

    def rule_for(address: str) -> str | None:
        address = _canonical(address, domain_aliases)
        if address in graph:
            return address
        if address in mailboxes:
            return None
        catchall = "@" + address.rpartition("@")[2]
        return catchall if catchall in graph else None

    path = [start]

    def walk(node: str) -> list[str] | None:
        if len(path) > MAX_ALIAS_DEPTH:
            return path + ["…"]
        for target in graph[node]:
            rule = rule_for(target)
            if rule is None:
                continue
            if rule == start:
                return path + [target]
            if rule in path:
                continue  # a loop that does not pass through this alias
            path.append(rule)
            found = walk(rule)
            if found:
                return found
            path.pop()
        return None

    return walk(start)


def forward_comes_back(mailbox: Mailbox, address: str) -> list[str] | None:
    """The way mail forwarded from ``mailbox`` to ``address`` would come back into it, or None.

    ``[address]`` when it is the mailbox's own address (in any spelling, through a
    domain alias too); ``[address, alias, …, own address]`` when an alias (or a
    catch-all) on the way expands to the mailbox. Delivery would refuse such a copy as
    a forwarding loop and bounce it, so filters refuse the forward up front.
    """
    try:
        local, domain = split_address(address)
    except AddressError:
        return None
    domain_aliases = dict(DomainAlias.objects.filter(active=True).values_list("name", "target__name"))
    mailboxes = {f"{lp}@{d}" for lp, d in Mailbox.objects.values_list("local_part", "domain__name")}
    graph = {alias.address: list(alias.targets) for alias in Alias.objects.select_related("domain").filter(active=True)}
    own = f"{mailbox.local_part.lower()}@{mailbox.domain.name}"
    seen: set[str] = set()

    def walk(target: str, path: list[str]) -> list[str] | None:
        path = [*path, target]
        canon = _canonical(target.lower(), domain_aliases)
        if canon == own:
            return path
        if len(path) > MAX_ALIAS_DEPTH:
            return None
        rule = canon if canon in graph else None
        if rule is None and canon not in mailboxes:
            catchall = "@" + canon.rpartition("@")[2]
            rule = catchall if catchall in graph else None
        if rule is None or rule in seen:
            return None
        seen.add(rule)
        for onward in graph[rule]:
            found = walk(onward, path)
            if found:
                return found
        return None

    return walk(f"{local}@{domain}", [])


# --- domains ------------------------------------------------------------------------------


@dataclass
class NewDomain:
    domain: Domain
    postmaster: str
    created_mailbox: Mailbox | None


def check_postmaster_target(domain_name: str, postmaster_target: str) -> tuple[str, bool]:
    """Validate where a new domain's postmaster@/abuse@ mail goes.

    Returns (canonical target, True if it is a new mailbox in that domain to create).
    Raises ValidationError on the ``postmaster`` field.
    """
    try:
        local, target_domain = split_address(postmaster_target)
    except AddressError as exc:
        raise ValidationError({"postmaster": str(exc)}) from exc
    local = local.lower()
    target = f"{local}@{target_domain}"
    if target_domain == domain_name:
        if local in ("postmaster", "abuse"):
            raise ValidationError({"postmaster": "postmaster@ and abuse@ must point at another mailbox."})
        return target, not Mailbox.objects.filter(domain__name=domain_name, local_part=local).exists()
    if (
        Domain.objects.filter(name=target_domain).exists()
        and not Mailbox.objects.filter(domain__name=target_domain, local_part=local).exists()
    ):
        raise ValidationError({"postmaster": f"There is no mailbox {target}."})
    return target, False


def add_role_aliases(domain: Domain, postmaster_target: str) -> NewDomain:
    """Point ``postmaster@`` and ``abuse@`` of a just-saved domain at ``postmaster_target``."""
    target, create = check_postmaster_target(domain.name, postmaster_target)
    created = None
    if create:
        created = Mailbox(domain=domain, local_part=target.partition("@")[0], password="")
        created.full_clean(exclude=["password"])
        created.save()
    for role in ("postmaster", "abuse"):
        if Alias.objects.filter(domain=domain, local_part=role).exists():
            continue
        alias = Alias(domain=domain, local_part=role, targets=[target])
        alias.full_clean()
        alias.save()
    return NewDomain(domain=domain, postmaster=target, created_mailbox=created)


@transaction.atomic
def create_domain(name: str, postmaster_target: str, **fields: object) -> NewDomain:
    """Create a domain with its ``postmaster@`` and ``abuse@`` aliases (RFC 5321 §4.5.1, RFC 2142).

    ``postmaster_target`` is the mailbox that receives their mail. If it is an
    address in the new domain that does not exist yet, that mailbox is created
    (without a usable password: set one next). Raises ValidationError.
    """
    domain = Domain(name=name, **fields)
    domain.full_clean()
    check_postmaster_target(domain.name, postmaster_target)
    domain.save()
    key_for_new_domain(domain)
    return add_role_aliases(domain, postmaster_target)


@transaction.atomic
def create_mailbox(address: str, password: str | None, **fields: object) -> Mailbox:
    """Create a mailbox from its address; raises ValidationError with field errors."""
    try:
        local, domain_name = split_address(address)
    except AddressError as exc:
        raise ValidationError({"address": str(exc)}) from exc
    domain = Domain.objects.filter(name=domain_name).first()
    if domain is None:
        raise ValidationError({"address": f"{domain_name} is not a domain of this appliance."})
    if Mailbox.objects.filter(domain=domain, local_part=local.lower()).exists():
        raise ValidationError({"address": f"{local.lower()}@{domain_name} already exists."})
    mailbox = Mailbox(domain=domain, local_part=local, **fields)
    mailbox.full_clean(exclude=["password"])
    if password is not None:
        check_mailbox_password(mailbox, password)
    mailbox.set_password(password)
    mailbox.save()
    return mailbox


def check_mailbox_password(mailbox: Mailbox, raw: str) -> None:
    """Raise ValidationError on the ``password`` field unless ``raw`` passes the staff password rules."""
    from .passwords import validate_mailbox_password

    try:
        validate_mailbox_password(raw, mailbox.local_part, mailbox.domain.name, mailbox.name)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def set_mailbox_password(mailbox: Mailbox, raw: str) -> None:
    """Check ``raw`` against the password rules (ValidationError) and store its hash."""
    check_mailbox_password(mailbox, raw)
    mailbox.set_password(raw)
    mailbox.save(update_fields=["password"])


@transaction.atomic
def create_alias(address: str, targets: list[str], discard: bool = False, active: bool = True) -> Alias:
    """Create an alias (``@domain`` for a catch-all); raises ValidationError."""
    address = address.strip()
    if address.startswith("@"):
        local, domain_name = "", address[1:]
    else:
        try:
            local, domain_name = split_address(address)
        except AddressError as exc:
            raise ValidationError({"address": str(exc)}) from exc
    from mailcore.addresses import normalize_domain

    try:
        domain_name = normalize_domain(domain_name)
    except AddressError as exc:
        raise ValidationError({"address": str(exc)}) from exc
    domain = Domain.objects.filter(name=domain_name).first()
    if domain is None:
        raise ValidationError({"address": f"{domain_name} is not a domain of this appliance."})
    if Alias.objects.filter(domain=domain, local_part=local.lower()).exists():
        raise ValidationError({"address": f"{local.lower()}@{domain_name} already exists."})
    alias = Alias(domain=domain, local_part=local, targets=targets, discard=discard, active=active)
    alias.full_clean()
    alias.save()
    return alias


# --- removal keeps the mail ---------------------------------------------------------------


def remove_mailbox(mailbox: Mailbox, mode: RemovalMode = "keep") -> None:
    """Delete a mailbox's configuration; once that commits, its stored mail is kept aside or archived.

    The mail leaves the live tree in both modes, so a new mailbox with the same
    address never inherits it. The configuration does not touch the store itself:
    after the commit, :data:`webadmin.signals.mailbox_removed` hands the address to
    the engine (``agents.config`` connects the receiver, which moves the Maildir
    to ``MAILAPP_ARCHIVE_DIR``). Raises ImproperlyConfigured, before deleting
    anything, when no engine listens.
    """
    if not mailbox_removed.has_listeners(Mailbox):
        raise ImproperlyConfigured("No mail store is connected (the agents app is not installed): nothing deleted.")
    address = mailbox.address
    with transaction.atomic():
        Alias.objects.filter(domain=mailbox.domain, local_part=mailbox.local_part).delete()
        mailbox.delete()
        transaction.on_commit(partial(mailbox_removed.send, sender=Mailbox, address=address, mode=mode,
                                      home_node=mailbox.home_node))


def remove_domain(domain: Domain, mode: RemovalMode = "keep") -> None:
    """Delete a domain with its mailboxes and aliases, keeping or archiving all stored mail."""
    with transaction.atomic():
        for mailbox in list(domain.mailboxes.all()):
            remove_mailbox(mailbox, mode)
        domain.delete()


# --- quotas against the disk -------------------------------------------------------------


def handed_out() -> int:
    """Bytes of quota given to all mailboxes (unlimited ones count 0)."""
    total = 0
    for quota, default in Mailbox.objects.values_list("quota", "domain__default_quota"):
        total += default if quota is None else quota
    return total


def overcommit() -> str:
    """A warning when the quotas handed out add up to more than the mail disk holds, else ""."""
    from django.conf import settings

    from .units import disk_size, format_bytes

    disk = disk_size(Path(settings.MAILAPP_MAIL_ROOT))
    given = handed_out()
    if not disk or given <= disk:
        return ""
    return (
        f"The quotas handed out ({format_bytes(given)}) exceed the disk ({format_bytes(disk)}): "
        "mailboxes can fill the disk before any reaches its quota."
    )


# --- staff roles --------------------------------------------------------------------------


@transaction.atomic
def save_domain_admin(
    user: AbstractBaseUser | None, username: str, email: str, password: str, domains: list[Domain], active: bool
) -> AbstractBaseUser:
    """Create or change a domain admin: a staff login whose role lists its domains.

    The role is all it takes: the login is made staff here (and by the role's
    signal when the role is given in the Django admin), never a superuser.
    Passwords are checked by the caller's form (AUTH_PASSWORD_VALIDATORS).
    """
    from django.contrib.auth import get_user_model

    if user is None:
        user = get_user_model().objects.create_user(username=username, email=email, password=password or None)
    elif password:
        user.set_password(password)
    user.email = email  # type: ignore[attr-defined]
    user.is_active = active
    user.is_staff = True  # type: ignore[attr-defined]
    user.save()
    role, _ = DomainAdmin.objects.get_or_create(user_id=user.pk)
    role.domains.set(domains)
    return user


def managed_domains(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Domain]:
    """The domains a staff user may see and change: all for a superuser, assigned ones for a domain admin."""
    if not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return Domain.objects.none()
    if getattr(user, "is_superuser", False):
        return Domain.objects.all()
    return Domain.objects.filter(admins__user_id=getattr(user, "pk", None) or 0)
