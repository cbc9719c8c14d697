"""Fixtures for the dashboard tests: staff users, queue rows, a login helper."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from agents.models import QueueEvent, QueueMessage, QueueRecipient
from webadmin.models import DomainAdmin

STAFF_PASSWORD = "dashboard-pass-word-1"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Staff logins in every test: a cheap hasher keeps the suite fast (tests only)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", STAFF_PASSWORD)


@pytest.fixture
def make_domain_admin(db, make_domain) -> Callable[..., User]:
    def make(username: str, *domain_names: str) -> User:
        user = User.objects.create_user(username, password=STAFF_PASSWORD, is_staff=True)
        role = DomainAdmin.objects.create(user=user)
        for name in domain_names:
            from webadmin.models import Domain

            domain = Domain.objects.filter(name=name).first() or make_domain(name)
            role.domains.add(domain)
        return user

    return make


@pytest.fixture
def make_queued(db) -> Callable[..., QueueMessage]:
    """A queue row as delivery leaves it: recipients with states, events, an error."""

    def make(
        queue_id: str,
        sender: str,
        recipients: list[str],
        *,
        state: str = QueueMessage.ACTIVE,
        recipient_state: str = QueueRecipient.DEFERRED,
        error: str = "",
        **fields: object,
    ) -> QueueMessage:
        message = QueueMessage.objects.create(
            queue_id=queue_id,
            sender=sender,
            state=state,
            attempts=1 if recipient_state == QueueRecipient.DEFERRED else 0,
            last_error=error,
            next_attempt=timezone.now() + timezone.timedelta(minutes=5),
            **fields,
        )
        for address in recipients:
            QueueRecipient.objects.create(message=message, address=address, state=recipient_state, last_error=error)
        QueueEvent.objects.create(message=message, event="received", detail=f"from <{sender}> via smtp")
        return message

    return make


@pytest.fixture
def one_domain(db):
    """example.com without mailboxes beyond its postmaster target: cheaper than example_com."""
    from webadmin.models import Domain

    return Domain.objects.create(name="example.com")


@pytest.fixture(autouse=True)
def _loopback_resolver(settings):
    """Health asks the resolver for a known name: answer it on loopback, never from outside.

    Tests that check DNS records replace MAILAPP_DNS_SERVER with their own server.
    """
    from tests.fakes.dns import FakeDNS

    with FakeDNS({settings.MAILAPP_RESOLVER_PROBE_NAME: {"NS": ["a.iana-servers.net"]}}) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        yield server
