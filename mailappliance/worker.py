"""``python -m mailappliance.worker [options]``: ``celery -A mailappliance --quiet worker [options]``
without the rest of Celery's command line.

``celery`` (``celery.bin.celery``) imports every subcommand before it runs one, among them the
``amqp`` shell with click-repl and prompt-toolkit: about 13 MiB of Python heap that a worker
never uses and, on the small profile, the supervisor would preload for it. This runs Celery's
own ``worker`` command (the same options, ``--beat-thread`` included) on this project's app.
"""

from __future__ import annotations

import sys

from celery.bin.base import CLIContext
from celery.bin.worker import worker

from mailappliance.celery import app


def main(argv: list[str] | None = None) -> None:
    """Run the worker until it stops, then exit (``SystemExit``) with its exit code, as ``celery`` does."""
    options = app.user_options.get("worker", set())
    worker.params.extend(option for option in options if option not in worker.params)  # as `celery` does
    context = CLIContext(app=app, no_color=False, workdir=None, quiet=True)
    worker.main(args=sys.argv[1:] if argv is None else argv, prog_name="mailappliance.worker", obj=context)


if __name__ == "__main__":
    main()
