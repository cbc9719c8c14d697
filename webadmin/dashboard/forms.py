"""The dashboard's provisioning forms: domains, mailboxes, aliases, domain admins.

Forms only parse and show errors; the rules are the models' ``clean()`` and
``webadmin.services`` (the same as the Django admin, the API and the commands).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from webadmin.formfields import TargetsField
from webadmin.models import Alias, Domain, Mailbox
from webadmin.units import GiB, QuotaField

PROTOCOLS = ("can_smtp", "can_imap", "can_pop3", "can_webmail", "require_app_passwords")


class PasswordWithGenerate(forms.PasswordInput):
    """A password box; ``dashboard/_form.html`` puts a "Generate" button beside it (dashboard.js)."""

    def __init__(self) -> None:
        super().__init__(attrs={"autocomplete": "new-password", "class": "password-generate"}, render_value=False)


class DomainCreateForm(forms.Form):
    name = forms.CharField(max_length=255, help_text="e.g. example.com (Unicode names are fine).")
    description = forms.CharField(max_length=200, required=False)
    default_quota = QuotaField(required=True, initial=GiB, label="Quota of new mailboxes")
    max_mailboxes = forms.IntegerField(min_value=0, initial=0, help_text="0 = no limit.")
    postmaster = forms.CharField(
        help_text="Who gets postmaster@ and abuse@ mail. An address in this domain that does not exist yet "
        "is created as a mailbox (set its password next).",
    )


class DomainEditForm(forms.ModelForm):
    default_quota = QuotaField(required=True, label="Quota of new mailboxes")

    class Meta:
        model = Domain
        fields = ("description", "active", "default_quota", "max_mailboxes")

    def __init__(self, *args: Any, superadmin: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not superadmin:  # a domain admin tunes their domain but does not lift the limits a superadmin set
            for name in ("default_quota", "max_mailboxes"):
                self.fields[name].disabled = True


class MailboxForm(forms.ModelForm):
    local_part = forms.CharField(label="Address", max_length=64, help_text="The part before the @.")
    quota = QuotaField(required=False, help_text="Empty: the domain's default. 0 = unlimited.")
    password = forms.CharField(
        required=False, strip=False, widget=PasswordWithGenerate(),
        help_text="At least 8 characters, not a common password, not like the address or name.",
    )  # fmt: skip

    class Meta:
        model = Mailbox
        fields = ("local_part", "name", "quota", "active", *PROTOCOLS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["local_part"].disabled = True
            self.fields["password"].help_text = "Leave empty to keep the current password. " + str(
                self.fields["password"].help_text
            )
        else:
            self.fields["password"].required = True
        self._node_field()

    def _node_field(self) -> None:
        """Cluster mode: the home node, chosen among the running nodes when the mailbox is made
        (placement's choice preselected); afterwards shown only (the mailbox page moves it)."""
        from agents.cluster import cluster_mode, placement

        if not cluster_mode():
            return
        if self.instance.pk:
            self.fields["home_node"] = forms.CharField(
                label="Node", disabled=True, required=False, initial=self.instance.home_node,
                help_text="Where its mail lives; move it from the mailbox's page.")
            return
        nodes = placement.live_nodes()
        self.fields["home_node"] = forms.ChoiceField(
            label="Node", choices=[(n, n) for n in nodes], initial=placement.choose_node(),
            help_text="The node whose disk holds its mail (preselected: the running node with the fewest mailboxes).")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = data.get("password")
        if raw and not self.errors:
            from webadmin.services import check_mailbox_password

            probe = self.instance
            probe.local_part = data.get("local_part") or probe.local_part
            probe.name = data.get("name", "")
            try:
                check_mailbox_password(probe, raw)
            except ValidationError as exc:
                self.add_error("password", exc.message_dict["password"])
        return data

    def save(self, commit: bool = True) -> Mailbox:
        mailbox = super().save(commit=False)
        if self.cleaned_data.get("password"):
            mailbox.set_password(self.cleaned_data["password"])
        if commit:
            mailbox.save()
        return mailbox


class AliasForm(forms.ModelForm):
    local_part = forms.CharField(
        label="Address", max_length=64, required=False, help_text="The part before the @; empty: a catch-all."
    )
    targets = TargetsField()

    class Meta:
        model = Alias
        fields = ("local_part", "targets", "discard", "active")


class StaffForm(forms.Form):
    """A domain admin: a staff login limited to some domains (the role is enough: no other box to tick)."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(required=False, strip=False, widget=PasswordWithGenerate())
    domains = forms.ModelMultipleChoiceField(
        queryset=Domain.objects.all(), widget=forms.CheckboxSelectMultiple, required=False
    )
    active = forms.BooleanField(required=False, initial=True, help_text="Untick to lock the login out.")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:
            self.fields["username"].disabled = True
            self.fields["password"].help_text = "Leave empty to keep the current password."
        else:
            self.fields["password"].required = True

    def clean_username(self) -> str:
        name = self.cleaned_data["username"].strip()
        if self.user is None and get_user_model().objects.filter(username=name).exists():
            raise ValidationError(f"There is already a login called {name}.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = data.get("password")
        if raw:
            probe = self.user or get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                validate_password(raw, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data
