"""``manage.py importaliases FILE --domain DOMAIN``: load an /etc/aliases-format file."""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from mailcore.addresses import AddressError, normalize_domain
from webadmin import services
from webadmin.aliasesfile import parse_aliases
from webadmin.models import Alias, Domain

from ._helpers import as_command_error


class Command(BaseCommand):
    help = ("Import an /etc/aliases-format file into DOMAIN: local names, lists, external addresses and "
            "/dev/null (discard). Pipes, files and :include: are refused with the reason.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the aliases file, or - for standard input.")
        parser.add_argument("--domain", required=True, help="Domain of the alias names and of bare local targets.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything, change nothing.")
        parser.add_argument("--skip-existing", action="store_true", help="Leave aliases that exist alone.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            domain_name = normalize_domain(options["domain"])
        except AddressError as exc:
            raise CommandError(str(exc)) from exc
        if not Domain.objects.filter(name=domain_name).exists():
            raise CommandError(f"{domain_name} is not a domain of this appliance; create it first.")
        path = options["file"]
        try:
            text = __import__("sys").stdin.read() if path == "-" else Path(path).read_text(errors="replace")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        entries, refusals = parse_aliases(text)
        created, skipped = 0, 0
        problems = [f"line {r.line}: {r.reason}" for r in refusals]
        with transaction.atomic():
            for entry in entries:
                targets = [t if "@" in t else f"{t}@{domain_name}" for t in entry.targets]
                if Alias.objects.filter(domain__name=domain_name, local_part=entry.name).exists():
                    if options["skip_existing"]:
                        skipped += 1
                        continue
                try:
                    with transaction.atomic():
                        services.create_alias(f"{entry.name}@{domain_name}", targets, discard=entry.discard)
                    created += 1
                except ValidationError as exc:
                    problems.append(f"line {entry.line} ({entry.name}): {as_command_error(exc)}")
            if options["dry_run"]:
                transaction.set_rollback(True)
        for problem in problems:
            self.stderr.write(problem)
        verb = "Would create" if options["dry_run"] else "Created"
        self.stdout.write(f"{verb} {created} aliases in {domain_name}; {skipped} skipped; {len(problems)} refused.")
        if problems:
            raise CommandError(f"{len(problems)} entries were refused (see above); the others were imported.")
