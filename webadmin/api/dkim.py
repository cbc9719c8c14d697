"""``/api/v1/domains/{id}/dkim/``: a domain's DKIM record (GET) and making or rotating its key (POST).

A mixin for ``DomainViewSet`` so the domain is found and scoped exactly like the domain itself.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response


class DkimRecordSerializer(serializers.Serializer):
    selector = serializers.CharField(help_text="The DNS label before ._domainkey.")
    name = serializers.CharField(help_text="Where to publish the TXT record.")
    value = serializers.CharField(help_text="The TXT record's value.")
    algorithm = serializers.ChoiceField(choices=["rsa", "ed25519"])


class DkimRequestSerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(choices=["rsa", "ed25519"], default="rsa")
    rotate = serializers.BooleanField(default=False, help_text="Replace the active key with a new selector.")


def _record(key: Any) -> dict[str, str]:
    return {"selector": key.selector, "name": f"{key.selector}._domainkey.{key.domain.name}",
            "value": key.dns_value(), "algorithm": key.algorithm}


class DkimActionMixin:
    @extend_schema(methods=["GET"], request=None, responses={200: DkimRecordSerializer(many=True)},
                   summary="The domain's active DKIM keys as DNS records")
    @extend_schema(methods=["POST"], request=DkimRequestSerializer, responses={201: DkimRecordSerializer},
                   summary="Make (or with rotate, replace) the domain's DKIM key")
    @action(detail=True, methods=["get", "post"], url_path="dkim")
    def dkim(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from webadmin.dkimkeys import create_key

        domain = self.get_object()  # type: ignore[attr-defined]
        if request.method == "POST":
            form = DkimRequestSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            key = create_key(domain, form.validated_data["algorithm"], rotate=form.validated_data["rotate"])
            return Response(_record(key), status=201)
        return Response([_record(k) for k in domain.dkim_keys.filter(active=True).order_by("-created")])
