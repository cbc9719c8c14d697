"""The Celery app. Broker and schedule come from settings (CELERY_* names)."""
import os

from celery import Celery, bootsteps
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

        return EmbeddedService(parent.app, thread=True)


app.user_options["worker"].add(Option(["--beat-thread"], is_flag=True, default=False,
                                      help="Run beat on a thread of this worker."))  # fmt: skip
app.steps["worker"].add(ThreadedBeat)
