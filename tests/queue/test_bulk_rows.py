"""The group commit's prepared INSERTs (``agents.queue.rows``) write the same rows as the ORM path."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from agents.models import QueueEvent, QueueMessage, QueueRecipient, TrafficCounter
from agents.queue import Envelope, record, record_many

pytestmark = pytest.mark.django_db

RAW = (b"From: a@remote.test\r\nSubject: =?utf-8?q?caf=C3=A9?= menu\r\nMessage-ID: <m1@remote.test>\r\n"
       b"\r\nbody\r\n")


def envelope(**extra) -> Envelope:
    fields = dict(sender="a@remote.test", recipients=["Bob@example.com", "alice@example.com", "bob@example.com"],
                  client_address="192.0.2.7", client_name="mx.remote.test", tls="TLSv1.3 TLS_AES_256_GCM_SHA384",
                  originals={"Bob@example.com": "<Bob@example.com>"})
    fields.update(extra)
    return Envelope(**fields)


def rows(queue_id: str) -> tuple[dict, list[dict], list[dict]]:
    """The rows of one message, without ids and timestamps (the only things allowed to differ)."""
    stamps = {"created", "next_attempt", "updated", "when", "id", "queue_id", "message"}
    message = {k: v for k, v in model_to_dict(QueueMessage.objects.get(queue_id=queue_id)).items() if k not in stamps}
    recipients = [{k: v for k, v in model_to_dict(r).items() if k not in stamps}
                  for r in QueueRecipient.objects.filter(message_id=queue_id).order_by("id")]
    events = [{k: v for k, v in model_to_dict(e).items() if k not in stamps}
              for e in QueueEvent.objects.filter(message_id=queue_id)]
    return message, recipients, events


@pytest.mark.parametrize("extra", [{}, {"held": True, "auth_user": "u@example.com", "source": "submission"},
                                   {"sender": "", "parent": "Q1"}])
def test_group_commit_rows_equal_the_orm_rows(extra):
    record(RAW, envelope(**extra), "ORM1")
    record_many([(RAW, envelope(**extra), "BULK1"), (RAW, envelope(**extra), "BULK2")])
    assert rows("BULK1") == rows("ORM1") == rows("BULK2")
    message = QueueMessage.objects.get(queue_id="BULK1")
    assert message.subject == "café menu" and message.message_id == "<m1@remote.test>"
    assert message.created is not None and message.next_attempt == message.created
    assert [r.address for r in message.recipients.order_by("id")] == ["Bob@example.com", "alice@example.com"]
    assert sum(TrafficCounter.objects.filter(event="received").values_list("count", flat=True)) == 3


def test_a_group_with_a_duplicate_id_commits_nothing():
    record_many([(RAW, envelope(), "DUP1")])
    with pytest.raises(Exception):  # noqa: B017 (IntegrityError, wrapped differently per database)
        record_many([(RAW, envelope(), "NEW1"), (RAW, envelope(), "DUP1")])
    assert not QueueMessage.objects.filter(queue_id="NEW1").exists()
    assert QueueRecipient.objects.filter(message_id="DUP1").count() == 2
