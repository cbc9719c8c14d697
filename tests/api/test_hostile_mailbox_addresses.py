"""A mailbox address the store would refuse is refused when the mailbox is made, so no later call answers 500.

Issue 19 item 4: ``a/b@example.test`` was created (201), the store then refused its
path, and DELETE answered 500. The model applies the store's rule (``mailcore.addresses``).
"""

from __future__ import annotations

import pytest

from agents.store import InvalidAddress, Store
from mailcore.addresses import AddressError, validate_mailbox_local_part
from webadmin.models import Mailbox

HOSTILE = ["a/b", "../x", "/", "ü/x", "x\x00y", "a\x7fb", "tab\there", ".hidden", "..", "a\\b"]


@pytest.mark.parametrize("local", HOSTILE)
def test_creating_a_mailbox_the_store_would_refuse_answers_400(api, example_com, local):
    response = api.post("/api/v1/mailboxes/", {"address": f"{local}@example.com", "password": "pw-12345678"},
                        format="json")
    assert response.status_code == 400, response.content
    detail = response.json()
    assert "address" in detail or "NUL characters" in detail.get("detail", "")  # JSON parsing refuses NUL first
    # Compared in Python: PostgreSQL refuses a NUL even inside a query's parameters.
    assert local.lower() not in set(Mailbox.objects.values_list("local_part", flat=True))


def test_the_model_refuses_a_slash_in_a_mailbox_local_part(example_com):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="directory"):
        Mailbox(domain=example_com, local_part="a/b").full_clean(exclude=["password"])


def test_every_local_part_the_model_accepts_the_store_accepts(tmp_path):
    candidates = HOSTILE + ["alice", "a.b", "o'neil", "x+tag", "üser", "a&b", "=?x?=", "~tilde", "#1"]
    for local in candidates:
        try:
            validate_mailbox_local_part(local)
        except AddressError:
            continue
        Store(tmp_path).path_for(f"{local}@example.com")  # raises InvalidAddress if the rules drifted apart


def test_the_store_refuses_what_the_model_refuses_for_the_directory(tmp_path):
    for local in ["a/b", "..", ".x", "a\\b", "x\x00y"]:
        with pytest.raises(InvalidAddress):
            Store(tmp_path).path_for(f"{local}@example.com")


def test_a_stored_mailbox_the_store_refuses_can_still_be_read_and_deleted(api, example_com,
                                                                        django_capture_on_commit_callbacks):
    legacy = Mailbox.objects.create(domain=example_com, local_part="a/b")  # made before the rule, by hand
    assert api.get(f"/api/v1/mailboxes/{legacy.pk}/").status_code == 200
    assert api.get("/api/v1/mailboxes/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/mailboxes/{legacy.pk}/").status_code == 204
    assert not Mailbox.objects.filter(pk=legacy.pk).exists()
