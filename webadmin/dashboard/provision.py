"""Create, edit and delete domains, mailboxes, aliases and domain admins in the dashboard.

Each view parses the form, calls ``webadmin.services`` (or the model's
``full_clean()``), and renders; tenancy is ``access.visible_domains``. Deleting
always goes through a confirmation page that counts what goes (``removal.py``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from webadmin import rules, rulescript, services
from webadmin.models import Alias, Domain, Filter, Mailbox
from webadmin.models import DomainAdmin as DomainAdminRole
from webadmin.passwords import generate_password

from . import domains as domain_service
from . import removal, setup
from .access import is_superadmin, staff_required, superadmin_required
from .forms import AliasForm, DomainCreateForm, DomainEditForm, MailboxForm, StaffForm


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("nav", "domains")
    context.setdefault("suggested_password", generate_password())
    if "back" in context:
        context["back_url"] = reverse(context["back"][0], args=context["back"][1:])
    return render(request, f"dashboard/{template}", context, status=status)


def _apply_errors(form: Any, exc: ValidationError) -> None:
    """Put a model's or service's ValidationError on the form's fields (unknown fields: on the form)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _warn_overcommit(request: HttpRequest) -> None:
    note = services.overcommit()
    if note:
        messages.warning(request, note)


def _mode(request: HttpRequest) -> services.RemovalMode:
    return "archive" if request.POST.get("mode") == "archive" else "keep"


def _domain_or_404(request: HttpRequest, name: str) -> Domain:
    found = domain_service.domain_for(request.user, name)
    if found is None:
        raise Http404("No such domain among yours.")
    return found


def _mailbox_or_404(request: HttpRequest, name: str, local_part: str) -> Mailbox:
    found = domain_service.mailbox_for(request.user, name, local_part)
    if found is None:
        raise Http404("No such mailbox among your domains.")
    return found


# --- domains ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@superadmin_required
def domain_new(request: HttpRequest) -> HttpResponse:
    form = DomainCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = services.create_domain(
                data["name"], data["postmaster"], description=data["description"],
                default_quota=data["default_quota"], max_mailboxes=data["max_mailboxes"],
            )  # fmt: skip
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            note = f"Domain {made.domain.display_name} created; postmaster@ and abuse@ go to {made.postmaster}."
            if made.created_mailbox:
                note += f" Set a password for {made.created_mailbox} next."
            messages.success(request, note)
            _warn_overcommit(request)
            if made.created_mailbox:
                return redirect("dashboard:mailbox_edit", name=made.domain.name,
                                local_part=made.created_mailbox.local_part)
            return redirect("dashboard:domain", name=made.domain.name)
    return _page(request, "edit.html", 400 if form.errors else 200, form=form, title="New domain",
                 submit="Create domain", back=("dashboard:domains",))


@require_http_methods(["GET", "POST"])
@staff_required
def domain_edit(request: HttpRequest, name: str) -> HttpResponse:
    domain = _domain_or_404(request, name)
    form = DomainEditForm(request.POST or None, instance=domain, superadmin=is_superadmin(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                saved = form.save(commit=False)
                saved.full_clean()
                saved.save()
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Domain {domain.display_name} saved.")
            _warn_overcommit(request)
            return redirect("dashboard:domain", name=domain.name)
    return _page(request, "edit.html", 400 if form.errors else 200, form=form,
                 title=f"Edit {domain.display_name}", submit="Save", back=("dashboard:domain", domain.name))


@require_http_methods(["GET", "POST"])
@superadmin_required
def domains_delete(request: HttpRequest) -> HttpResponse:
    """Confirm, then delete the domains named in ``?name=`` (one or many; the admin's list action comes here)."""
    names = request.GET.getlist("name") or request.POST.getlist("name")
    chosen = list(Domain.objects.filter(name__in=names))
    if not chosen:
        raise Http404("No such domain.")
    plan = removal.plan_domains(chosen)
    if request.method == "POST":
        removal.remove_domains(chosen, _mode(request))
        shown = ", ".join(d.display_name for d in chosen)
        messages.success(request, f"Deleted {shown}. The mail of {len(plan.mailboxes)} mailbox(es) goes to "
                                  f"{plan.archive_dir}.")
        return redirect("dashboard:domains")
    return _page(request, "confirm_delete.html", plan=plan, what="domains", names=[d.name for d in chosen],
                 title="Delete " + ", ".join(d.display_name for d in chosen))


# --- mailboxes ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required
def mailbox_new(request: HttpRequest, name: str) -> HttpResponse:
    domain = _domain_or_404(request, name)
    form = MailboxForm(request.POST or None, instance=Mailbox(domain=domain))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "quota", "active", "can_smtp", "can_imap", "can_pop3",
                                       "can_webmail", "require_app_passwords")}
        if data.get("home_node"):  # cluster mode: the node chosen in the form
            fields["home_node"] = data["home_node"]
        try:
            made = services.create_mailbox(f"{data['local_part']}@{domain.name}", data["password"], **fields)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Mailbox {made.address} created.")
            _warn_overcommit(request)
            return redirect("dashboard:mailbox", name=domain.name, local_part=made.local_part)
    return _page(request, "edit.html", 400 if form.errors else 200, form=form,
                 title=f"New mailbox in {domain.display_name}", suffix=f"@{domain.name}",
                 submit="Create mailbox", back=("dashboard:domain", domain.name))


@require_http_methods(["GET", "POST"])
@staff_required
def mailbox_edit(request: HttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = _mailbox_or_404(request, name, local_part)
    form = MailboxForm(request.POST or None, instance=mailbox)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                saved = form.save(commit=False)
                saved.full_clean(exclude=["password"])
                saved.save()
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Mailbox {mailbox.address} saved.")
            _warn_overcommit(request)
            return redirect("dashboard:mailbox", name=mailbox.domain.name, local_part=mailbox.local_part)
    return _page(request, "edit.html", 400 if form.errors else 200, form=form, title=f"Edit {mailbox.address}",
                 submit="Save", back=("dashboard:mailbox", mailbox.domain.name, mailbox.local_part))


@require_http_methods(["GET", "POST"])
@staff_required
def mailboxes_delete(request: HttpRequest) -> HttpResponse:
    """Confirm, then delete the mailboxes in ``?address=`` (one or many), keeping or archiving their mail."""
    addresses = request.GET.getlist("address") or request.POST.getlist("address")
    chosen = []
    for address in addresses:
        local, _, domain_name = address.rpartition("@")
        found = domain_service.mailbox_for(request.user, domain_name, local)
        if found is not None:
            chosen.append(found)
    if not chosen:
        raise Http404("No such mailbox among your domains.")
    plan = removal.plan_mailboxes(chosen)
    if request.method == "POST":
        removal.remove_mailboxes(chosen, _mode(request))
        messages.success(request, f"Deleted {len(chosen)} mailbox(es); their mail goes to {plan.archive_dir}.")
        if len({m.domain_id for m in chosen}) == 1:
            return redirect("dashboard:domain", name=chosen[0].domain.name)
        return redirect("dashboard:domains")
    return _page(request, "confirm_delete.html", plan=plan, what="mailboxes", names=[m.address for m in chosen],
                 title="Delete " + ", ".join(m.address for m in chosen))


# --- filters and vacation of a mailbox (the webmail's rule builder) -------------------------


@require_http_methods(["GET", "POST"])
@staff_required
def filter_edit(request: HttpRequest, name: str, local_part: str, pk: int | None = None) -> HttpResponse:
    mailbox = _mailbox_or_404(request, name, local_part)
    try:
        rule = rules.own_filter(mailbox.pk, pk) if pk is not None else None
    except Filter.DoesNotExist as exc:
        raise Http404("No such filter.") from exc
    form = rules.FilterForm.from_filter(rule)
    error = rulescript.hand_written_note(mailbox.pk)
    back = redirect("dashboard:mailbox", name=mailbox.domain.name, local_part=mailbox.local_part)
    if request.method == "POST":
        if "delete" in request.POST and rule is not None:
            rules.delete_filter(mailbox.pk, rule.pk)
            messages.success(request, f"Filter “{rule.name}” deleted.")
            return back
        try:
            rules.save_filter(mailbox.pk, request.POST, pk)
        except rules.RuleError as exc:
            error = str(exc)
            form = rules.FilterForm.from_post(request.POST)
        else:
            messages.success(request, "Filter saved.")
            if rulescript.not_running_note(mailbox.pk):
                messages.warning(request, rulescript.not_running_note(mailbox.pk))
            return back
    status = 400 if error and request.method == "POST" else 200
    return _page(request, "filter.html", status, mailbox=mailbox, rule=rule, form=form, error=error,
                 **rules.builder_context())


# --- aliases ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required
def alias_edit(request: HttpRequest, name: str, pk: int | None = None) -> HttpResponse:
    domain = _domain_or_404(request, name)
    alias = Alias(domain=domain) if pk is None else Alias.objects.filter(domain=domain, pk=pk).first()
    if alias is None:
        raise Http404("No such alias in this domain.")
    form = AliasForm(request.POST or None, instance=alias)
    if request.method == "POST":
        if "delete" in request.POST and alias.pk:
            shown = alias.address if alias.local_part else f"@{domain.name}"
            if request.POST.get("confirm") != "1":
                plan = removal.RemovalPlan(aliases=1)
                return _page(request, "confirm_delete.html", plan=plan, what="alias", names=[], alias=shown,
                             title=f"Delete alias {shown}")
            alias.delete()
            messages.success(request, f"Alias {shown} deleted (no mail is stored in an alias).")
            return redirect("dashboard:domain", name=domain.name)
        if form.is_valid():
            try:
                with transaction.atomic():
                    saved = form.save(commit=False)
                    saved.full_clean()
                    saved.save()
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"Alias {saved.address} saved.")
                return redirect("dashboard:domain", name=domain.name)
    title = f"New alias in {domain.display_name}" if pk is None else f"Alias {alias.address}"
    return _page(request, "edit.html", 400 if form.errors else 200, form=form, title=title, suffix=f"@{domain.name}",
                 submit="Save alias", back=("dashboard:domain", domain.name), alias=alias)


# --- domain admins ------------------------------------------------------------------------


@require_http_methods(["GET"])
@superadmin_required
def staff_list(request: HttpRequest) -> HttpResponse:
    roles = DomainAdminRole.objects.select_related("user").prefetch_related("domains").order_by("user__username")
    superusers = get_user_model().objects.filter(is_superuser=True).order_by("username")
    return _page(request, "staff.html", roles=roles, superusers=superusers, nav="staff")


@require_http_methods(["GET", "POST"])
@superadmin_required
def staff_edit(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    user: Any = None
    initial: dict[str, Any] = {}
    if user_id is not None:
        role = DomainAdminRole.objects.select_related("user").filter(user_id=user_id).first()
        if role is None:
            raise Http404("No such domain admin.")
        user = role.user
        initial = {"username": user.username, "email": user.email, "active": user.is_active,
                   "domains": list(role.domains.all())}
    form = StaffForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = services.save_domain_admin(
            user, data["username"], data["email"], data["password"], list(data["domains"]), data["active"]
        )
        messages.success(request, f"Domain admin {saved.get_username()} saved: they can log in to the dashboard now.")
        return redirect("dashboard:staff")
    title = "New domain admin" if user is None else f"Domain admin {user.username}"
    return _page(request, "edit.html", 400 if form.errors else 200, form=form, title=title, submit="Save",
                 back=("dashboard:staff",), nav="staff")


# --- first start --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def first_admin(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time setup link of the start-up banner: create the first superuser, then log in."""
    if not setup.token_valid(token):
        return HttpResponseForbidden(
            "This setup link is not valid (any more). If an admin exists, log in at /dashboard/login/."
        )
    form = StaffForm(request.POST or None)
    del form.fields["domains"], form.fields["active"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = setup.create_first_admin(data["username"], data["email"], data["password"])
        except ValidationError as exc:
            form.add_error("password", exc)
        except PermissionError as exc:
            return HttpResponseForbidden(str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {data['username']}. Next: create your first domain.")
            return redirect("dashboard:domains")
    return _page(request, "edit.html", 400 if form.errors else 200, form=form, title="Create the first admin",
                 submit="Create admin and log in", intro="This appliance has no admin yet. This link works "
                 "once: the account you create here is the superuser.", nav="")
