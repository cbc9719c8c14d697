import pytest
from django.core.exceptions import ValidationError

from webadmin import services
from webadmin.models import Alias, DomainAlias


def test_an_alias_chain_that_loops_is_refused_with_the_loop_shown(example_com):
    services.create_alias("a@example.com", ["b@example.com"])
    services.create_alias("b@example.com", ["c@example.com"])
    with pytest.raises(ValidationError) as exc:
        services.create_alias("c@example.com", ["a@example.com"])
    assert "loop" in str(exc.value)
    assert "c@example.com → a@example.com" in str(exc.value)
    assert not Alias.objects.filter(local_part="c").exists()


def test_an_alias_to_itself_is_a_loop(example_com):
    with pytest.raises(ValidationError):
        services.create_alias("me@example.com", ["me@example.com"])


def test_a_loop_through_a_domain_alias_is_found(example_com):
    DomainAlias.objects.create(name="example.org", target=example_com)
    services.create_alias("x@example.com", ["y@example.org"])
    with pytest.raises(ValidationError):
        services.create_alias("y@example.com", ["x@example.org"])


def test_a_catchall_pointing_into_its_own_domain_at_nothing_is_a_loop(example_com):
    with pytest.raises(ValidationError):
        services.create_alias("@example.com", ["nobody@example.com"])


def test_a_catchall_to_a_real_mailbox_is_fine(example_com):
    alias = services.create_alias("@example.com", ["alice@example.com"])
    assert alias.is_catchall


def test_lists_with_external_targets_are_fine(example_com):
    alias = services.create_alias("team@example.com", ["alice@example.com", "Bob@Elsewhere.ORG", "alice@example.com"])
    assert alias.targets == ["alice@example.com", "bob@elsewhere.org"]
