"""Dashboard pages for scheduled backups: the schedules, their recent runs, edit, "run now", delete.

Superusers only (a backup holds every mailbox). Saving a schedule opens its
archive with the given key (making it on first use), so a wrong passphrase, an
unreachable bucket or an unwritable directory is reported on the form, not by
the first night's run. See docs/backup.md.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.backup import BackupError, schedule
from agents.config import backup as backup_config
from agents.models import BackupRun
from webadmin.models import BackupSchedule

from .access import superadmin_required
from .backup_forms import BackupScheduleForm

RECENT_RUNS = 50


class _TargetRefused(Exception):
    pass


@require_GET
@superadmin_required
def backup_list(request: HttpRequest) -> HttpResponse:
    schedules = list(BackupSchedule.objects.order_by("name"))
    runs = list(BackupRun.objects.order_by("-created", "-id")[:RECENT_RUNS])
    last: dict[int, BackupRun] = {}
    for run in runs:
        if run.kind == BackupRun.BACKUP:
            last.setdefault(run.schedule_id, run)
    rows = [(s, last.get(s.pk)) for s in schedules]
    return render(request, "dashboard/backups.html", {"rows": rows, "runs": runs, "nav": "backups"})


@require_http_methods(["GET", "POST"])
@superadmin_required
def backup_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    row = BackupSchedule() if pk is None else _schedule(pk)
    form = BackupScheduleForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                saved = form.save()
                _check_target(saved.pk)
        except _TargetRefused as exc:
            form.add_error(None, f"The archive cannot be opened: {exc}")
        else:
            messages.success(request, f"Backup schedule {saved.name} saved; its archive is ready at {saved.where()}.")
            return redirect("dashboard:backups")
    title = "New backup schedule" if pk is None else f"Backup schedule {row.name}"
    context: dict[str, Any] = {"form": form, "title": title, "submit": "Save", "nav": "backups",
                               "back_url": reverse("dashboard:backups"),
                               "intro": "Backups are encrypted before they leave; the passphrase or key file is "
                                        "needed to restore them."}
    response = render(request, "dashboard/edit.html", context, status=400 if form.errors else 200)
    response["Cache-Control"] = "private, no-store"
    return response


def _check_target(pk: int) -> None:
    info = backup_config.schedule(pk)
    assert info is not None
    try:
        repo = schedule.open_repository(info)
        repo.close()
    except BackupError as exc:
        raise _TargetRefused(str(exc)) from None


@require_POST
@superadmin_required
def backup_run(request: HttpRequest, pk: int) -> HttpResponse:
    """"Run now": a backup of this schedule, queued for a worker; it shows among the runs below."""
    from agents.tasks import run_backup

    found = _schedule(pk)
    kind = BackupRun.RESTORE_TEST if request.POST.get("kind") == "restore-test" else BackupRun.BACKUP
    if BackupRun.objects.filter(schedule_id=pk, kind=kind, state__in=[BackupRun.QUEUED, BackupRun.RUNNING]).exists():
        messages.error(request, f"A {kind.replace('-', ' ')} of {found.name} is already queued or running.")
        return redirect("dashboard:backups")
    run_id = schedule.queue_run(pk, "manual", kind=kind)
    run_backup.delay(run_id)
    messages.success(request, f"{'Restore test' if kind == BackupRun.RESTORE_TEST else 'Backup'} of {found.name} "
                              "queued; its outcome shows below.")
    return redirect("dashboard:backups")


@require_http_methods(["GET", "POST"])
@superadmin_required
def backup_delete(request: HttpRequest, pk: int) -> HttpResponse:
    found = _schedule(pk)
    if request.method == "POST" and request.POST.get("confirm") == "1":
        name = found.name
        found.delete()
        messages.success(request, f"Backup schedule {name} deleted; the backups it made stay where they are.")
        return redirect("dashboard:backups")
    return render(request, "dashboard/confirm_backup_delete.html", {"schedule": found, "nav": "backups"})


def _schedule(pk: int) -> BackupSchedule:
    found = BackupSchedule.objects.filter(pk=pk).first()
    if found is None:
        raise Http404("No such backup schedule.")
    return found
