"""Forwarding a mailbox's mail to itself (its own address, or an alias that contains it) is refused.

One check in ``Filter.clean`` (``services.forward_comes_back``): webmail, the dashboard,
the API and the Django admin all save filters through it.
"""

import pytest
from django.core.exceptions import ValidationError

from webadmin import rules, services
from webadmin.models import DomainAlias, Filter, Mailbox


def _alice() -> Mailbox:
    return Mailbox.objects.get(local_part="alice", domain__name="example.com")


@pytest.mark.parametrize("target", ["alice@example.com", "Alice@EXAMPLE.com", " alice@example.com "])
def test_forwarding_to_the_own_address_is_refused(example_com, target):
    with pytest.raises(rules.RuleError, match="own address; mail cannot be forwarded to itself"):
        rules.set_forwarding(_alice().pk, True, target, keep=True)
    assert not Filter.objects.filter(mailbox=_alice()).exists()


def test_the_own_address_through_a_domain_alias_is_refused(example_com):
    DomainAlias.objects.create(name="example.org", target=example_com)
    with pytest.raises(rules.RuleError, match="forwarded to itself"):
        rules.set_forwarding(_alice().pk, True, "alice@example.org", keep=False)


def test_an_alias_that_contains_the_mailbox_is_refused_with_the_way_back(example_com):
    services.create_alias("team@example.com", ["bob@example.com", "all@example.com"])
    services.create_alias("all@example.com", ["alice@example.com", "carol@remote.test"])
    with pytest.raises(rules.RuleError) as exc:
        rules.set_forwarding(_alice().pk, True, "team@example.com", keep=True)
    assert "team@example.com → all@example.com → alice@example.com" in str(exc.value)


def test_a_catchall_that_lands_in_the_mailbox_is_refused(example_com):
    services.create_alias("@example.com", ["alice@example.com"])
    with pytest.raises(ValidationError, match="forwarded to itself"):
        Filter(
            mailbox=_alice(), name="f", actions=[{"action": "redirect", "address": "nobody@example.com"}]
        ).full_clean()


def test_any_filter_forward_is_checked_not_only_the_forwarding_setting(example_com):
    rule = Filter(
        mailbox=_alice(),
        name="lists",
        conditions=[{"field": "subject", "op": "contains", "value": "x"}],
        actions=[{"action": "fileinto", "folder": "Lists"}, {"action": "forward", "address": "alice@example.com"}],
    )
    with pytest.raises(ValidationError, match="Action 2"):
        rule.full_clean()


def test_forwarding_elsewhere_and_to_an_alias_without_the_mailbox_is_fine(example_com):
    services.create_alias("team@example.com", ["bob@example.com"])
    rules.set_forwarding(_alice().pk, True, "team@example.com", keep=True)
    rules.set_forwarding(_alice().pk, True, "alice@elsewhere.test", keep=False)
    rules.set_forwarding(_alice().pk, True, "bob@example.com", keep=True)
    assert Filter.objects.get(mailbox=_alice(), name=rules.FORWARDING_NAME).actions[0]["address"] == "bob@example.com"


def test_the_api_refuses_it_too(example_com, django_user_model):
    from tests.api.conftest import token_client

    superadmin = django_user_model.objects.create_superuser("root", "root@example.invalid", "x-long-password-1")
    body = {
        "mailbox": "alice@example.com",
        "name": "fwd",
        "actions": [{"action": "redirect", "address": "alice@example.com"}],
    }
    response = token_client(superadmin).post("/api/v1/filters/", body, format="json")
    assert response.status_code == 400
    assert "forwarded to itself" in response.content.decode()
