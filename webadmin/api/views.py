"""One viewset per resource; the caller's scope is applied in ``ScopedMixin.get_queryset`` only.

Views parse, call and render: rules live on the models and in ``webadmin.services``,
tenancy in ``permissions``. Objects are addressed by id or by their natural key
(a domain's name, a mailbox's or alias's address), so scripts need not look ids up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError
from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from agents.delivery import control
from agents.models import AgentProcess, QueueMessage
from webadmin import services
from webadmin.models import Alias, Domain, DomainAlias, Filter, Mailbox

from . import filters, serializers
from .apppasswords import AppPasswordActionsMixin
from .dkim import DkimActionMixin
from .filters import address_lookup, ascii_domain
from .moves import MoveActionsMixin
from .parsers import StrictJSONParser
from .permissions import (
    IsStaff,
    SuperadminCreatesAndDeletes,
    SuperadminOnly,
    scope,
    visible_domain_names,
)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class StoreUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The mail store is not available, so nothing was deleted; try again later."
    default_code = "store_unavailable"


MAIL_PARAMETER = OpenApiParameter(
    "mail",
    str,
    OpenApiParameter.QUERY,
    enum=["keep", "archive"],
    description="What happens to stored mail: kept aside (default) or archived. It is never destroyed.",
)


def removal_mode(request: Request) -> services.RemovalMode:
    mode = request.query_params.get("mail", "keep")
    if mode not in ("keep", "archive"):
        raise exceptions.ValidationError({"mail": ["Give mail=keep or mail=archive."]})
    return mode  # type: ignore[return-value]


def remove_keeping_mail(request: Request, remove: Callable[[Any, services.RemovalMode], object], obj: Any) -> Response:
    """Delete through a service that keeps or archives the stored mail (``?mail=``); 204."""
    mode = removal_mode(request)
    try:
        remove(obj, mode)
    except ImproperlyConfigured as exc:  # no mail store listens: the service deleted nothing
        raise StoreUnavailable() from exc
    return Response(status=status.HTTP_204_NO_CONTENT)


def id_parameter(description: str, example: str) -> OpenApiParameter:
    return OpenApiParameter(
        "id", str, OpenApiParameter.PATH, description=description, examples=[OpenApiExample("By key", value=example)]
    )


def natural_key_docs(description: str, example: str) -> Any:
    """Document the detail routes' ``{id}`` as "a number or a natural key"."""
    parameter = id_parameter(description, example)
    detail = extend_schema(parameters=[parameter])
    return extend_schema_view(
        retrieve=detail, update=detail, partial_update=detail, destroy=extend_schema(parameters=[parameter])
    )


class ScopedMixin:
    """The one place a caller's role cuts down what it can see, change and find.

    The rule itself is ``permissions.scope`` (by model). Detail URLs take the
    ``lookup_field``; with the default ``pk`` that is a number or, through
    ``natural_lookup``, a name or address (None: not a key of this resource → 404).
    """

    lookup_value_regex = "[^/]+"
    parser_classes = [StrictJSONParser]
    pagination_class = Pagination
    permission_classes = [IsStaff]
    request: Request
    kwargs: dict[str, Any]

    def get_queryset(self) -> QuerySet[Any]:
        return scope(super().get_queryset(), self.request.user)  # type: ignore[misc]

    def natural_lookup(self, value: str) -> dict[str, Any] | None:
        return None

    def url_key(self, name: str) -> str:
        """The ``{id}`` of a detail URL; 404 for what no object can be named (PostgreSQL refuses NUL)."""
        value = str(self.kwargs.get(name, ""))
        if "\x00" in value or len(value) > 512:
            raise Http404
        return value

    def get_object(self) -> Model:
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        field = getattr(self, "lookup_field", "pk")
        value = self.url_key(field)
        lookup: dict[str, Any] | None
        if field != "pk":
            lookup = {field: value}
        elif value.isascii() and value.isdigit() and len(value) < 19:  # "²".isdigit() too, but int() refuses it
            lookup = {"pk": int(value)}
        else:
            lookup = self.natural_lookup(value)
        if lookup is None:
            raise Http404
        obj = queryset.filter(**lookup).first()
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)  # type: ignore[attr-defined]
        return obj

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, IntegrityError):
            # Two requests raced past full_clean(); the database kept its promise.
            exc = exceptions.ValidationError({"non_field_errors": ["This conflicts with an object that exists."]})
        elif isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
            # Query-string checks (search, filters) raise bare lists: keep the documented object shape.
            exc = exceptions.ValidationError({"non_field_errors": exc.detail})
        return super().handle_exception(exc)  # type: ignore[misc]


@natural_key_docs("The domain's id or its name (ASCII or Unicode).", "example.com")
class DomainViewSet(DkimActionMixin, ScopedMixin, viewsets.ModelViewSet):  # DKIM: docs/mailauth.md
    """Mail domains. Creating one also creates its postmaster@ and abuse@ aliases."""

    queryset = Domain.objects.all()
    serializer_class = serializers.DomainSerializer
    permission_classes = [SuperadminCreatesAndDeletes]
    filterset_class = filters.DomainFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created", "id"]

    def natural_lookup(self, value: str) -> dict[str, Any]:
        return {"name": ascii_domain(value)}

    @extend_schema(parameters=[id_parameter("The domain's id or its name.", "example.com"), MAIL_PARAMETER])
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a domain with its mailboxes and aliases; stored mail is kept aside or archived."""
        return remove_keeping_mail(request, services.remove_domain, self.get_object())


@natural_key_docs("The domain alias's id or its name.", "example.org")
class DomainAliasViewSet(ScopedMixin, viewsets.ModelViewSet):
    """Domains whose mail is handled as mail to another (local) domain."""

    queryset = DomainAlias.objects.select_related("target")
    serializer_class = serializers.DomainAliasSerializer
    filterset_class = filters.DomainAliasFilterSet
    search_fields = ["name", "target__name"]
    ordering_fields = ["name", "created", "id"]

    def natural_lookup(self, value: str) -> dict[str, Any]:
        return {"name": ascii_domain(value)}


@natural_key_docs("The mailbox's id or its address.", "alice@example.com")
class MailboxViewSet(AppPasswordActionsMixin, MoveActionsMixin, ScopedMixin,  # docs/app-passwords.md, scaling.md
                     viewsets.ModelViewSet):
    """Mailboxes (mail users). The password is write-only; usage comes from the mail store."""

    queryset = Mailbox.objects.select_related("domain")
    serializer_class = serializers.MailboxSerializer
    filterset_class = filters.MailboxFilterSet
    search_fields = ["local_part", "name", "domain__name"]
    ordering_fields = ["local_part", "domain__name", "created", "id"]

    def natural_lookup(self, value: str) -> dict[str, Any] | None:
        return address_lookup(value)

    @extend_schema(parameters=[id_parameter("The mailbox's id or its address.", "alice@example.com"), MAIL_PARAMETER])
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a mailbox; its stored mail is kept aside or archived, never destroyed."""
        return remove_keeping_mail(request, services.remove_mailbox, self.get_object())


@natural_key_docs("The alias's id or its address (@domain for a catch-all).", "team@example.com")
class AliasViewSet(ScopedMixin, viewsets.ModelViewSet):
    """Aliases: an address (or @domain, a catch-all) that forwards to targets."""

    queryset = Alias.objects.select_related("domain")
    serializer_class = serializers.AliasSerializer
    filterset_class = filters.AliasFilterSet
    search_fields = ["local_part", "domain__name"]
    ordering_fields = ["local_part", "domain__name", "created", "id"]

    def natural_lookup(self, value: str) -> dict[str, Any] | None:
        return address_lookup(value)


@natural_key_docs("The filter's id.", "1")
class FilterViewSet(ScopedMixin, viewsets.ModelViewSet):
    """A mailbox's ordered filter rules: conditions, then actions."""

    queryset = Filter.objects.select_related("mailbox__domain")
    serializer_class = serializers.FilterSerializer
    filterset_class = filters.FilterFilterSet
    search_fields = ["name"]
    ordering_fields = ["position", "id", "name"]


@extend_schema_view(
    retrieve=extend_schema(parameters=[OpenApiParameter("queue_id", str, OpenApiParameter.PATH)]),
    destroy=extend_schema(parameters=[OpenApiParameter("queue_id", str, OpenApiParameter.PATH)]),
)
class QueueViewSet(ScopedMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """The mail queue with each message's recipients; DELETE removes a message (nothing is bounced,
    and the removal is audited with the token's user)."""

    queryset = QueueMessage.objects.prefetch_related("recipients")
    serializer_class = serializers.QueueMessageSerializer
    filterset_class = filters.QueueFilterSet
    search_fields = ["sender", "subject", "message_id", "recipients__address"]
    ordering_fields = ["created", "next_attempt", "size"]
    lookup_field = "queue_id"

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["visible_domains"] = visible_domain_names(self.request.user)
        return context

    def perform_destroy(self, instance: QueueMessage) -> None:
        control.delete([instance.queue_id], who=self.request.user.get_username(), via="api")


@extend_schema_view(retrieve=extend_schema(parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH)]))
class AgentViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The supervisor's children (smtp, imap, pop3, web, worker, beat): state and heartbeat. Superadmins only."""

    queryset = AgentProcess.objects.all()
    serializer_class = serializers.AgentProcessSerializer
    permission_classes = [SuperadminOnly]
    filterset_class = filters.AgentFilterSet
    ordering_fields = ["node", "name", "heartbeat"]
    lookup_field = "name"

    def get_queryset(self) -> QuerySet[Any]:
        rows = super().get_queryset()
        if self.action == "retrieve":  # a name is one process per node: this node's, or the one of ?node=
            rows = rows.filter(node=self.request.query_params.get("node") or settings.MAILAPP_NODE)
        return rows
