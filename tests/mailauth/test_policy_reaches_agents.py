"""Mail policies, the greylisting whitelist and DKIM keys are read through agents.config's one cache,
and a change saved anywhere moves the configuration generation, which drops that cache."""

from __future__ import annotations

from agents import config
from agents.mailauth import keys, policy
from webadmin import dkimkeys
from webadmin.models import GreylistWhitelist, MailPolicy


def test_a_saved_mail_policy_reaches_a_cached_lookup(example_com):
    assert policy.for_domain("example.com").greylisting is False  # cached now
    row = MailPolicy.objects.create(domain=example_com, greylisting=True)
    config.refresh(force=True)
    assert policy.for_domain("example.com").greylisting is True
    assert policy.peek("example.com") == policy.for_domain("example.com")
    row.greylisting = False
    row.save()
    config.refresh(force=True)
    assert policy.for_domain("example.com").greylisting is False


def test_the_cache_is_the_one_that_answers(example_com):
    """Without a new generation the cached answer stays: the counter, not a timer, decides."""
    row = MailPolicy.objects.create(domain=example_com, spam_junk_score=4.0)
    config.refresh(force=True)
    assert policy.for_domain("example.com").spam_junk_score == 4.0
    MailPolicy.objects.filter(pk=row.pk).update(spam_junk_score=9.0)  # bypasses the signals
    config.refresh(force=True)
    assert policy.for_domain("example.com").spam_junk_score == 4.0
    config.invalidate()
    assert policy.for_domain("example.com").spam_junk_score == 9.0


def test_a_whitelist_entry_reaches_a_cached_lookup(db):
    assert not policy.whitelisted("192.0.2.7")
    GreylistWhitelist.objects.create(entry="192.0.2.0/24")
    config.refresh(force=True)
    assert policy.whitelisted("192.0.2.7")


def test_a_new_dkim_key_reaches_a_cached_lookup(example_com):
    assert keys.signing_keys("example.com") == [] and keys.dns_record("example.com") is None
    key = dkimkeys.create_key(example_com)
    config.refresh(force=True)
    assert [k.selector for k in keys.signing_keys("example.com")] == [key.selector]
    assert keys.dns_record("example.com") == (key.selector, key.dns_value())
    rotated = dkimkeys.create_key(example_com, rotate=True)  # deactivates the old key with a bulk update
    config.refresh(force=True)
    assert [k.selector for k in keys.signing_keys("example.com")] == [rotated.selector]
