"""Django admin for the configuration, scoped by staff role.

Superusers (superadmins) see everything. A domain admin (a user with a
``DomainAdmin`` row; the role makes them staff) sees and changes only the
objects of their domains; the scoping lives in one mixin. Validation is the
models' ``clean()``; deleting a domain or mailbox goes to the dashboard's
confirmation page, which counts what goes and never destroys stored mail.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from . import rules, services
from .dkimkeys import key_for_new_domain
from .formfields import TargetsField
from .models import Alias, Domain, DomainAlias, Filter, Mailbox, SieveScript
from .models import DomainAdmin as DomainAdminRole
from .units import QuotaField, format_bytes

admin.site.site_header = "mailappliance"
admin.site.site_title = "mailappliance admin"
admin.site.index_title = "Mail configuration"


def is_superadmin(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def is_domain_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and hasattr(user, "domain_admin"))


class DomainScopedAdmin(admin.ModelAdmin):
    """The one place where a domain admin's view is narrowed to their domains.

    ``domain_path`` is the lookup from the model to its Domain.
    """

    domain_path = "domain"

    def _allowed(self, request: HttpRequest) -> bool:
        return is_superadmin(request) or is_domain_admin(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if is_superadmin(request):
            return queryset
        domains = services.managed_domains(request.user)
        lookup = "pk__in" if self.domain_path == "" else f"{self.domain_path}__in"
        return queryset.filter(**{lookup: domains})

    def _in_scope(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None or is_superadmin(request):
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request) and self._in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request) and self._in_scope(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request) and self._in_scope(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Domain and not is_superadmin(request):
            kwargs["queryset"] = services.managed_domains(request.user)
        if db_field.related_model is Mailbox and not is_superadmin(request):
            kwargs["queryset"] = Mailbox.objects.filter(domain__in=services.managed_domains(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ManagedDomainFilter(admin.SimpleListFilter):
    """"By domain", listing only the domains the viewer manages (not every domain's name)."""

    title = "domain"
    parameter_name = "domain"
    domain_lookup = "domain"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(d.pk), d.display_name) for d in services.managed_domains(request.user)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(**{f"{self.domain_lookup}__pk": self.value()})
        return queryset


class ManagedMailboxDomainFilter(ManagedDomainFilter):
    domain_lookup = "mailbox__domain"


def confirm_delete_redirect(kind: str, values: list[str]) -> HttpResponseRedirect:
    """The dashboard's confirmation page for these domains or mailboxes (it counts what goes)."""
    if kind == "domains":
        return HttpResponseRedirect(reverse("dashboard:domains_delete") + "?" + urlencode({"name": values}, True))
    return HttpResponseRedirect(reverse("dashboard:mailboxes_delete") + "?" + urlencode({"address": values}, True))


# --- domains ------------------------------------------------------------------------------


class AliasInlineForm(forms.ModelForm):
    targets = TargetsField()

    class Meta:
        model = Alias
        fields = ("local_part", "targets", "discard", "active")


class AliasInline(admin.TabularInline):
    model = Alias
    form = AliasInlineForm
    extra = 0
    fields = ("local_part", "targets", "discard", "active")
    show_change_link = True


class DomainForm(forms.ModelForm):
    default_quota = QuotaField(required=True, label="Default quota", help_text="For new mailboxes. 0 = unlimited.")
    postmaster = forms.CharField(
        required=False,
        help_text="On a new domain: the mailbox that gets postmaster@ and abuse@ mail. An address in this "
        "domain that does not exist yet is created as a mailbox (set its password next).",
    )

    class Meta:
        model = Domain
        fields = ("name", "description", "active", "default_quota", "max_mailboxes")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not self.errors:
            target = (data.get("postmaster") or "").strip()
            if not target:
                self.add_error("postmaster", "Choose who receives postmaster@ and abuse@ mail.")
            else:
                try:
                    services.check_postmaster_target(self.instance.name, target)
                except ValidationError as exc:
                    self.add_error("postmaster", exc.message_dict.get("postmaster", exc.messages))
        return data


@admin.register(Domain)
class DomainAdminView(DomainScopedAdmin):
    form = DomainForm
    domain_path = ""
    list_display = ("display_name", "name", "active", "mailbox_count", "quota_display", "max_mailboxes", "created")
    list_filter = ("active",)
    search_fields = ("name", "description")
    inlines = [AliasInline]
    actions = ["delete_confirmed"]

    @admin.display(description="default quota", ordering="default_quota")
    def quota_display(self, obj: Domain) -> str:
        return format_bytes(obj.default_quota, unlimited="unlimited")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields: list[Any] = ["name", "description", "active", "default_quota", "max_mailboxes"]
        return fields + ["postmaster"] if obj is None else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fixed = ("name",) if obj is not None else ()
        # A domain admin may tune their domain but not lift the limits a superadmin set.
        return fixed if is_superadmin(request) else fixed + ("max_mailboxes", "default_quota")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_superadmin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superadmin(request)

    @admin.display(description="mailboxes")
    def mailbox_count(self, obj: Domain) -> int:
        return obj.mailboxes.count()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            key_for_new_domain(obj)
            result = services.add_role_aliases(obj, form.cleaned_data["postmaster"])
            note = f"postmaster@ and abuse@ go to {result.postmaster}."
            if result.created_mailbox:
                note += f" Mailbox {result.created_mailbox} was created: set its password."
            self.message_user(request, note)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """The page's "Delete" goes to the confirmation page that counts mailboxes, messages and bytes."""
        domain = self.get_queryset(request).filter(pk=object_id).first()
        if domain is None or not self.has_delete_permission(request, domain):
            return super().delete_view(request, object_id, extra_context)
        return confirm_delete_redirect("domains", [domain.name])

    @admin.action(description="Delete selected domains (confirm; mail kept or archived)")
    def delete_confirmed(self, request: HttpRequest, queryset: QuerySet[Domain]) -> HttpResponse:
        return confirm_delete_redirect("domains", list(queryset.values_list("name", flat=True)))


@admin.register(DomainAlias)
class DomainAliasAdmin(DomainScopedAdmin):
    domain_path = "target"
    list_display = ("name", "target", "active", "created")
    list_filter = ("active",)
    search_fields = ("name", "target__name")


# --- mailboxes ----------------------------------------------------------------------------


class MailboxForm(forms.ModelForm):
    quota = QuotaField(required=False, help_text="Empty: the domain's default. 0 = unlimited.")
    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored only as a hash. Leave empty to keep the current password.",
    )

    class Meta:
        model = Mailbox
        fields = (
            "domain", "local_part", "name", "quota", "active", "can_smtp", "can_imap", "can_pop3", "can_webmail",
            "require_app_passwords",
        )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not data.get("new_password"):
            self.add_error("new_password", "A new mailbox needs a password.")
        elif data.get("new_password") and data.get("domain") and data.get("local_part"):
            probe = Mailbox(domain=data["domain"], local_part=data["local_part"], name=data.get("name", ""))
            try:
                services.check_mailbox_password(probe, data["new_password"])
            except ValidationError as exc:
                self.add_error("new_password", exc.message_dict["password"])
        return data

    def save(self, commit: bool = True) -> Mailbox:
        mailbox = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            mailbox.set_password(self.cleaned_data["new_password"])
        if commit:
            mailbox.save()
        return mailbox


def filter_summary(obj: Filter) -> str:
    when, then = rules.describe(obj)
    return f"When {when}: {then}" + (" (then stop)" if obj.stop else "")


def filter_editor_link(obj: Filter) -> str:
    """Rules are edited with the one rule builder, on the dashboard (never as JSON)."""
    if not obj.pk:
        return ""
    mailbox = obj.mailbox
    url = reverse("dashboard:filter_edit", args=[mailbox.domain.name, mailbox.local_part, obj.pk])
    return format_html('<a href="{}">Edit in the rule builder</a>', url)


class FilterInline(admin.TabularInline):
    model = Filter
    extra = 0
    fields = ("position", "name", "active", "rule", "editor")
    readonly_fields = ("name", "rule", "editor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # new rules: the dashboard's mailbox page ("+ New filter")

    @admin.display(description="rule")
    def rule(self, obj: Filter) -> str:
        return filter_summary(obj)

    @admin.display(description="")
    def editor(self, obj: Filter) -> str:
        return filter_editor_link(obj)


@admin.register(Mailbox)
class MailboxAdmin(DomainScopedAdmin):
    form = MailboxForm
    list_display = ("address", "name", "active", "quota_display", "can_smtp", "can_imap", "can_pop3", "can_webmail")
    list_filter = ("active", ManagedDomainFilter, "can_imap", "can_pop3", "can_webmail")
    search_fields = ("local_part", "domain__name", "name")
    inlines = [FilterInline]
    actions = ["delete_confirmed", "deactivate"]

    @admin.display(description="quota")
    def quota_display(self, obj: Mailbox) -> str:
        return format_bytes(obj.effective_quota, unlimited="unlimited")

    def save_model(self, request: HttpRequest, obj: Mailbox, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        note = services.overcommit()
        if note:
            self.message_user(request, note, messages.WARNING)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """The page's "Delete" goes to the confirmation page that counts messages and bytes."""
        mailbox = self.get_queryset(request).filter(pk=object_id).first()
        if mailbox is None or not self.has_delete_permission(request, mailbox):
            return super().delete_view(request, object_id, extra_context)
        return confirm_delete_redirect("mailboxes", [mailbox.address])

    @admin.action(description="Delete selected mailboxes (confirm; mail kept or archived)")
    def delete_confirmed(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> HttpResponse:
        return confirm_delete_redirect("mailboxes", [m.address for m in queryset.select_related("domain")])

    @admin.action(description="Deactivate selected mailboxes (keep everything)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        for mailbox in queryset:
            mailbox.active = False
            mailbox.save(update_fields=["active"])
        self.message_user(request, f"Deactivated {queryset.count()} mailbox(es).", messages.SUCCESS)


# --- aliases and filters ------------------------------------------------------------------


class AliasForm(forms.ModelForm):
    targets = TargetsField()

    class Meta:
        model = Alias
        fields = ("domain", "local_part", "targets", "discard", "active")


@admin.register(Alias)
class AliasAdmin(DomainScopedAdmin):
    form = AliasForm
    list_display = ("address_display", "targets_display", "discard", "active")
    list_filter = ("active", "discard", ManagedDomainFilter)
    search_fields = ("local_part", "domain__name", "targets")

    @admin.display(description="address", ordering="local_part")
    def address_display(self, obj: Alias) -> str:
        return obj.address if obj.local_part else f"@{obj.domain.name} (catch-all)"

    @admin.display(description="targets")
    def targets_display(self, obj: Alias) -> str:
        shown = ", ".join(obj.targets[:5])
        return shown + (" …" if len(obj.targets) > 5 else "") or ("discard" if obj.discard else "")


@admin.register(Filter)
class FilterAdmin(DomainScopedAdmin):
    """Rules in words; they are made and changed with the rule builder on the dashboard (no JSON)."""

    domain_path = "mailbox__domain"
    list_display = ("name", "mailbox", "position", "rule", "active", "stop", "editor")
    list_filter = ("active", ManagedMailboxDomainFilter)
    search_fields = ("name", "mailbox__local_part", "mailbox__domain__name")
    fields = ("mailbox", "name", "position", "active", "rule", "editor")
    readonly_fields = ("mailbox", "name", "rule", "editor")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # the dashboard's mailbox page has "+ New filter"

    @admin.display(description="rule")
    def rule(self, obj: Filter) -> str:
        return filter_summary(obj)

    @admin.display(description="")
    def editor(self, obj: Filter) -> str:
        return filter_editor_link(obj)


@admin.register(SieveScript)
class SieveScriptAdmin(DomainScopedAdmin):
    """Sieve scripts as text (docs/filters.md): a script that does not check is refused at its line."""

    domain_path = "mailbox__domain"
    list_display = ("name", "mailbox", "active")
    list_filter = ("active", ManagedMailboxDomainFilter)
    search_fields = ("name", "mailbox__local_part", "mailbox__domain__name")
    fields = ("mailbox", "name", "active", "script")  # saving one active deactivates the other (the model)


# --- staff roles --------------------------------------------------------------------------


@admin.register(DomainAdminRole)
class DomainAdminRoleAdmin(admin.ModelAdmin):
    """Only superadmins hand out domain admin roles."""

    list_display = ("user", "domain_list")
    filter_horizontal = ("domains",)
    search_fields = ("user__username",)

    @admin.display(description="domains")
    def domain_list(self, obj: DomainAdminRole) -> str:
        return ", ".join(d.name for d in obj.domains.all())

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superadmin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superadmin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superadmin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superadmin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superadmin(request)



# --- mail authentication and anti-abuse (agents.mailauth; docs/mailauth.md) ------------------
from webadmin.models import DkimKey, GreylistWhitelist, MailPolicy  # noqa: E402


@admin.action(description="Generate a DKIM key (RSA 2048) for the selected domains")
def generate_dkim_key(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
    from webadmin.dkimkeys import create_key

    made = [create_key(domain, "rsa", rotate=False) for domain in queryset]
    modeladmin.message_user(request, "; ".join(f"{k}: {k.dns_value()[:60]}…" for k in made))


DomainAdminView.actions = [*DomainAdminView.actions, generate_dkim_key]


@admin.register(DkimKey)
class DkimKeyAdmin(admin.ModelAdmin):
    """Keys are made by the action/command (never typed in); the admin shows records and rotates."""

    list_display = ("__str__", "algorithm", "active", "created")
    list_filter = ("active", "algorithm")
    readonly_fields = ("domain", "selector", "algorithm", "dns_record", "created")
    exclude = ("private_key", "public_key")
    actions = ["rotate"]

    @admin.display(description="DNS TXT record")
    def dns_record(self, obj: DkimKey) -> str:
        return obj.dns_value()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superadmin(request)

    @admin.action(description="Rotate: a new key with a new selector replaces these")
    def rotate(self, request: HttpRequest, queryset: QuerySet[DkimKey]) -> None:
        from webadmin.dkimkeys import create_key

        for key in queryset:
            create_key(key.domain, key.algorithm, rotate=True)
        self.message_user(request, "Rotated; publish the new records before removing the old ones.")


@admin.register(MailPolicy)
class MailPolicyAdmin(admin.ModelAdmin):
    list_display = ("domain", "dmarc_action", "spam_junk_score", "spam_reject_score", "greylisting",
                    "max_messages_per_hour", "max_recipients_per_message")
    list_editable = ("dmarc_action", "greylisting")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superadmin(request)


@admin.register(GreylistWhitelist)
class GreylistWhitelistAdmin(admin.ModelAdmin):
    list_display = ("entry", "comment", "created")
    search_fields = ("entry", "comment")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superadmin(request)


# --- external sources (agents.fetch): configuration here, poll state from agents.models.FetchState ---

from .models import ExternalSource  # noqa: E402


class ExternalSourceForm(forms.ModelForm):
    new_password = forms.CharField(label="Password", required=False, strip=False,
                                   widget=forms.PasswordInput(render_value=False),
                                   help_text="Stored encrypted. Leave empty to keep the current one.")

    class Meta:
        model = ExternalSource
        fields = ["mailbox", "protocol", "host", "port", "tls", "verify_certificate", "login", "new_password",
                  "folder", "keep", "interval", "active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("new_password") and not (self.instance and self.instance.password_encrypted):
            raise ValidationError({"new_password": "Give the password of the other account."})
        return data

    def save(self, commit: bool = True) -> ExternalSource:
        source = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            source.set_password(self.cleaned_data["new_password"])
        if commit:
            source.save()
        return source


@admin.register(ExternalSource)
class ExternalSourceAdmin(DomainScopedAdmin):
    form = ExternalSourceForm
    domain_path = "mailbox__domain"
    list_display = ("mailbox", "login", "host", "protocol", "keep", "active", "last_success", "last_error")
    list_filter = ("protocol", "active")
    search_fields = ("login", "host", "mailbox__local_part", "mailbox__domain__name")

    def _state(self, obj: ExternalSource) -> Any:
        from agents.models import FetchState

        return FetchState.objects.filter(source_id=obj.pk).first()

    @admin.display(description="last success")
    def last_success(self, obj: ExternalSource) -> Any:
        state = self._state(obj)
        return state.last_success if state and state.last_success else "never"

    @admin.display(description="last error")
    def last_error(self, obj: ExternalSource) -> str:
        state = self._state(obj)
        if not state or not state.last_error:
            return ""
        return f"{state.last_error} ({state.failures} failed polls; next try {state.next_attempt:%Y-%m-%d %H:%M} UTC)"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "mailbox" and not is_superadmin(request):
            kwargs["queryset"] = Mailbox.objects.filter(domain__in=services.managed_domains(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
