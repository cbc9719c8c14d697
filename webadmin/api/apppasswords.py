"""``/api/v1/mailboxes/{id}/app-passwords/``: a mailbox's app passwords (list, create, revoke).

A mixin for ``MailboxViewSet``: the mailbox is found and scoped exactly like the
mailbox itself (``get_object``), so a domain admin reaches only its domains' app
passwords and gets 404 for the rest. The secret is in the create response only;
the database keeps an HMAC of it (docs/app-passwords.md).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from webadmin.models import APP_PASSWORD_SCOPES, AppPassword

SCOPE_CHOICES = [scope for scope, _label in APP_PASSWORD_SCOPES]


class AppPasswordSerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES))

    class Meta:
        model = AppPassword
        fields = ["id", "name", "scopes", "created", "expires", "last_used", "last_used_from"]
        read_only_fields = fields


class AppPasswordCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Which client or device uses it, e.g. “Phone”.")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPE_CHOICES),
        allow_empty=False,
        max_length=len(SCOPE_CHOICES),
        help_text="Protocols it may log in to.",
    )
    expires = serializers.DateTimeField(required=False, allow_null=True, help_text="Omit or null: until revoked.")


class AppPasswordCreatedSerializer(AppPasswordSerializer):
    password = serializers.CharField(help_text="The secret, shown in this response only (xxxx-xxxx-…).")

    class Meta(AppPasswordSerializer.Meta):
        fields = [*AppPasswordSerializer.Meta.fields, "password"]
        read_only_fields = fields


APP_PASSWORD_ID = OpenApiParameter("app_id", int, OpenApiParameter.PATH, description="The app password's id.")


class AppPasswordActionsMixin:
    @extend_schema(methods=["GET"], request=None, responses={200: AppPasswordSerializer(many=True)},
                   summary="The mailbox's app passwords (never their secrets)")
    @extend_schema(methods=["POST"], request=AppPasswordCreateSerializer, responses={201: AppPasswordCreatedSerializer},
                   summary="Create an app password; the secret is in this response only")
    @action(detail=True, methods=["get", "post"], url_path="app-passwords")
    def app_passwords(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mailbox = self.get_object()  # type: ignore[attr-defined]
        if request.method == "POST":
            form = AppPasswordCreateSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
            try:
                row, secret = AppPassword.issue(mailbox, data["name"], data["scopes"], data.get("expires"))
            except DjangoValidationError as exc:
                from .serializers import raise_field_errors

                raise_field_errors(exc)
            body = dict(AppPasswordSerializer(row).data)
            body["password"] = secret
            return Response(body, status=status.HTTP_201_CREATED)
        return Response(AppPasswordSerializer(mailbox.app_passwords.order_by("-created", "-id"), many=True).data)

    @extend_schema(parameters=[APP_PASSWORD_ID], request=None, responses={204: None},
                   summary="Revoke (delete) an app password; it stops working at once")
    @action(detail=True, methods=["delete"], url_path=r"app-passwords/(?P<app_id>[0-9]{1,18})")
    def revoke_app_password(self, request: Request, *args: Any, app_id: str = "", **kwargs: Any) -> Response:
        mailbox = self.get_object()  # type: ignore[attr-defined]
        row = mailbox.app_passwords.filter(pk=int(app_id)).first()
        if row is None:
            raise Http404
        row.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
