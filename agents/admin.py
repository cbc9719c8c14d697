"""The mail queue in the Django admin: list, filter, trace, and the queue actions.

Retry now / hold / release / delete call ``agents.delivery.control``, the same
functions as ``manage.py queuectl`` and ``flushqueue``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.delivery import control
from agents.models import QueueEvent, QueueMessage, QueueRecipient


class QueueRecipientInline(admin.TabularInline):
    model = QueueRecipient
    extra = 0
    can_delete = False
    fields = ("address", "original", "state", "attempts", "remote_host", "remote_reply", "last_error", "updated")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class QueueEventInline(admin.TabularInline):
    model = QueueEvent
    extra = 0
    can_delete = False
    fields = ("when", "event", "recipient", "detail")
    readonly_fields = fields
    ordering = ("when", "id")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(QueueMessage)
class QueueMessageAdmin(admin.ModelAdmin):
    list_display = ("queue_id", "shown_state", "sender_display", "recipient_count", "subject", "size", "created",
                    "attempts", "next_attempt", "last_error_short")
    list_filter = ("state", "source", "created")
    search_fields = ("queue_id", "sender", "subject", "message_id", "recipients__address")
    date_hierarchy = "created"
    ordering = ("-created",)
    inlines = [QueueRecipientInline, QueueEventInline]
    actions = ["retry_now", "hold_messages", "release_messages", "delete_messages"]
    readonly_fields = [f.name for f in QueueMessage._meta.fields]
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[QueueMessage]:
        return super().get_queryset(request).prefetch_related("recipients")

    @admin.display(description="state", ordering="state")
    def shown_state(self, obj: QueueMessage) -> str:
        return obj.state_label  # the dashboard's word: queued/deferred rather than the stored "active"

    def get_actions(self, request: HttpRequest) -> dict:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # ours also removes the spool files
        return found

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # mail enters through the queue API, never a form

    @admin.display(description="sender", ordering="sender")
    def sender_display(self, obj: QueueMessage) -> str:
        return f"<{obj.sender}>"

    @admin.display(description="recipients")
    def recipient_count(self, obj: QueueMessage) -> str:
        rows = list(obj.recipients.all())
        final = sum(1 for r in rows if r.state in QueueRecipient.FINAL)
        return f"{final}/{len(rows)} final"

    @admin.display(description="last error")
    def last_error_short(self, obj: QueueMessage) -> str:
        return obj.last_error[:80]

    def _report(self, request: HttpRequest, done: list[str], verb: str, asked: int) -> None:
        self.message_user(request, f"{len(done)} message(s) {verb}.")
        if len(done) < asked:
            self.message_user(request, f"{asked - len(done)} message(s) were not in a state for that.",
                              level=messages.WARNING)

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[QueueMessage]) -> None:
        ids = list(queryset.values_list("queue_id", flat=True))
        self._report(request, control.retry(ids, who=str(request.user), via="admin"), "queued for retry", len(ids))

    @admin.action(description="Hold", permissions=["change"])
    def hold_messages(self, request: HttpRequest, queryset: QuerySet[QueueMessage]) -> None:
        ids = list(queryset.values_list("queue_id", flat=True))
        self._report(request, control.hold(ids, who=str(request.user), via="admin"), "held", len(ids))

    @admin.action(description="Release", permissions=["change"])
    def release_messages(self, request: HttpRequest, queryset: QuerySet[QueueMessage]) -> None:
        ids = list(queryset.values_list("queue_id", flat=True))
        self._report(request, control.release(ids, who=str(request.user), via="admin"), "released", len(ids))

    @admin.action(description="Delete from the queue (no bounce)", permissions=["delete"])
    def delete_messages(self, request: HttpRequest, queryset: QuerySet[QueueMessage]) -> None:
        ids = list(queryset.values_list("queue_id", flat=True))
        self._report(request, control.delete(ids, who=str(request.user), via="admin"), "deleted", len(ids))


# --- mail authentication and anti-abuse state (agents.mailauth) -------------------------------
from agents.models import GreylistTriplet, RateCounter, SpamTraining  # noqa: E402


class EngineStateAdmin(admin.ModelAdmin):
    """Rows the engine writes (greylisting, rate counters, trainings, login locks): to look at, not to type.

    No "Add", no edit form; deleting a row stays possible (it lets a greylisted
    client through at once, resets a counter, or unlocks an account).
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


@admin.register(GreylistTriplet)
class GreylistTripletAdmin(EngineStateAdmin):
    list_display = ("client", "sender", "recipient", "first_seen", "passed", "last_seen", "attempts")
    search_fields = ("client", "sender", "recipient")
    list_filter = ("passed",)


@admin.register(RateCounter)
class RateCounterAdmin(EngineStateAdmin):
    list_display = ("key", "window", "count")
    search_fields = ("key",)


@admin.register(SpamTraining)
class SpamTrainingAdmin(EngineStateAdmin):
    list_display = ("mailbox", "verdict", "message_id", "source", "created", "used")
    list_filter = ("verdict", "used", "source")
    search_fields = ("mailbox", "message_id")


# --- the login guard (agents.loginguard): locks are alerts; deleting one unlocks the account ------
from agents.models import LoginLock  # noqa: E402


@admin.register(LoginLock)
class LoginLockAdmin(EngineStateAdmin):
    list_display = ("account", "created", "until", "failures", "addresses")
    search_fields = ("account",)
    readonly_fields = ("account", "created", "until", "failures", "addresses")
