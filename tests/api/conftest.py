"""API test fixtures: token clients for a superadmin, a domain admin and a plain user.

Clients send ``Authorization: Token …`` exactly as a provisioning script would.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import clear_cache
from webadmin import services
from webadmin.models import Domain, DomainAdmin, Filter


def token_client(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Failed-authentication counters live in the cache: every test starts with none."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(autouse=True)
def _mail_home(settings, tmp_path):
    """Each test's mail store and archive in its own directory."""
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    settings.MAILAPP_ARCHIVE_DIR = tmp_path / "archive"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's million rounds cost ~0.5 s per mailbox on a shared CI core; the API logic is the same."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superadmin(db) -> User:
    return User.objects.create_superuser("root", "root@example.invalid", "x-long-password-1")


@pytest.fixture
def api(superadmin) -> APIClient:
    """A superadmin's token client."""
    return token_client(superadmin)


@pytest.fixture
def example_net(make_domain, make_mailbox) -> Domain:
    """Another tenant: example.net with carol@, an alias team@, a filter, and example.org → example.net."""
    domain = make_domain("example.net")
    carol = make_mailbox("carol@example.net")
    services.create_alias("team@example.net", ["carol@example.net"])
    Filter.objects.create(mailbox=carol, name="lists", actions=[{"action": "fileinto", "folder": "Lists"}])
    from webadmin.models import DomainAlias

    DomainAlias.objects.create(name="example.org", target=domain)
    return domain


@pytest.fixture
def domain_admin(db, example_com) -> User:
    """A staff user who manages example.com only."""
    user = User.objects.create_user("dana", "dana@example.invalid", "x-long-password-2", is_staff=True)
    role = DomainAdmin.objects.create(user=user)
    role.domains.add(example_com)
    return user


@pytest.fixture
def dana(domain_admin) -> APIClient:
    """example.com's domain admin's token client."""
    return token_client(domain_admin)
