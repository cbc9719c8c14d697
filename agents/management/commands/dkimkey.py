"""``manage.py dkimkey DOMAIN [--rotate] [--ed25519]``: make (or rotate) a domain's DKIM key, print its DNS record."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webadmin.dkimkeys import create_key, quoted_txt


class Command(BaseCommand):
    help = "Make a DKIM key for a domain (RSA 2048, or Ed25519) and print the TXT record to publish."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument("--rotate", action="store_true", help="Replace the active key with a new selector.")
        parser.add_argument("--ed25519", action="store_true", help="An Ed25519 key (RFC 8463) instead of RSA.")

    def handle(self, *args: Any, **options: Any) -> None:
        from mailcore.addresses import AddressError, normalize_domain
        from webadmin.models import Domain

        try:
            name = normalize_domain(options["domain"])
        except AddressError as exc:
            raise CommandError(f"{options['domain']!r} is not a domain name: {exc}") from exc
        domain = Domain.objects.filter(name=name).first()
        if domain is None:
            raise CommandError(f"{name} is not a local domain; add it first (manage.py createdomain {name}).")
        key = create_key(domain, "ed25519" if options["ed25519"] else "rsa", rotate=options["rotate"])
        self.stdout.write(f"{key.selector}._domainkey.{domain.name}. IN TXT {quoted_txt(key.dns_value())}")
