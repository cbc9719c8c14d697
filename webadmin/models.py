"""The configuration of the appliance: domains, mailboxes, aliases, filters, staff roles.

Validation lives here (``clean()``) so that the admin, the API and the management
commands all refuse the same input with the same sentence. Agents read these
models through ``agents.config`` only.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db import models

from mailcore import secret, vacation
from mailcore.addresses import (
    AddressError,
    display_domain,
    normalize_domain,
    split_address,
    validate_local_part,
    validate_mailbox_local_part,
)
from mailcore.headersafe import is_unsafe as header_unsafe

GiB = 1024**3


class ConfigGeneration(models.Model):
    """One row whose counter grows on every configuration change.

    Agents compare it with the generation their cache was filled at; this is how a
    change saved anywhere reaches every process on every host within seconds.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    @classmethod
    def bump(cls) -> None:
        updated = cls.objects.filter(pk=1).update(value=models.F("value") + 1)
        if not updated:
            cls.objects.get_or_create(pk=1, defaults={"value": 1})

    @classmethod
    def current(cls) -> int:
        row = cls.objects.filter(pk=1).values_list("value", flat=True).first()
        return int(row or 0)


class Domain(models.Model):
    name = models.CharField(
        max_length=255, unique=True, help_text="Stored in its ASCII (punycode) form; type it in Unicode if you like."
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    default_quota = models.BigIntegerField(
        default=GiB, help_text="Quota in bytes for new mailboxes of this domain (0 = unlimited)."
    )
    max_mailboxes = models.PositiveIntegerField(default=0, help_text="0 = no limit.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return display_domain(self.name)

    def clean(self) -> None:
        try:
            self.name = normalize_domain(self.name)
        except AddressError as exc:
            raise ValidationError({"name": str(exc)}) from exc
        if DomainAlias.objects.filter(name=self.name).exists():
            raise ValidationError({"name": f"{self.display_name} is already a domain alias."})
        if self.default_quota < 0:
            raise ValidationError({"default_quota": "A quota cannot be negative."})


class DomainAlias(models.Model):
    """Mail to any address at ``name`` is handled as the same address at ``target``."""

    name = models.CharField(max_length=255, unique=True)
    target = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="aliases_from")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "domain aliases"

    def __str__(self) -> str:
        return f"{display_domain(self.name)} → {self.target}"

    @property
    def domain(self) -> Domain:
        """The domain this alias belongs to (for the staff role checks)."""
        return self.target

    def clean(self) -> None:
        try:
            self.name = normalize_domain(self.name)
        except AddressError as exc:
            raise ValidationError({"name": str(exc)}) from exc
        if Domain.objects.filter(name=self.name).exists():
            raise ValidationError({"name": f"{display_domain(self.name)} is already a domain."})


def _this_node() -> str:
    """The node a new mailbox is homed on: the one that creates it (``MAILAPP_NODE``)."""
    return str(settings.MAILAPP_NODE)


class Mailbox(models.Model):
    """A mail user: an address with a password and a Maildir."""

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="mailboxes")
    local_part = models.CharField(max_length=64)
    name = models.CharField("display name", max_length=200, blank=True)
    password = models.CharField(max_length=256, blank=True, help_text="A hash; set it with “Set password”.")
    quota = models.BigIntegerField(
        null=True, blank=True, help_text="Bytes; empty = the domain's default, 0 = unlimited."
    )
    active = models.BooleanField(default=True)
    can_smtp = models.BooleanField("SMTP submission", default=True)
    can_imap = models.BooleanField("IMAP", default=True)
    can_pop3 = models.BooleanField("POP3", default=True)
    can_webmail = models.BooleanField("webmail", default=True)
    require_app_passwords = models.BooleanField(
        default=False,
        help_text="Mail clients (IMAP, POP3, SMTP, ManageSieve) must log in with an app password; "
        "the account password then only opens webmail.",
    )
    home_node = models.CharField(
        max_length=64, default=_this_node,
        help_text="The node (MAILAPP_NODE) whose disk holds this mailbox; in cluster mode its mail is delivered "
        "and read there.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain__name", "local_part"]
        verbose_name_plural = "mailboxes"
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "local_part"],
                name="unique_mailbox_address",
                violation_error_message="A mailbox with this address already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.name}"

    @property
    def effective_quota(self) -> int:
        return self.domain.default_quota if self.quota is None else self.quota

    def set_password(self, raw: str | None) -> None:
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        if not self.password:
            return False
        return check_password(raw, self.password)

    def clean(self) -> None:
        self.local_part = (self.local_part or "").strip().lower()
        try:
            validate_mailbox_local_part(self.local_part)
        except AddressError as exc:
            raise ValidationError({"local_part": str(exc)}) from exc
        if self.quota is not None and self.quota < 0:
            raise ValidationError({"quota": "A quota cannot be negative."})
        if not self.domain_id:
            return
        if Alias.objects.filter(domain_id=self.domain_id, local_part=self.local_part).exists():
            raise ValidationError({"local_part": f"{self.local_part}@{self.domain} is already an alias."})
        if self._state.adding:
            domain = self.domain
            if domain.max_mailboxes and domain.mailboxes.count() >= domain.max_mailboxes:
                raise ValidationError(f"{domain} already has its maximum of {domain.max_mailboxes} mailboxes.")


APP_PASSWORD_SCOPES = (
    ("imap", "IMAP"),
    ("pop3", "POP3"),
    ("smtp", "SMTP submission"),
    ("managesieve", "ManageSieve"),
)
APP_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by hand
APP_PASSWORD_GROUPS = 7  # 7 groups of 4 from 31 symbols: 28 × log2(31) ≈ 138 bits


def app_password_digest(secret: str) -> str:
    """The stored form of an app password: HMAC-SHA256 under the server's app-password key.

    The secret is normalised first (dashes and spaces dropped, lowercase), so
    ``ABCD EFGH…`` typed by hand matches. A fast keyed hash is enough because the
    secret is ~138 random bits: no dictionary, and 2^137 guesses on average even
    with the key (docs/app-passwords.md).
    """
    import hashlib
    import hmac

    normal = normalize_app_password(secret) or ""
    key = settings.MAILAPP_APP_PASSWORD_KEY.encode()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()


def normalize_app_password(secret: str) -> str | None:
    """``secret`` without separators and in lowercase, or None if it cannot be an app password."""
    normal = secret.replace("-", "").replace(" ", "").lower()
    if len(normal) != 4 * APP_PASSWORD_GROUPS or any(c not in APP_PASSWORD_ALPHABET for c in normal):
        return None
    return normal


class AppPassword(models.Model):
    """A random password for one mail client, limited to some protocols, revocable on its own.

    Only a keyed digest of the secret is stored; the secret itself is shown once,
    by :meth:`issue`. Deleting the row revokes it (the change counter reaches every
    agent within 2 seconds and drops their verified-credential caches).
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="app_passwords")
    name = models.CharField(max_length=100, help_text="Which client or device uses it, e.g. “Phone”.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Protocols it may log in to: imap, pop3, smtp, managesieve.")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True, help_text="Empty: valid until revoked.")
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_from = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["mailbox", "-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.mailbox_id})"

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        if not self.name:
            raise ValidationError({"name": "Give the app password a name, e.g. the device that uses it."})
        known = {scope for scope, _label in APP_PASSWORD_SCOPES}
        if (
            not isinstance(self.scopes, list)
            or not self.scopes
            or any(not isinstance(s, str) or s not in known for s in self.scopes)
        ):
            raise ValidationError({"scopes": f"Choose one or more of: {', '.join(sorted(known))}."})
        self.scopes = sorted(set(self.scopes))

    @property
    def scope_labels(self) -> str:
        labels = dict(APP_PASSWORD_SCOPES)
        return ", ".join(labels.get(s, s) for s in self.scopes)

    @classmethod
    def issue(cls, mailbox: Mailbox, name: str, scopes: list[str], expires: Any = None) -> tuple[AppPassword, str]:
        """Create an app password; returns the row and the secret (``xxxx-xxxx-…``), shown only now.

        Raises ValidationError for a missing name or an unknown scope.
        """
        import secrets

        chars = "".join(secrets.choice(APP_PASSWORD_ALPHABET) for _ in range(4 * APP_PASSWORD_GROUPS))
        secret = "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))
        row = cls(mailbox=mailbox, name=name, scopes=list(scopes), expires=expires, digest=app_password_digest(secret))
        row.full_clean()
        row.save()
        return row, secret


class WebmailHandoff(models.Model):
    """A webmail hand-off link (cluster mode) that has signed someone in: its digest, so that it signs
    in only once. ``webadmin.webmail.auth`` writes a row as a link is followed and removes rows older
    than a link can live."""

    digest = models.CharField(max_length=64, primary_key=True)
    used = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"hand-off {self.digest[:12]}… used {self.used:%Y-%m-%d %H:%M:%S}"


class Alias(models.Model):
    """An address (or a catch-all ``@domain`` when local_part is empty) → targets."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="aliases")
    local_part = models.CharField(max_length=64, blank=True, help_text="Empty for a catch-all of the whole domain.")
    targets = models.JSONField(
        default=list, blank=True, help_text="Mail addresses: local mailboxes, aliases or external."
    )
    discard = models.BooleanField(default=False, help_text="Accept and throw away mail (like /dev/null).")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain__name", "local_part"]
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "local_part"],
                name="unique_alias_address",
                violation_error_message="An alias with this address already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain.name}"

    @property
    def is_catchall(self) -> bool:
        return self.local_part == ""

    def clean(self) -> None:
        self.local_part = (self.local_part or "").strip().lower()
        errors: dict[str, str] = {}
        if self.local_part:
            try:
                validate_local_part(self.local_part)
            except AddressError as exc:
                errors["local_part"] = str(exc)
        targets = self.targets
        if isinstance(targets, str):
            targets = [t for t in re.split(r"[\s,]+", targets) if t]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            errors["targets"] = "Targets must be a list of mail addresses."
            targets = []
        normalized: list[str] = []
        for target in targets:
            try:
                local, domain = split_address(target)
            except AddressError as exc:
                errors["targets"] = str(exc)
                break
            address = f"{local.lower()}@{domain}"
            if address not in normalized:
                normalized.append(address)
        self.targets = normalized
        if not normalized and not self.discard and "targets" not in errors:
            errors["targets"] = "Give at least one target, or tick “discard”."
        if errors:
            raise ValidationError(errors)
        if not self.domain_id:
            return
        if self.local_part and Mailbox.objects.filter(domain_id=self.domain_id, local_part=self.local_part).exists():
            raise ValidationError({"local_part": f"{self.address} is already a mailbox."})
        from .services import find_alias_loop  # the graph walk needs every alias

        loop = find_alias_loop(self)
        if loop:
            raise ValidationError({"targets": "These targets make a loop: " + " → ".join(loop) + "."})


class Filter(models.Model):
    """One ordered rule of a mailbox's filters: conditions, then actions.

    ``conditions``: ``[{"field": "from"|"to_cc"|"subject"|"header"|"size",
    "header": "List-Id" (for field=header), "op": "contains"|"not_contains"|"is"|
    "matches"|"gt"|"lt", "value": "…"}]``, combined by ``match`` ("all"/"any").
    ``actions``: ``[{"action": "fileinto", "folder": "Lists"} | {"action": "mark_read"} |
    {"action": "flag"} | {"action": "redirect", "address": "…"} | {"action": "forward",
    "address": "…"} (keeps a copy) | {"action": "discard"} | {"action": "autoreply",
    "subject": "…", "body": "…", "days": 7, "start": "2026-07-01", "end": "2026-07-21"}]``
    (``start``/``end`` optional, inclusive days: the vacation).
    A forward or redirect may not lead back into the mailbox itself.
    """

    FIELDS = ("from", "to_cc", "subject", "header", "size")
    OPS = ("contains", "not_contains", "is", "matches", "gt", "lt")
    ACTIONS = ("fileinto", "mark_read", "flag", "redirect", "forward", "discard", "autoreply")
    # What people read in menus and refusals; the values above stay the stored (and API) names.
    FIELD_LABELS = {"from": "From", "to_cc": "To or Cc", "subject": "Subject", "header": "Header",
                    "size": "Size (bytes)"}  # fmt: skip
    OP_LABELS = {
        "contains": "contains", "not_contains": "does not contain", "is": "is", "matches": "matches (regex)",
        "gt": "is larger than", "lt": "is smaller than",
    }  # fmt: skip
    ACTION_LABELS = {
        "fileinto": "Move to folder", "mark_read": "Mark as read", "flag": "Flag", "redirect": "Redirect to",
        "forward": "Forward a copy to", "discard": "Delete", "autoreply": "Auto-reply",
    }  # fmt: skip

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="filters")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0, help_text="Filters run in ascending position.")
    active = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=[("all", "all conditions"), ("any", "any condition")], default="all")
    conditions = models.JSONField(default=list, blank=True, help_text="Empty = every message.")
    actions = models.JSONField(default=list)
    stop = models.BooleanField(default=False, help_text="Run no later filters when this one matches.")

    class Meta:
        ordering = ["mailbox", "position", "id"]

    def __str__(self) -> str:
        return f"{self.mailbox}: {self.name}"

    @property
    def domain(self) -> Domain:
        return self.mailbox.domain

    def clean(self) -> None:
        errors: dict[str, str] = {}
        problem = validate_conditions(self.conditions)
        if problem:
            errors["conditions"] = problem
        problem = validate_actions(self.actions)
        if problem:
            errors["actions"] = problem
        elif self.mailbox_id:
            problem = self._forward_to_self()
            if problem:
                errors["actions"] = problem
        if not errors and self.mailbox_id:
            from .rulescript import refusal  # the rows are the index of the builder's Sieve script

            problem = refusal(self)
            if problem:
                errors["__all__"] = problem
        if errors:
            raise ValidationError(errors)

    def _forward_to_self(self) -> str | None:
        """Forwarding a mailbox's mail back into itself only makes a loop (the copy bounces)."""
        from .services import forward_comes_back  # the graph walk needs every alias

        for number, act in enumerate(self.actions, 1):
            if act.get("action") not in ("redirect", "forward"):
                continue
            path = forward_comes_back(self.mailbox, str(act.get("address", "")))
            if path is None:
                continue
            if len(path) == 1:
                return f"Action {number}: {path[0]} is this mailbox's own address; mail cannot be forwarded to itself."
            return (f"Action {number}: {path[0]} leads back to this mailbox ({' → '.join(path)}); "
                    "mail cannot be forwarded to itself.")
        return None


class SieveScript(models.Model):
    """One Sieve script (RFC 5228) of a mailbox; at most one is active and runs at delivery.

    While a mailbox has an active script, its :class:`Filter` rows do not run. ``clean()``
    refuses a script that is too large, does not parse, needs an extension we do not run,
    or includes itself (through ``mailcore.sieve.check``), with the line and the reason.
    """

    MAX_SCRIPTS = 20  # per mailbox

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="sieve_scripts")
    name = models.CharField(max_length=100)
    script = models.TextField(blank=True)
    active = models.BooleanField(default=False)

    class Meta:
        ordering = ["mailbox", "name"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "name"], name="sieve_script_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox}: {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving an active script deactivates the mailbox's other one (one active script per mailbox)."""
        from django.db import transaction

        with transaction.atomic():
            if self.active:
                SieveScript.objects.filter(mailbox_id=self.mailbox_id, active=True).exclude(pk=self.pk) \
                    .update(active=False)
            super().save(*args, **kwargs)

    def clean(self) -> None:
        from mailcore import sieve

        errors: dict[str, str] = {}
        if not self.name.strip() or _CONTROL.search(self.name) or "/" in self.name:
            errors["name"] = "A script name is a line of text without “/”."
        others: dict[str, str] = {}
        if self.mailbox_id:
            others = dict(SieveScript.objects.filter(mailbox_id=self.mailbox_id).exclude(pk=self.pk)
                          .values_list("name", "script"))
            if self.pk is None and len(others) >= self.MAX_SCRIPTS:
                errors["name"] = f"A mailbox holds at most {self.MAX_SCRIPTS} scripts."
        try:
            sieve.check(self.script, self.name, others.get)
        except sieve.SieveError as exc:
            errors["script"] = str(exc)
        if errors:
            raise ValidationError(errors)


MAX_RULE_PARTS = 50  # conditions or actions in one filter
MAX_RULE_TEXT = 4000  # characters in one value, folder name, subject or body
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _bad_text(value: Any) -> bool:
    """Too long, or holding control characters (a NUL never reaches a header or a path)."""
    return isinstance(value, str) and (len(value) > MAX_RULE_TEXT or bool(_CONTROL.search(value)))


def validate_conditions(conditions: Any) -> str | None:
    """Return a sentence about the first thing wrong with ``conditions``, or None."""
    if not isinstance(conditions, list):
        return "Conditions must be a list."
    if len(conditions) > MAX_RULE_PARTS:
        return f"A filter may have at most {MAX_RULE_PARTS} conditions."
    for number, cond in enumerate(conditions, 1):
        if not isinstance(cond, dict):
            return f"Condition {number} must be an object."
        field, op, value = cond.get("field"), cond.get("op", "contains"), cond.get("value")
        if _bad_text(value) or _bad_text(cond.get("header")):
            return f"Condition {number}: the value is too long or holds control characters."
        if field not in Filter.FIELDS:
            return f"Condition {number}: field must be one of {_choices(Filter.FIELD_LABELS)}."
        if op not in Filter.OPS:
            return f"Condition {number}: op must be one of {_choices(Filter.OP_LABELS)}."
        if field == "header" and not re.match(r"^[!-9;-~]+$", str(cond.get("header", ""))):
            return f"Condition {number}: give the header name, e.g. “List-Id”."
        if field == "size":
            if op not in ("gt", "lt") or not str(value).isdigit():
                return (f"Condition {number}: Size takes “is larger than” (gt) or “is smaller than” (lt) "
                        "and a number of bytes.")
        elif op in ("gt", "lt"):
            return f"Condition {number}: “is larger than” (gt) and “is smaller than” (lt) only apply to size."
        elif not isinstance(value, str) or not value:
            return f"Condition {number}: give a value to compare with."
        if op == "matches" and isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                return f"Condition {number}: not a valid regular expression ({exc})."
    return None


def validate_actions(actions: Any) -> str | None:
    """Return a sentence about the first thing wrong with ``actions``, or None."""
    if not isinstance(actions, list) or not actions:
        return "Give at least one action."
    if len(actions) > MAX_RULE_PARTS:
        return f"A filter may have at most {MAX_RULE_PARTS} actions."
    for number, act in enumerate(actions, 1):
        if not isinstance(act, dict) or act.get("action") not in Filter.ACTIONS:
            return f"Action {number}: must be one of {_choices(Filter.ACTION_LABELS)}."
        if any(_bad_text(v) for k, v in act.items() if k != "body") or len(str(act.get("body", ""))) > 64_000:
            return f"Action {number}: a value is too long or holds control characters."
        kind = act["action"]
        if kind == "fileinto":
            folder = act.get("folder")
            if not isinstance(folder, str) or not folder.strip() or ".." in folder or folder.startswith("/"):
                return f"Action {number}: give the folder to file into (no “..” or leading “/”)."
        if kind in ("redirect", "forward"):
            try:
                split_address(str(act.get("address", "")))
            except AddressError as exc:
                return f"Action {number}: {exc}"
        if kind == "autoreply":
            if not str(act.get("body", "")).strip():
                return f"Action {number}: an auto-reply needs a body."
            if header_unsafe(str(act.get("subject", ""))):
                return f"Action {number}: the subject holds a line break or control character (also when decoded)."
            days = act.get("days", settings.MAILAPP_AUTOREPLY_DAYS)
            if not isinstance(days, int) or days < 1:
                return f"Action {number}: days must be a whole number of at least 1."
            try:
                start, end = vacation.parse_day(act.get("start")), vacation.parse_day(act.get("end"))
            except ValueError as exc:
                return f"Action {number}: {exc}."
            if start and end and end < start:
                return f"Action {number}: the last day ({end}) is before the first day ({start})."
    return None


def _choices(labels: dict[str, str]) -> str:
    """Menu labels with the stored names the API takes: “To or Cc” (to_cc), …"""
    return ", ".join(f"“{label}” ({code})" for code, label in labels.items())


class DomainAdmin(models.Model):
    """Staff role: a domain admin sees and changes only the domains assigned here.

    Superusers are superadmins and need no row.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="domain_admin")
    domains = models.ManyToManyField(Domain, related_name="admins", blank=True)

    class Meta:
        verbose_name = "domain admin role"

    def __str__(self) -> str:
        return f"{self.user} (domain admin)"


# --- Mail authentication and anti-abuse (agents.mailauth reads these) ------------------------


class DkimKey(models.Model):
    """A DKIM signing key of a domain (RFC 6376). The newest active key signs; old selectors stay
    published until their rows are deleted, so a rotation never breaks mail in flight."""

    RSA, ED25519 = "rsa", "ed25519"
    ALGORITHMS = [(RSA, "RSA 2048 (rsa-sha256)"), (ED25519, "Ed25519 (ed25519-sha256)")]

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dkim_keys")
    selector = models.CharField(max_length=63, help_text="The DNS label before ._domainkey.")
    algorithm = models.CharField(max_length=8, choices=ALGORITHMS, default=RSA)
    private_key = models.TextField(help_text="PEM (PKCS#8); never shown in lists.")
    public_key = models.TextField(help_text="The p= value of the DNS record (base64).")
    active = models.BooleanField(default=True, help_text="Only the newest active key signs.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DKIM key"
        ordering = ["domain__name", "-created"]
        constraints = [models.UniqueConstraint(fields=["domain", "selector"], name="unique_dkim_selector")]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.name}"

    def dns_value(self) -> str:
        """The TXT record value to publish at ``<selector>._domainkey.<domain>``."""
        return f"v=DKIM1; k={'ed25519' if self.algorithm == self.ED25519 else 'rsa'}; p={self.public_key}"


class MailPolicy(models.Model):
    """Per-domain anti-abuse policy for mail *to* the domain (MX door) and *from* its users."""

    DMARC_REJECT, DMARC_JUNK, DMARC_IGNORE = "reject", "junk", "ignore"
    DMARC_ACTIONS = [
        (DMARC_REJECT, "reject at SMTP time (550 5.7.1) when the sender's policy says p=reject"),
        (DMARC_JUNK, "accept and file into Junk"),
        (DMARC_IGNORE, "only record the result"),
    ]

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="mail_policy")
    dmarc_action = models.CharField(max_length=8, choices=DMARC_ACTIONS, default=DMARC_REJECT,
                                    help_text="What to do with mail failing DMARC whose sender asks p=reject.")
    spam_junk_score = models.FloatField(default=5.0, help_text="From this score on, mail is filed into Junk.")
    spam_reject_score = models.FloatField(default=15.0, help_text="From this score on, mail is refused (550 5.7.1).")
    greylisting = models.BooleanField(default=False, help_text="Defer the first attempt of unknown senders (RFC 6647).")
    max_messages_per_hour = models.PositiveIntegerField(
        default=0, help_text="Per authenticated sender of this domain; 0 = the global setting.")
    max_recipients_per_message = models.PositiveIntegerField(
        default=0, help_text="Per message from an authenticated sender of this domain; 0 = the global setting.")
    # The compromised-account guard (docs/mailauth.md): per account and window; 0 = the global setting.
    guard_recipients = models.PositiveIntegerField(
        default=0, help_text="Account guard: recipients per account in the window; 0 = the global setting.")
    guard_unknown_recipients = models.PositiveIntegerField(
        default=0, help_text="Account guard: unknown recipients refused per account in the window; 0 = global.")
    guard_remote_rejects = models.PositiveIntegerField(
        default=0, help_text="Account guard: recipients rejected by remote hosts in the window; 0 = global.")
    guard_new_address_recipients = models.PositiveIntegerField(
        default=0, help_text="Account guard: recipients from a client address new to the account; 0 = global.")

    class Meta:
        verbose_name = "mail policy"
        verbose_name_plural = "mail policies"

    def __str__(self) -> str:
        return f"policy of {self.domain.name}"


class GreylistWhitelist(models.Model):
    """Clients never greylisted: an IP address or network (CIDR), or a sender/client domain."""

    entry = models.CharField(max_length=255, unique=True,
                             help_text="An IP address, a network such as 192.0.2.0/24, or a domain name.")
    comment = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entry"]
        verbose_name = "greylisting whitelist entry"
        verbose_name_plural = "greylisting whitelist"

    def __str__(self) -> str:
        return self.entry


class ExternalSource(models.Model):
    """Another account whose mail a mailbox collects (what fetchmail does), polled by Celery beat.

    The password is kept encrypted (Fernet, key derived from SECRET_KEY): the fetcher
    needs it in clear, so a hash would not do. What happened on the last poll lives
    in ``agents.models.FetchState`` (engine state, not configuration).
    """

    POP3, IMAP = "pop3", "imap"
    PROTOCOLS = [(POP3, "POP3"), (IMAP, "IMAP")]
    TLS_NONE, TLS_STARTTLS, TLS_TLS = "none", "starttls", "tls"
    TLS_MODES = [(TLS_TLS, "TLS (implicit, 995/993)"), (TLS_STARTTLS, "STARTTLS"), (TLS_NONE, "none (plaintext)")]

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="external_sources")
    protocol = models.CharField(max_length=4, choices=PROTOCOLS, default=IMAP)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=0, help_text="0 = the protocol's standard port for the TLS mode.")
    tls = models.CharField("TLS", max_length=8, choices=TLS_MODES, default=TLS_TLS)
    verify_certificate = models.BooleanField(
        default=True, help_text="Turn off only for a server with a self-signed certificate you trust."
    )
    login = models.CharField(max_length=320)
    password_encrypted = models.TextField(blank=True, editable=False)
    folder = models.CharField(max_length=200, default="INBOX", help_text="IMAP only: the folder to collect.")
    keep = models.BooleanField(default=True, help_text="Leave the messages on the server (else delete once stored).")
    interval = models.PositiveIntegerField(default=300, help_text="Seconds between polls (at least 60).")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["mailbox__domain__name", "mailbox__local_part", "host"]

    def __str__(self) -> str:
        return f"{self.login}@{self.host} ({self.get_protocol_display()}) → {self.mailbox_id and self.mailbox}"

    def set_password(self, raw: str) -> None:
        self.password_encrypted = secret.encrypt(raw, str(settings.SECRET_KEY))

    def get_password(self) -> str:
        """The clear password (for the fetcher only; never log it). Raises ValueError if undecryptable."""
        return secret.decrypt(self.password_encrypted, str(settings.SECRET_KEY))

    def effective_port(self) -> int:
        if self.port:
            return self.port
        standard = {(self.POP3, True): 995, (self.POP3, False): 110, (self.IMAP, True): 993, (self.IMAP, False): 143}
        return standard[(self.protocol, self.tls == self.TLS_TLS)]

    def clean(self) -> None:
        self.host = (self.host or "").strip().lower()
        if not self.host or any(c.isspace() or c in "/@" for c in self.host):
            raise ValidationError({"host": "Give a host name or an IP address."})
        if self.port > 65535:
            raise ValidationError({"port": "A port is at most 65535."})
        if self.interval < 60:
            raise ValidationError({"interval": "Poll at most once a minute (60 seconds or more)."})
        if not self.folder.strip():
            self.folder = "INBOX"


class BackupSchedule(models.Model):
    """A backup the appliance makes by itself (Celery beat), where to, how often and how many to keep.

    Secrets (the archive passphrase, the S3 secret key) are kept encrypted like an
    external source's password (Fernet, key derived from SECRET_KEY): the worker needs
    them in clear, and the dashboard never shows them back. What each run did lives in
    ``agents.models.BackupRun`` (engine state). See docs/backup.md.
    """

    DIRECTORY, S3 = "dir", "s3"
    TARGETS = [(DIRECTORY, "Local directory"), (S3, "S3-compatible store")]
    DAILY, WEEKLY = "daily", "weekly"
    FREQUENCIES = [(DAILY, "Daily"), (WEEKLY, "Weekly")]
    WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"),
                (6, "Sunday")]
    PASSPHRASE, KEY_FILE = "passphrase", "key_file"
    KEYINGS = [(PASSPHRASE, "Passphrase"), (KEY_FILE, "Key file on this server")]

    name = models.CharField(max_length=100, unique=True)
    target = models.CharField(max_length=3, choices=TARGETS, default=DIRECTORY)
    directory = models.CharField(max_length=500, blank=True, help_text="Absolute path on this server.")
    s3_endpoint = models.CharField("S3 endpoint URL", max_length=300, blank=True,
                                   help_text="e.g. https://s3.eu-central-1.amazonaws.com, or your MinIO's URL.")
    s3_bucket = models.CharField("bucket", max_length=63, blank=True)
    s3_prefix = models.CharField("prefix", max_length=300, blank=True, help_text="Folder in the bucket, e.g. mail/")
    s3_region = models.CharField("region", max_length=50, blank=True)
    s3_access_key = models.CharField("access key", max_length=200, blank=True)
    s3_secret_encrypted = models.TextField(blank=True, editable=False)
    keying = models.CharField(max_length=10, choices=KEYINGS, default=PASSPHRASE)
    passphrase_encrypted = models.TextField(blank=True, editable=False)
    key_file = models.CharField(max_length=500, blank=True, help_text="Absolute path of a file of 32+ random bytes.")
    frequency = models.CharField(max_length=6, choices=FREQUENCIES, default=DAILY)
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, default=6, help_text="Weekly backups only.")
    time = models.TimeField(default=datetime.time(3, 0), help_text="Time of day, in the appliance's time zone.")
    keep_last = models.PositiveIntegerField(default=7, help_text="Keep the newest N backups.")
    keep_daily = models.PositiveIntegerField(default=0, help_text="Also keep the newest backup of each of the last "
                                                                  "N days that have one.")
    keep_weekly = models.PositiveIntegerField(default=0, help_text="Also keep the newest backup of each of the last "
                                                                   "N weeks that have one.")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def where(self) -> str:
        """The target in words, without any secret."""
        if self.target == self.S3:
            where = f"s3://{self.s3_bucket}/{self.s3_prefix.strip('/')}".rstrip("/")
            return f"{where} at {self.s3_endpoint}" if self.s3_endpoint else where
        return self.directory

    def set_passphrase(self, raw: str) -> None:
        self.passphrase_encrypted = secret.encrypt(raw, str(settings.SECRET_KEY)) if raw else ""

    def set_s3_secret(self, raw: str) -> None:
        self.s3_secret_encrypted = secret.encrypt(raw, str(settings.SECRET_KEY)) if raw else ""

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.target == self.DIRECTORY:
            if not self.directory.startswith("/"):
                errors["directory"] = "Give an absolute path, e.g. /srv/backups/mail."
        else:
            if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", self.s3_bucket or ""):
                errors["s3_bucket"] = "A bucket name: 3-63 lowercase letters, digits, dots and dashes."
            if self.s3_endpoint and not re.match(r"https?://[^\s/]+", self.s3_endpoint):
                errors["s3_endpoint"] = "A URL such as https://s3.example.com (or empty for AWS)."
            if ".." in self.s3_prefix.split("/"):
                errors["s3_prefix"] = "A prefix may not contain '..'."
        if self.keying == self.KEY_FILE and not self.key_file.startswith("/"):
            errors["key_file"] = "Give the absolute path of the key file."
        if not (self.keep_last or self.keep_daily or self.keep_weekly):
            errors["keep_last"] = "Keep at least one backup: set one of the three counts."
        if errors:
            raise ValidationError(errors)
