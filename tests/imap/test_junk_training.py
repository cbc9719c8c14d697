"""Filing mail into Junk (or out of it) over IMAP teaches the spam checker, as webmail moves do."""

from agents.models import SpamTraining
from tests.imap.conftest import message


def test_moving_into_and_out_of_junk_over_imap_records_training(db_imap_server):
    db_imap_server.deliver(message("buy now"))
    db_imap_server.deliver(message("real mail"))
    imap = db_imap_server.login()
    imap.select("INBOX")
    assert imap._simple_command("MOVE", "1", "Junk")[0] == "OK"
    imap.select("Junk")
    assert imap._simple_command("MOVE", "1", "INBOX")[0] == "OK"
    imap.select("INBOX")
    imap.copy("1", "Trash")
    verdicts = list(SpamTraining.objects.order_by("pk").values_list("verdict", "source"))
    assert verdicts == [("spam", "imap"), ("ham", "imap")]


def test_a_message_moved_into_junk_over_imap_is_learned_by_the_users_filter(db_imap_server):
    from agents.mailauth import junkmodel, learn

    raw = message("cheap pills online", body="Buy cheap pills at our online pharmacy.\r\n")
    db_imap_server.deliver(raw)
    imap = db_imap_server.login()
    imap.select("INBOX")
    assert imap._simple_command("MOVE", "1", "Junk")[0] == "OK"
    imap.logout()
    mid = SpamTraining.objects.get().message_id
    assert learn.learn_pending(store=db_imap_server.store) == 1
    box = db_imap_server.store.mailbox("alice@example.com")
    assert junkmodel.learned_as(learn.user_model(box), mid) == junkmodel.SPAM


def test_the_session_gets_its_training_callback_through_its_constructor(imap_store, tls_files):
    """No database here: the callback the server was given sees the move; without one nothing is
    recorded and the move still works."""
    from tests.imap.conftest import _run_server

    seen: list[tuple[str, str, list[int], str]] = []
    runs = _run_server(imap_store, tls_files,
                       junk_training=lambda who, folder, uids, dest: seen.append((who, folder.name, uids, dest)))
    server = next(runs)
    try:
        server.deliver(message("buy now"))
        imap = server.login()
        imap.select("INBOX")
        assert imap._simple_command("MOVE", "1", "Junk")[0] == "OK"
        imap.logout()
    finally:
        runs.close()
    assert len(seen) == 1 and seen[0][1:] == ("INBOX", [1], "Junk")
