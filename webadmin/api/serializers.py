"""Resource shapes of the provisioning API (a public contract: see docs/api.md).

Serializers are thin: they turn JSON into arguments, call the model's
``full_clean()`` or a ``webadmin.services`` function, and turn Django's
``ValidationError`` into DRF field errors. No rule is checked here that the
admin would not check the same way; the only check of their own is tenancy
(a domain admin may only create objects in its own domains), which lives in
``permissions`` and answers exactly as for a domain that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Model
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.settings import api_settings

from agents.cluster import cluster_mode, placement, usage
from agents.models import AgentProcess, QueueMessage, QueueRecipient
from mailcore.addresses import AddressError, normalize_domain, split_address
from webadmin import services
from webadmin.models import Alias, Domain, DomainAlias, Filter, Mailbox

from .permissions import is_superadmin, may_use_domain, redact_foreign_addresses, scoped

log = logging.getLogger(__name__)


# --- errors ---------------------------------------------------------------------------------


def raise_field_errors(exc: DjangoValidationError, rename: dict[str, str] | None = None, user: Any = None) -> NoReturn:
    """Re-raise a model or service ``ValidationError`` as DRF field errors (HTTP 400).

    ``rename`` maps model field names to the API's (``local_part`` → ``address``);
    with ``user``, addresses of domains it does not manage are blanked out.
    """
    rename = rename or {}
    errors: dict[str, list[str]] = {}
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else rename.get(field, field)
            errors.setdefault(key, []).extend(messages)
    else:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = list(exc.messages)
    if user is not None:
        errors = {key: [redact_foreign_addresses(m, user) for m in messages] for key, messages in errors.items()}
    raise serializers.ValidationError(errors)


def unknown_domain(field: str, domain_name: str) -> NoReturn:
    """The answer for a domain that is missing *or* belongs to someone else: they must look alike."""
    raise serializers.ValidationError({field: [f"{domain_name} is not a domain of this appliance."]})


def _domain_of(address: str) -> str | None:
    """The ASCII domain of an address or ``@domain`` catch-all, or None if it does not parse.

    Used only to pick the tenancy check; the service parses again and reports bad syntax.
    """
    try:
        if address.strip().startswith("@"):
            return normalize_domain(address.strip()[1:])
        return split_address(address)[1]
    except AddressError:
        return None


# --- base classes ---------------------------------------------------------------------------


class ModelCleanSerializer(serializers.ModelSerializer):
    """Saves through ``full_clean()``, the model's own validation, and nothing else.

    ``Meta.create_only`` names fields fixed at creation: on PUT/PATCH they may be
    repeated unchanged (so a client can send back what it read) but not changed.
    """

    error_rename: dict[str, str] = {}

    class Meta:
        create_only: tuple[str, ...] = ()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, (list, tuple)) and hasattr(self.instance, "pk"):
            for name in getattr(self.Meta, "create_only", ()):
                if name in fields:
                    fields[name].read_only = True
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and isinstance(self.initial_data, dict):
            for name in getattr(self.Meta, "create_only", ()):
                given = self.initial_data.get(name)
                current = str(getattr(self.instance, name, ""))
                if given is not None and str(given).strip().lower() != current.lower():
                    if _same_domain_name(given, current):
                        continue
                    raise serializers.ValidationError({name: ["This cannot be changed; create a new object instead."]})
        return attrs

    @property
    def caller(self) -> Any:
        request = self.context.get("request")
        return getattr(request, "user", None)

    def save_clean(self, instance: Model, exclude: list[str] | None = None) -> Model:
        try:
            with transaction.atomic():
                instance.full_clean(exclude=exclude)
                instance.save()
        except DjangoValidationError as exc:
            raise_field_errors(exc, self.error_rename, self.caller)
        return instance

    def create(self, validated_data: dict[str, Any]) -> Any:
        model: type[Model] = getattr(self.Meta, "model")  # noqa: B009 (Meta is declared by subclasses)
        return self.save_clean(model(**validated_data))

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self.save_clean(instance)


def _same_domain_name(given: Any, current: Any) -> bool:
    """True if two spellings name the same domain (Unicode vs punycode)."""
    try:
        return normalize_domain(str(given)) == normalize_domain(str(current))
    except AddressError:
        return False


class DomainNameField(serializers.SlugRelatedField):
    """A domain by name (any spelling), looked up among the caller's domains only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="name", **kwargs)

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        return scoped(Domain.objects.all(), getattr(request, "user", None), "")

    def to_internal_value(self, data: Any) -> Domain:
        try:
            name = normalize_domain(str(data))
        except AddressError:
            name = str(data)
        domain = None if "\x00" in name else self.get_queryset().filter(name=name[:255]).first()
        if domain is None:
            message = self.error_messages["does_not_exist"].format(slug_name="name", value=str(data)[:255])
            raise serializers.ValidationError(message, code="does_not_exist")
        return domain


@extend_schema_field({"type": "string", "format": "email", "example": "alice@example.com"})
class MailboxAddressField(serializers.RelatedField):
    """A mailbox by its address, looked up among the caller's mailboxes only."""

    default_error_messages = {"does_not_exist": "There is no mailbox {value}."}

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        return scoped(Mailbox.objects.select_related("domain"), getattr(request, "user", None), "domain")

    def to_internal_value(self, data: Any) -> Mailbox:
        mailbox = None
        try:
            local, domain = split_address(str(data))
            mailbox = self.get_queryset().filter(domain__name=domain, local_part=local.lower()).first()
        except AddressError:
            pass
        if mailbox is None:
            message = self.error_messages["does_not_exist"].format(value=str(data)[:320])
            raise serializers.ValidationError(message, code="does_not_exist")
        return mailbox

    def to_representation(self, value: Mailbox) -> str:
        return value.address


# --- domains --------------------------------------------------------------------------------


@extend_schema_serializer(
    examples=[
        OpenApiExample("New domain", value={"name": "example.com"}, request_only=True),
        OpenApiExample(
            "New domain, postmaster elsewhere",
            value={"name": "example.com", "postmaster": "hostmaster@example.net", "description": "Example Inc."},
            request_only=True,
        ),
    ]
)
class DomainSerializer(ModelCleanSerializer):
    postmaster = serializers.CharField(
        write_only=True,
        required=False,
        max_length=320,
        help_text=(
            "Where mail to postmaster@ and abuse@ of the new domain goes (create only). "
            "An address in the new domain that does not exist yet is created as a mailbox without a "
            "usable password. Default: admin@<domain>, created that way."
        ),
    )
    display_name = serializers.CharField(read_only=True, help_text="The name in Unicode.")

    class Meta:
        model = Domain
        fields = [
            "id",
            "name",
            "display_name",
            "active",
            "description",
            "default_quota",
            "max_mailboxes",
            "created",
            "postmaster",
        ]
        read_only_fields = ["id", "created"]
        extra_kwargs = {
            "name": {"validators": [], "help_text": "ASCII or Unicode; stored and shown in ASCII (punycode)."},
        }
        create_only = ("name",)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and not is_superadmin(request.user):
            fields["max_mailboxes"].read_only = True  # a limit set by the superadmin
        return fields

    def create(self, validated_data: dict[str, Any]) -> Domain:
        name = validated_data.pop("name")
        postmaster = validated_data.pop("postmaster", None) or f"admin@{name.strip().rstrip('.')}"
        try:
            return services.create_domain(name, postmaster, **validated_data).domain
        except DjangoValidationError as exc:
            raise_field_errors(exc)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        validated_data.pop("postmaster", None)  # only meaningful when the domain is made
        return super().update(instance, validated_data)


@extend_schema_serializer(
    examples=[OpenApiExample("Domain alias", value={"name": "example.org", "target": "example.com"}, request_only=True)]
)
class DomainAliasSerializer(ModelCleanSerializer):
    target = DomainNameField(help_text="The domain (one of yours) that mail to this domain goes to.")

    class Meta:
        model = DomainAlias
        fields = ["id", "name", "target", "active", "created"]
        read_only_fields = ["id", "created"]
        extra_kwargs = {"name": {"validators": [], "help_text": "The alias domain, e.g. example.org."}}


# --- mailboxes ------------------------------------------------------------------------------


def mailbox_usage(address: str) -> int | None:
    """Bytes stored for ``address`` according to ``agents.store``; None when the store cannot tell.

    A mailbox that never got mail has no directory yet: that is 0, and reading it
    must not create one (``store.mailbox()`` would), since a GET changes nothing.
    """
    try:
        return usage.of(address)  # cluster mode: another node's mailbox is read from the database
    except Exception:  # the usage figure is informational: never fail a provisioning call on it
        log.exception("mail store usage of %s failed", address)
        return None


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "New mailbox",
            value={"address": "alice@example.com", "password": "correct horse battery staple", "name": "Alice"},
            request_only=True,
        ),
    ]
)
class MailboxSerializer(ModelCleanSerializer):
    address = serializers.CharField(max_length=320, help_text="local@domain; fixed after creation.")
    domain = serializers.SlugRelatedField(slug_field="name", read_only=True)
    password = serializers.CharField(
        write_only=True,
        required=True,
        trim_whitespace=False,
        max_length=1024,
        style={"input_type": "password"},
        help_text="The mail password (write only). Optional on PUT/PATCH: omit it to keep the current one.",
    )
    effective_quota = serializers.IntegerField(read_only=True, help_text="Bytes; 0 = unlimited.")
    usage = serializers.SerializerMethodField(help_text="Bytes stored now; null when the store cannot tell.")
    home_node = serializers.CharField(
        max_length=64, required=False,
        help_text="The node whose disk holds the mailbox (cluster mode). Default on create: the live node home to "
        "the fewest mailboxes. Changing it moves nothing: in cluster mode use POST .../move/ (superadmin).")

    error_rename = {"local_part": "address"}

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "address",
            "domain",
            "name",
            "password",
            "quota",
            "effective_quota",
            "usage",
            "active",
            "can_smtp",
            "can_imap",
            "can_pop3",
            "can_webmail",
            "require_app_passwords",
            "home_node",
            "created",
        ]
        read_only_fields = ["id", "created"]
        validators: list[Any] = []
        extra_kwargs = {"quota": {"help_text": "Bytes; null = the domain's default, 0 = unlimited."}}
        create_only = ("address",)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None:
            fields["password"].required = False
        return fields

    def get_usage(self, obj: Mailbox) -> int | None:
        return mailbox_usage(obj.address)

    def validate_home_node(self, value: str) -> str:
        value = value.strip()
        if self.instance is not None and value == self.instance.home_node:
            return value
        if cluster_mode():
            if self.instance is not None:
                raise serializers.ValidationError(
                    "Changing the node of a mailbox moves its mail: POST /api/v1/mailboxes/{id}/move/ "
                    '{"node": "…"} (manage.py movemailbox does the same).')
            known = placement.live_nodes()
            if value not in known:
                raise serializers.ValidationError(f"No running node is named {value!r} (running: {', '.join(known)}).")
        return value

    def create(self, validated_data: dict[str, Any]) -> Mailbox:
        address = validated_data.pop("address")
        password = validated_data.pop("password")
        user = self.context["request"].user
        domain = _domain_of(address)
        if domain is not None and not may_use_domain(user, domain):
            unknown_domain("address", domain)
        validated_data.setdefault("home_node", placement.choose_node())
        try:
            return services.create_mailbox(address, password, **validated_data)
        except DjangoValidationError as exc:
            raise_field_errors(exc, self.error_rename, self.caller)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        password = validated_data.pop("password", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if password is not None:
            try:
                services.check_mailbox_password(instance, password)
            except DjangoValidationError as exc:
                raise_field_errors(exc, self.error_rename, self.caller)
            instance.set_password(password)
        return self.save_clean(instance, exclude=["password"])


# --- aliases --------------------------------------------------------------------------------


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Alias",
            value={"address": "team@example.com", "targets": ["alice@example.com", "someone@elsewhere.org"]},
            request_only=True,
        ),
    ]
)
class AliasSerializer(ModelCleanSerializer):
    address = serializers.CharField(
        max_length=320, help_text="local@domain, or @domain for a catch-all; fixed after creation."
    )
    domain = serializers.SlugRelatedField(slug_field="name", read_only=True)
    targets = serializers.ListField(
        child=serializers.CharField(max_length=320),
        allow_empty=True,
        required=False,
        help_text="Mail addresses: local mailboxes, aliases or external. May be empty when discard is true.",
    )

    error_rename = {"local_part": "address"}

    class Meta:
        model = Alias
        fields = ["id", "address", "domain", "targets", "discard", "active", "created"]
        read_only_fields = ["id", "created"]
        validators: list[Any] = []
        create_only = ("address",)

    def create(self, validated_data: dict[str, Any]) -> Alias:
        address = validated_data.pop("address")
        user = self.context["request"].user
        domain = _domain_of(address)
        if domain is not None and not may_use_domain(user, domain):
            unknown_domain("address", domain)
        try:
            return services.create_alias(
                address,
                validated_data.get("targets", []),
                discard=validated_data.get("discard", False),
                active=validated_data.get("active", True),
            )
        except DjangoValidationError as exc:
            raise_field_errors(exc, self.error_rename, self.caller)


# --- filters --------------------------------------------------------------------------------

CONDITION_SCHEMA = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "enum": list(Filter.FIELDS)},
        "header": {"type": "string", "description": "The header name, for field=header (e.g. List-Id)."},
        "op": {"type": "string", "enum": list(Filter.OPS), "default": "contains"},
        "value": {"type": "string", "description": "Text, a regular expression (matches) or bytes (size)."},
    },
    "required": ["field"],
}
ACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": list(Filter.ACTIONS)},
        "folder": {"type": "string", "description": "For fileinto."},
        "address": {"type": "string", "description": "For redirect and forward."},
        "subject": {"type": "string", "description": "For autoreply."},
        "body": {"type": "string", "description": "For autoreply."},
        "days": {"type": "integer", "description": "For autoreply: answer a sender at most once in this many days."},
    },
    "required": ["action"],
}


@extend_schema_field({"type": "array", "items": CONDITION_SCHEMA})
class ConditionsField(serializers.JSONField):
    pass


@extend_schema_field({"type": "array", "items": ACTION_SCHEMA})
class ActionsField(serializers.JSONField):
    pass


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "File mailing list mail",
            value={
                "mailbox": "alice@example.com",
                "name": "Lists",
                "position": 10,
                "match": "all",
                "conditions": [{"field": "header", "header": "List-Id", "op": "contains", "value": "announce"}],
                "actions": [{"action": "fileinto", "folder": "Lists"}, {"action": "mark_read"}],
                "stop": True,
            },
            request_only=True,
        ),
    ]
)
class FilterSerializer(ModelCleanSerializer):
    mailbox = MailboxAddressField(help_text="The mailbox whose incoming mail this filter sorts.")
    conditions = ConditionsField(required=False, help_text="Empty = every message. Combined by match.")
    actions = ActionsField(help_text="What to do with a matching message, in order.")

    class Meta:
        model = Filter
        fields = ["id", "mailbox", "name", "position", "active", "match", "conditions", "actions", "stop"]
        read_only_fields = ["id"]


# --- read-only engine state -----------------------------------------------------------------


class QueueRecipientSerializer(serializers.ModelSerializer):
    class Meta:
        model = QueueRecipient
        fields = ["address", "original", "state", "attempts", "last_error", "remote_host", "remote_reply", "updated"]


class QueueMessageSerializer(serializers.ModelSerializer):
    recipients = serializers.SerializerMethodField()

    class Meta:
        model = QueueMessage
        fields = [
            "queue_id",
            "sender",
            "recipients",
            "size",
            "message_id",
            "subject",
            "created",
            "state",
            "next_attempt",
            "attempts",
            "last_error",
            "source",
            "client_address",
            "auth_user",
            "parent",
        ]

    @extend_schema_field(QueueRecipientSerializer(many=True))
    def get_recipients(self, obj: QueueMessage) -> list[dict[str, Any]]:
        """All recipients for a superadmin or the sender's own domain admin; else only the caller's."""
        recipients = list(obj.recipients.all())
        visible = self.context.get("visible_domains")
        if visible is not None and obj.sender.rpartition("@")[2].lower() not in visible:
            recipients = [r for r in recipients if r.address.rpartition("@")[2].lower() in visible]
        return QueueRecipientSerializer(recipients, many=True).data  # type: ignore[return-value]


class AgentProcessSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentProcess
        fields = ["node", "name", "host", "pid", "state", "started", "heartbeat", "restarts", "last_exit",
                  "restart_requested"]


__all__ = [
    "AgentProcessSerializer",
    "AliasSerializer",
    "DomainAliasSerializer",
    "DomainSerializer",
    "FilterSerializer",
    "MailboxSerializer",
    "QueueMessageSerializer",
]
