from agents.models import QueueRecipient
from agents.queue import Envelope, enqueue_delivery, submit
from agents.store import default_store


def test_with_eager_celery_a_queued_message_is_delivered_in_process(example_com, settings):
    from mailappliance.celery import app

    app.conf.task_always_eager = True
    try:
        queue_id = submit(b"Subject: eager\r\n\r\nhi\r\n", Envelope(sender="x@elsewhere.org",
                          recipients=["alice@example.com"]), enqueue=False)
        enqueue_delivery(queue_id)
    finally:
        app.conf.task_always_eager = False
    assert QueueRecipient.objects.get(message_id=queue_id).state == "delivered"
    assert default_store().mailbox("alice@example.com").folder("INBOX").exists == 1
