"""A vacation auto-reply answers only on its days (start and end included), at delivery."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agents import config
from mailcore.vacation import in_window
from webadmin.models import Filter, Mailbox

from .conftest import deliver_all, message, queue


def _today() -> datetime.date:
    return timezone.localtime(timezone.now()).date()


def _vacation(**days) -> None:
    mailbox = Mailbox.objects.get(local_part="alice", domain__name="example.com")
    action = {"action": "autoreply", "subject": "Away", "body": "I am away.", "days": 3}
    action.update({key: value.isoformat() for key, value in days.items()})
    Filter.objects.create(mailbox=mailbox, name="vacation", actions=[action])
    config.invalidate()


def _replies(mx):
    return [m for m in mx.messages if b"Auto-Submitted: auto-replied" in m.data]


def test_both_days_count_and_the_days_around_do_not():
    action = {"start": "2026-07-01", "end": "2026-07-21"}
    assert in_window(action, datetime.date(2026, 7, 1)) and in_window(action, datetime.date(2026, 7, 21))
    assert not in_window(action, datetime.date(2026, 6, 30))
    assert not in_window(action, datetime.date(2026, 7, 22))
    assert in_window({"end": "2026-07-21"}, datetime.date(2020, 1, 1))
    assert in_window({}, datetime.date(2026, 7, 22))


@pytest.mark.parametrize(
    "days, answered",
    [
        ({"start": -1, "end": 1}, True),
        ({"start": 2}, False),  # not yet
        ({"end": -2}, False),  # over
        ({"start": -5}, True),  # no end: until turned off
    ],
)
def test_delivery_answers_only_within_the_days(example_com, mx, days, answered):
    today = _today()
    _vacation(**{key: today + datetime.timedelta(days=offset) for key, offset in days.items()})
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert len(_replies(mx)) == (1 if answered else 0)


@pytest.mark.parametrize(
    "start, end, words",
    [
        ("2026-07-21", "2026-07-01", "before the first day"),
        ("21.07.2026", "", "is not a day"),
        ("", "soon", "is not a day"),
    ],
)
def test_days_are_checked_by_the_model(example_com, start, end, words):
    mailbox = Mailbox.objects.get(local_part="alice", domain__name="example.com")
    action = {"action": "autoreply", "subject": "Away", "body": "I am away.", "days": 3}
    if start:
        action["start"] = start
    if end:
        action["end"] = end
    rule = Filter(mailbox=mailbox, name="vacation", actions=[action])
    with pytest.raises(ValidationError, match=words):
        rule.full_clean()
