import subprocess

from agents import config
from tests.conftest import PASSWORD, PYTHON, REPO, agent_env, wait_until
from webadmin import services
from webadmin.models import DomainAlias, Mailbox


def test_lookups_follow_domain_aliases_and_catchalls(example_com):
    DomainAlias.objects.create(name="example.org", target=example_com)
    services.create_alias("team@example.com", ["alice@example.com", "friend@elsewhere.net"])
    assert config.recipient_kind("ALICE@example.org") == "mailbox"
    assert config.recipient_kind("team@example.com") == "alias"
    assert config.recipient_kind("ghost@example.com") == "unknown"
    assert config.recipient_kind("someone@elsewhere.net") == "remote"
    expansion = config.expand("team@example.org")
    assert expansion.mailboxes == ["alice@example.com"]
    assert expansion.external == ["friend@elsewhere.net"]


def test_a_mailbox_reached_twice_is_expanded_once(example_com):
    services.create_alias("one@example.com", ["alice@example.com", "two@example.com"])
    services.create_alias("two@example.com", ["alice@example.com"])
    assert config.expand("one@example.com").mailboxes == ["alice@example.com"]


def test_authentication_honours_the_password_and_the_service_permission(example_com):
    assert config.authenticate("alice@example.com", "correct horse battery staple", "imap")
    assert config.authenticate("alice@example.com", "wrong", "imap") is None
    Mailbox.objects.filter(local_part="alice").update(can_pop3=False)
    config.invalidate()
    assert config.authenticate("alice@example.com", "correct horse battery staple", "pop3") is None


def test_a_change_reaches_a_cached_lookup(transactional_db, example_com):
    assert config.recipient_kind("carol@example.com") == "unknown"
    services.create_mailbox("carol@example.com", PASSWORD)
    wait_until(lambda: config.recipient_kind("carol@example.com") == "mailbox", "the new mailbox seen", timeout=30)


def test_the_shipped_refresh_interval_keeps_the_two_second_promise():
    """DESIGN §3: a change reaches running agents within 2 s. A cached lookup re-reads the change
    counter every MAILAPP_CONFIG_REFRESH seconds, so the shipped default must leave room for the query."""
    env = agent_env()
    env.pop("MAILAPP_CONFIG_REFRESH", None)
    script = "import django; django.setup(); from django.conf import settings; print(settings.MAILAPP_CONFIG_REFRESH)"
    shipped = subprocess.run([PYTHON, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert 0 < float(shipped.stdout) <= 1.0


def test_senders_may_use_their_own_addresses_and_their_aliases_only(example_com):
    DomainAlias.objects.create(name="example.org", target=example_com)
    services.create_alias("sales@example.com", ["alice@example.com"])
    assert config.may_send_as("alice@example.com", "alice@example.org")
    assert config.may_send_as("alice@example.com", "sales@example.com")
    assert not config.may_send_as("alice@example.com", "bob@example.com")
    assert not config.may_send_as("bob@example.com", "sales@example.com")
