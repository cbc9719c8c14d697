"""Dashboard pages: each view parses the request, calls one service function, renders."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.models import AgentProcess, QueueMessage
from agents.queue import accountguard
from webadmin import apppasswords, rules, rulescript, services
from webadmin.models import Mailbox

from . import domains as domain_service
from . import health as health_service
from . import queueops, selftest
from . import trace as trace_service
from . import traffic as traffic_service
from .access import is_superadmin, staff_required, superadmin_required, visible_audit, visible_holds
from .dnscheck import check_domain, host_warning
from .glance import glance


@require_GET
@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    if not is_superadmin(request.user):
        return redirect("dashboard:domains")
    found = glance()
    return render(request, "dashboard/overview.html", {"glance": found, "health": found.health,
                                                       "nodes": health_service.nodes(), "nav": "health"})


RESTART_EFFECTS = {
    "smtp": "Open SMTP sessions are cut: senders that got no 250 yet retry later, as with any MTA restart.",
    "web": "This dashboard, the admin, the API and webmail stop answering for a few seconds; "
    "requests in progress fail.",
    "imap": "Every IMAP client is disconnected and reconnects by itself.",
    "pop3": "POP3 sessions in progress are cut; nothing is deleted from a cut session.",
    "worker": "Deliveries in progress are retried (each at most once per recipient).",
    "beat": "Scheduled jobs (retries, polls) pause for a few seconds.",
}


@require_http_methods(["GET", "POST"])
@superadmin_required
def restart(request: HttpRequest, name: str) -> HttpResponse:
    """GET: what a restart of ``name`` does, with a button; POST (with ``confirm``): ask the supervisor
    of the node named by ``?node=`` (default: this node)."""
    node = request.GET.get("node") or settings.MAILAPP_NODE
    if request.method == "GET" or request.POST.get("confirm") != "1":
        if not AgentProcess.objects.filter(node=node, name=name).exists():
            raise Http404("There is no process called that.")
        effect = RESTART_EFFECTS.get(name, "The process stops and starts again.")
        return render(request, "dashboard/confirm_restart.html",
                      {"name": name, "node": node, "effect": effect, "nav": "health"})
    if health_service.request_restart(name, node):
        messages.success(request, f"Restart of {name} requested; the supervisor restarts it within seconds.")
    else:
        messages.error(request, f"There is no process called {name}.")
    return redirect("dashboard:overview")


@require_http_methods(["GET", "POST"])
@superadmin_required
def run_selftest(request: HttpRequest) -> HttpResponse:
    """POST: send a real message through every hop now and show each hop (GET: the button only)."""
    report = selftest.run(wait=SELFTEST_WAIT) if request.method == "POST" else None
    return render(request, "dashboard/selftest.html", {"report": report, "nav": "health"})


SELFTEST_WAIT = 8.0  # seconds per engine hop from the web: the whole run stays inside a worker's timeout


@require_GET
@superadmin_required
def traffic(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/traffic.html", {"traffic": traffic_service.traffic(), "nav": "traffic"})


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    waiting = list(queueops.waiting(request.user))
    holds = list(visible_holds(request.user).filter(released__isnull=True).order_by("-created"))
    return render(request, "dashboard/queue.html", {"waiting": waiting, "holds": holds, "nav": "queue"})


@require_POST
@staff_required
def queue_action(request: HttpRequest, queue_id: str) -> HttpResponse:
    try:
        done = queueops.apply(request.user, queue_id, request.POST.get("action", ""))
    except QueueMessage.DoesNotExist as exc:
        raise Http404("No such message in your domains.") from exc
    except queueops.QueueActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    if request.POST.get("back") == "trace" and request.POST.get("action") != "delete":
        return redirect("dashboard:trace", queue_id=queue_id)
    return redirect("dashboard:queue")


@require_GET
@staff_required
def trace_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    if query.strip():
        results = trace_service.search(request.user, query)
        refused = trace_service.search_refusals(request.user, query)
        if len(results) == 1 and not refused:
            return redirect("dashboard:trace", queue_id=results[0].queue_id)
    else:
        results, refused = trace_service.recent(request.user)
    context = {"q": query, "results": results, "refusals": refused, "nav": "trace"}
    return render(request, "dashboard/trace_search.html", context)


@require_GET
@staff_required
def audit(request: HttpRequest) -> HttpResponse:
    rows = list(visible_audit(request.user).order_by("-when", "-id")[:200])
    holds = list(visible_holds(request.user).order_by("-created")[:100])
    return render(request, "dashboard/audit.html", {"audit": rows, "holds": holds, "nav": "audit"})


@require_POST
@staff_required
def guard_action(request: HttpRequest, hold_id: int) -> HttpResponse:
    """Release or delete the mail an account guard hold keeps (one click), which ends the hold."""
    action = request.POST.get("action", "")
    hold = visible_holds(request.user).filter(pk=hold_id, released__isnull=True).first()
    if hold is None:
        raise Http404("No open hold of that id in your domains.")
    who = request.user.get_username()
    if action == "release":
        ids = accountguard.release(hold.pk, who, via="dashboard")
        messages.success(request, f"{hold.account} may send again; {len(ids)} held message(s) released.")
    elif action == "delete":
        ids = accountguard.delete(hold.pk, who, via="dashboard")
        messages.success(request, f"{hold.account} may send again; {len(ids)} held message(s) deleted.")
    else:
        messages.error(request, f"Unknown action {action!r}.")
    return redirect("dashboard:queue")


@require_GET
@staff_required
def trace(request: HttpRequest, queue_id: str) -> HttpResponse:
    found = trace_service.trace(request.user, queue_id)
    if found is None:
        raise Http404("No such message in your domains.")
    return render(request, "dashboard/trace.html", {"trace": found, "nav": "trace"})


@require_GET
@staff_required
def domains(request: HttpRequest) -> HttpResponse:
    context = {
        "summaries": domain_service.summaries(request.user),
        "overcommit": services.overcommit() if is_superadmin(request.user) else "",
        "nav": "domains",
    }
    return render(request, "dashboard/domains.html", context)


@require_GET
@staff_required
def domain(request: HttpRequest, name: str) -> HttpResponse:
    found = domain_service.domain_for(request.user, name)
    if found is None:
        raise Http404("No such domain among yours.")
    context = {
        "domain": found,
        "results": check_domain(found.name),
        "host_warning": host_warning(),
        "has_dkim": found.dkim_keys.filter(active=True).exists(),
        "mailboxes": domain_service.mailboxes(found),
        "aliases": list(found.aliases.all()),
        "nav": "domains",
    }
    return render(request, "dashboard/domain.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
def mailbox(request: HttpRequest, name: str, local_part: str) -> HttpResponse:
    """A mailbox of one's domains and its app passwords (create: the secret is shown in this response only)."""
    found = domain_service.mailbox_for(request.user, name, local_part)
    if found is None:
        raise Http404("No such mailbox among your domains.")
    secret = ""
    if request.method == "POST":
        what = request.POST.get("what")
        try:
            if what == "app_password":
                _row, secret = apppasswords.issue_from_form(found, request.POST)
            elif what == "app_password_revoke" and apppasswords.revoke(found.pk, request.POST.get("id", "")):
                messages.success(request, "App password revoked: it no longer opens this mailbox.")
            elif what == "require_app_passwords":
                found.require_app_passwords = request.POST.get("active") == "1"
                found.save(update_fields=["require_app_passwords"])
                messages.success(request, "Saved.")
            elif what == "move":
                _start_move(request, found)
            elif what == "vacation":
                rules.set_vacation(
                    found.pk, bool(request.POST.get("active")), str(request.POST.get("subject", "")),
                    str(request.POST.get("body", "")), request.POST.get("days", "7"),
                    str(request.POST.get("start", "")), str(request.POST.get("end", "")),
                )  # fmt: skip
                messages.success(request, "Vacation auto-reply saved.")
                if rulescript.not_running_note(found.pk):
                    messages.warning(request, rulescript.not_running_note(found.pk))
        except ValidationError as exc:
            messages.error(request, apppasswords.error_text(exc))
        except rules.RuleError as exc:
            messages.error(request, str(exc))
        if not secret:
            return redirect("dashboard:mailbox", name=found.domain.name, local_part=found.local_part)
    context = {
        "mailbox": found,
        "app_passwords": apppasswords.of(found.pk),
        "scopes": apppasswords.scope_choices(),
        "new_app_password": secret,
        "filters": [(rule, *rules.describe(rule)) for rule in rules.filters_of(found.pk)],
        "vacation": rules.vacation_of(found.pk),
        "scripts": rulescript.scripts_of(found.pk),
        "rule_status": rulescript.status(found.pk),
        "usage": domain_service.mailbox_usage(found.address),
        "node": _node_facts(request, found),
        "nav": "domains",
    }
    response = render(request, "dashboard/mailbox.html", context)
    response["Cache-Control"] = "private, no-store"  # the page may show a new secret
    return response


def _node_facts(request: HttpRequest, mailbox: Mailbox) -> dict[str, Any]:
    """The mailbox page's node card: where it lives, its latest move, where a superadmin may move it."""
    from agents.cluster import cluster_mode, move, placement

    if not cluster_mode():
        return {"cluster": False, "home": mailbox.home_node}
    targets = [n for n in placement.live_nodes() if n != mailbox.home_node] if is_superadmin(request.user) else []
    return {"cluster": True, "home": mailbox.home_node, "move": move.latest(mailbox.address), "targets": targets}


def _start_move(request: HttpRequest, mailbox: Mailbox) -> None:
    from agents.cluster import move

    if not is_superadmin(request.user):
        messages.error(request, "Only a superadmin moves mailboxes between nodes.")
        return
    try:
        started = move.start(mailbox.address, str(request.POST.get("node", "")))
    except move.MoveRefused as exc:
        messages.error(request, str(exc))
        return
    messages.success(request, f"Moving {started.address} from node {started.source} to node {started.target}: "
                              "sessions end and deliveries wait for a moment; this page shows the progress.")
