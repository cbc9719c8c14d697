"""``/api/v1/mailboxes/{id}/move/``: move a mailbox to another node (cluster mode), and its progress.

A mixin for ``MailboxViewSet``: the mailbox is found and scoped like the mailbox itself. Nodes are
the operator's: only a superadmin starts a move. ``agents.cluster.move`` does the work on the
target node's worker; the response is the move's state, which ``GET`` follows.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from agents.cluster import move
from agents.models import MailboxMove

from .permissions import is_superadmin


class MailboxMoveSerializer(serializers.ModelSerializer):
    class Meta:
        model = MailboxMove
        fields = ["id", "address", "source", "target", "state", "note", "messages", "bytes", "started", "frozen_at",
                  "finished"]
        read_only_fields = fields


class MoveRequestSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=64, help_text="The node (MAILAPP_NODE) to move the mailbox to; running.")


class MoveActionsMixin:
    @extend_schema(methods=["GET"], request=None, responses={200: MailboxMoveSerializer},
                   summary="The mailbox's latest move (404 if it never moved)")
    @extend_schema(methods=["POST"], request=MoveRequestSerializer, responses={202: MailboxMoveSerializer},
                   summary="Move the mailbox to another node, keeping its UIDs (superadmin; cluster mode)")
    @action(detail=True, methods=["get", "post"], url_path="move")
    def move(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mailbox = self.get_object()  # type: ignore[attr-defined]
        if request.method == "POST":
            if not is_superadmin(request.user):
                raise PermissionDenied("Only a superadmin moves mailboxes between nodes.")
            form = MoveRequestSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            try:
                started = move.start(mailbox.address, form.validated_data["node"])
            except move.MoveRefused as exc:
                raise ValidationError({"node": [str(exc)]}) from None
            return Response(MailboxMoveSerializer(started).data, status=status.HTTP_202_ACCEPTED)
        latest = move.latest(mailbox.address)
        if latest is None:
            raise NotFound("This mailbox has never been moved.")
        return Response(MailboxMoveSerializer(latest).data)
