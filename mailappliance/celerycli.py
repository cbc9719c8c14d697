"""``python -m mailappliance.celerycli worker|beat [options]``: ``celery -A mailappliance --quiet
worker|beat [options]`` without the rest of Celery's command line.

``celery`` (``celery.bin.celery``) imports every subcommand before it runs one, among them the
``amqp`` shell with click-repl and prompt-toolkit: about 13 MiB of Python heap that a worker or
beat never uses and, on the small profile, the supervisor would preload for the worker. This
runs Celery's own ``worker`` or ``beat`` command (the same options, ``--beat-thread`` included)
on this project's app.
"""

from __future__ import annotations

import sys

import click
from celery.bin.base import CLIContext
from celery.bin.beat import beat
from celery.bin.worker import worker

from mailappliance.celery import app

COMMANDS: dict[str, click.Command] = {"worker": worker, "beat": beat}


def main(argv: list[str] | None = None) -> None:
    """Run the command named first in ``argv`` until it stops, then exit (``SystemExit``) with its
    exit code, as ``celery`` does."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        raise SystemExit(f"usage: python -m mailappliance.celerycli {{{'|'.join(COMMANDS)}}} [options]")
    command = COMMANDS[args[0]]
    options = app.user_options.get(args[0], set())
    command.params.extend(option for option in options if option not in command.params)  # as `celery` does
    context = CLIContext(app=app, no_color=False, workdir=None, quiet=True)
    command.main(args=args[1:], prog_name=f"mailappliance.celerycli {args[0]}", obj=context)


if __name__ == "__main__":
    main()
