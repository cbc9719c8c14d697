"""The Celery app. Broker and schedule come from settings (CELERY_* names).

A worker and beat say they are ready by touching a file in ``MAILAPP_RUN_DIR``
(``worker.ready``, ``beat.ready``): the supervisor prints its start-up banner only
after them, so the first-admin link is not scrolled away by their start-up lines.
"""
import os
import warnings
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps, signals
from celery.exceptions import SecurityWarning
from click import Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailappliance.settings")

app = Celery("mailappliance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["agents", "agents.fetch"])


class ThreadedBeat(bootsteps.StartStopStep):
    """``celery worker --beat-thread``: beat on a thread of the worker (the small profile).

    Celery's own ``-B`` runs beat as a forked process; a thread costs a few hundred KiB
    instead of a second interpreter. Only one worker may run it (the supervisor's).
    """

    label = "beat (thread)"

    def __init__(self, parent, beat_thread=False, **options):  # type: ignore[no-untyped-def]
        self.enabled = bool(beat_thread)
        super().__init__(parent, **options)

    def create(self, parent):  # type: ignore[no-untyped-def]
        from celery.beat import EmbeddedService

        # Celery's embedded service would take its default scheduler, not the configured one
        # (agents.cluster.beat: periodic work only on the node holding the lease).
        return EmbeddedService(parent.app, thread=True, scheduler_cls=parent.app.conf.beat_scheduler)


app.user_options["worker"].add(Option(["--beat-thread"], is_flag=True, default=False,
                                      help="Run beat on a thread of this worker."))  # fmt: skip
app.steps["worker"].add(ThreadedBeat)
# Run as root (to bind port 25, in a container), Celery warns on every worker start. Its
# danger is pickled task messages run as root; this app accepts JSON only
# (CELERY_ACCEPT_CONTENT), so the warning tells the operator nothing to act on.
if "pickle" not in app.conf.accept_content:
    warnings.filterwarnings("ignore", message="You're running the worker with superuser", category=SecurityWarning)


def ready_file(name: str) -> Path:
    from django.conf import settings

    return Path(settings.MAILAPP_RUN_DIR) / f"{name}.ready"


def _touch(name: str) -> None:
    path = ready_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


@signals.worker_ready.connect
def _worker_ready(**_: Any) -> None:
    _touch("worker")


@signals.beat_init.connect
@signals.beat_embedded_init.connect  # beat on a thread of the worker (the small profile)
def _beat_ready(**_: Any) -> None:
    _touch("beat")


@signals.task_prerun.connect
@signals.task_postrun.connect
def _check_connections(task: Any = None, **_: Any) -> None:
    """Close a database connection that broke or outlived CONN_MAX_AGE (settings keep it across tasks).

    Not for a task run eagerly: it runs inside its caller's connection (a request, a test's transaction)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
