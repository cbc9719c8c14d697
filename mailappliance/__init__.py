"""mailappliance Django project: settings, URLs and the Celery app."""
from . import unused

unused.install()  # before Django or Celery load the libraries whose optional imports it refuses

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
