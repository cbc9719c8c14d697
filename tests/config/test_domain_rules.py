import pytest
from django.core.exceptions import ValidationError

from webadmin import services
from webadmin.models import Alias, Domain, DomainAlias, Mailbox


def test_a_new_domain_gets_postmaster_and_abuse_pointing_at_the_chosen_mailbox(db):
    result = services.create_domain("Bücher.example", "boss@bücher.example")
    assert result.domain.name == "xn--bcher-kva.example"
    assert str(result.domain) == "bücher.example"
    assert result.created_mailbox.address == "boss@xn--bcher-kva.example"
    targets = {a.local_part: a.targets for a in Alias.objects.filter(domain=result.domain)}
    assert targets == {"postmaster": ["boss@xn--bcher-kva.example"], "abuse": ["boss@xn--bcher-kva.example"]}


def test_postmaster_may_point_at_a_mailbox_of_another_domain(example_com):
    result = services.create_domain("example.net", "alice@example.com")
    assert result.created_mailbox is None
    assert Alias.objects.get(domain=result.domain, local_part="abuse").targets == ["alice@example.com"]


def test_postmaster_pointing_at_a_missing_mailbox_of_a_local_domain_is_refused(example_com):
    with pytest.raises(ValidationError) as exc:
        services.create_domain("example.net", "nobody@example.com")
    assert "no mailbox nobody@example.com" in str(exc.value)
    assert not Domain.objects.filter(name="example.net").exists()


def test_duplicate_domain_is_refused(example_com):
    with pytest.raises(ValidationError) as exc:
        services.create_domain("EXAMPLE.com", "alice@example.com")
    assert "already exists" in str(exc.value)


def test_a_domain_alias_cannot_shadow_a_domain(example_com):
    alias = DomainAlias(name="example.com", target=example_com)
    with pytest.raises(ValidationError) as exc:
        alias.full_clean()
    assert "already a domain" in str(exc.value)


def test_bad_address_is_refused_with_a_sentence(example_com):
    with pytest.raises(ValidationError) as exc:
        services.create_mailbox("a..b@example.com", "pw")
    assert "not a valid local part" in str(exc.value)


def test_duplicate_mailbox_is_refused(example_com):
    with pytest.raises(ValidationError) as exc:
        services.create_mailbox("Alice@example.com", "pw")
    assert "already exists" in str(exc.value)


def test_an_address_is_a_mailbox_or_an_alias_never_both(example_com):
    with pytest.raises(ValidationError) as exc:
        services.create_alias("alice@example.com", ["bob@example.com"])
    assert "already" in str(exc.value)
    services.create_alias("team@example.com", ["alice@example.com"])
    with pytest.raises(ValidationError) as exc:
        services.create_mailbox("team@example.com", "pw")
    assert "already an alias" in str(exc.value)


def test_mailbox_limit_of_a_domain_is_enforced(make_domain):
    domain = make_domain("small.example", max_mailboxes=1)  # admin@ is the first
    assert domain.mailboxes.count() == 1
    with pytest.raises(ValidationError) as exc:
        services.create_mailbox("second@small.example", "pw")
    assert "maximum of 1 mailboxes" in str(exc.value)


def test_passwords_are_stored_as_hashes(example_com):
    mailbox = Mailbox.objects.get(local_part="alice")
    assert "correct horse" not in mailbox.password
    assert mailbox.password.startswith(("pbkdf2_", "argon2", "bcrypt", "scrypt", "md5$"))
    assert mailbox.check_password("correct horse battery staple")
    assert not mailbox.check_password("wrong")
