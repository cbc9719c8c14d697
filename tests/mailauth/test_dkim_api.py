"""``/api/v1/domains/{id}/dkim/``: make, rotate and read a domain's DKIM record with a token."""

from __future__ import annotations

from django.contrib.auth.models import User

from tests.api.conftest import token_client
from webadmin.models import DkimKey, DomainAdmin


def test_make_rotate_and_read(example_com):
    api = token_client(User.objects.create_superuser("root", "root@example.invalid", "x-long-password-1"))
    made = api.post("/api/v1/domains/example.com/dkim/", {}, format="json")
    assert made.status_code == 201 and made.json()["value"].startswith("v=DKIM1; k=rsa; p=")
    again = api.post("/api/v1/domains/example.com/dkim/", {}, format="json").json()
    assert again["selector"] == made.json()["selector"]  # no rotate: the same key
    rotated = api.post("/api/v1/domains/example.com/dkim/", {"rotate": True}, format="json").json()
    assert rotated["selector"] != made.json()["selector"]
    listed = api.get("/api/v1/domains/example.com/dkim/").json()
    assert [r["selector"] for r in listed] == [rotated["selector"]]
    assert DkimKey.objects.count() == 2


def test_bad_algorithm_is_a_400(example_com):
    api = token_client(User.objects.create_superuser("root", "root@example.invalid", "x-long-password-1"))
    response = api.post("/api/v1/domains/example.com/dkim/", {"algorithm": "dsa"}, format="json")
    assert response.status_code == 400 and "algorithm" in response.json()


def test_domain_admin_sees_only_their_domains(example_com, make_domain):
    make_domain("other.example")
    user = User.objects.create_user("dana", "dana@example.invalid", "x-long-password-2", is_staff=True)
    DomainAdmin.objects.create(user=user).domains.add(example_com)
    dana = token_client(user)
    assert dana.post("/api/v1/domains/example.com/dkim/", {"algorithm": "ed25519"}, format="json").status_code == 201
    assert dana.post("/api/v1/domains/other.example/dkim/", {}, format="json").status_code == 404
