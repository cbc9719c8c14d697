"""Filter rows compiled to Sieve do what the rows did: every old action and condition, the same verdict."""

import datetime
import itertools

import pytest

from agents.config import FilterRule
from agents.delivery import filters, sieve
from agents.delivery.message import parse as parse_message
from mailcore import sieve as ms
from mailcore import sieve_rules
from mailcore.vacation import in_window

NOW = datetime.datetime(2026, 7, 10, 12, 0, tzinfo=datetime.UTC)

MESSAGES = [
    b"From: Carol <carol@remote.test>\r\nTo: alice@example.com\r\nSubject: Weekly report\r\n"
    b"List-Id: <python-dev.python.org>\r\n\r\nbody\r\n",
    b"From: spam@bad.test\r\nTo: bob@example.com\r\nCc: alice@example.com\r\nSubject: URGENT ${x} money\r\n\r\n"
    + b"x" * 5000 + b"\r\n",
    b"From: dave@remote.test\r\nTo: alice@example.com\r\nSubject: a1 \"quoted\" \\ back\r\n\r\nhi\r\n",
]

CONDITIONS = [
    [],
    [{"field": "from", "op": "contains", "value": "carol"}],
    [{"field": "to_cc", "op": "contains", "value": "ALICE@example.com"}],
    [{"field": "subject", "op": "is", "value": " weekly report "}],
    [{"field": "subject", "op": "not_contains", "value": "urgent"}],
    [{"field": "subject", "op": "matches", "value": r"^a\d \"q"}],
    [{"field": "subject", "op": "contains", "value": "${x}"}],
    [{"field": "subject", "op": "contains", "value": '"quoted" \\ back'}],
    [{"field": "header", "header": "List-Id", "op": "contains", "value": "python"}],
    [{"field": "header", "header": "X-Missing", "op": "not_contains", "value": "x"}],
    [{"field": "size", "op": "gt", "value": "1000"}],
    [{"field": "size", "op": "lt", "value": "1000"}],
    [{"field": "size", "op": "gt", "value": "many"}],
]

ACTIONS = [
    [{"action": "fileinto", "folder": "Lists/Python"}],
    [{"action": "mark_read"}],
    [{"action": "flag"}],
    [{"action": "redirect", "address": "bob@example.com"}],
    [{"action": "forward", "address": "dave@remote.test"}],
    [{"action": "discard"}],
    [{"action": "autoreply", "subject": "Away", "body": "I am away.\nBack soon.", "days": 3}],
    [{"action": "autoreply", "subject": "", "body": "Holiday", "start": "2026-07-01", "end": "2026-07-21"}],
    [{"action": "autoreply", "subject": "Later", "body": "x", "start": "2026-08-01"}],
    [{"action": "autoreply", "subject": "Over", "body": "x", "days": 2, "end": "2026-07-09"}],
]


def rule(name="r", match="all", conditions=(), actions=(), stop=False):
    return FilterRule(name=name, match=match, conditions=list(conditions), actions=list(actions), stop=stop)


def old(rules, raw):
    verdict = filters.evaluate(parse_message(raw), rules)
    replies = [(a.get("subject") or "", a.get("body") or "", a.get("days") or None)
               for a in verdict.autoreplies if in_window(a, NOW.date())]
    return verdict.store, verdict.folder if verdict.store else None, verdict.flags if verdict.store else set(), \
        verdict.redirects, replies


def new(rules, raw):
    script = ms.parse(sieve_rules.compile_rules(rules))
    verdict = sieve.run(script, parse_message(raw), raw, sieve.Envelope("carol@remote.test", "alice@example.com", NOW),
                        any_recipient=True)
    assert "sieve: error, kept" not in verdict.matched
    replies = [(a["subject"], a["body"], a["days"]) for a in verdict.autoreplies]
    return verdict.store, verdict.folder if verdict.store else None, verdict.flags if verdict.store else set(), \
        verdict.redirects, replies


@pytest.mark.parametrize("actions", ACTIONS, ids=lambda a: a[0]["action"])
@pytest.mark.parametrize("conditions", CONDITIONS)
def test_each_action_under_each_condition_does_the_same(conditions, actions):
    for raw in MESSAGES:
        rules = [rule(conditions=conditions, actions=actions)]
        assert new(rules, raw) == old(rules, raw)


def test_combinations_of_rules_in_order_with_stop_and_any():
    # Every pair of single-action rules, with and without stop on the first: order, stop, discard over fileinto,
    # flags on whatever copy is stored, the last fileinto winning.
    singles = [a[0] for a in ACTIONS[:7]] + [{"action": "fileinto", "folder": "Other"}]
    for first, second in itertools.product(singles, repeat=2):
        for stop in (False, True):
            rules = [rule("a", "any", CONDITIONS[1] + CONDITIONS[11], [first], stop), rule("b", actions=[second])]
            for raw in MESSAGES:
                assert new(rules, raw) == old(rules, raw), (first, second, stop)


def test_the_builder_reads_back_the_scripts_it_made():
    rules = [rule("Lists", "any", CONDITIONS[8] + CONDITIONS[6], ACTIONS[0] + ACTIONS[1], True),
             rule("Away", actions=ACTIONS[7])]
    text = sieve_rules.compile_rules(rules)
    rows = sieve_rules.read_rules(text)
    assert rows == [{"name": r.name, "match": r.match, "conditions": r.conditions, "actions": r.actions,
                     "stop": r.stop} for r in rules]
    assert sieve_rules.read_rules(text.replace('fileinto "Lists/Python"', 'fileinto "Elsewhere"')) is None  # edited
    assert sieve_rules.read_rules('require "fileinto"; fileinto "x";') is None  # hand-written
