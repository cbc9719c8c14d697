"""Sorting a folder by date walks an index: no scan, no sort step, whatever the folder's size."""

import email.utils

from agents.store import Store


def test_a_page_sorted_by_date_uses_the_date_index_and_is_in_date_order(tmp_path):
    box = Store(tmp_path / "mail").mailbox("alice@example.com")
    for i in range(60):
        stamp = email.utils.formatdate(1_600_000_000 + (i * 7919) % 10_000)
        box.deliver(f"Date: {stamp}\r\nSubject: m{i}\r\n\r\nx\r\n".encode())
    inbox = box.folder("INBOX")
    page = inbox.page(0, 10, newest_first=True, sort="date")
    dates = [summary.date for summary in page]
    assert dates == sorted(dates, reverse=True) and len(dates) == 10
    everything = sorted((s.date for s in inbox.page(0, 100, sort="date")), reverse=True)
    assert dates == everything[:10]
    plan = inbox._index.conn.execute(
        "EXPLAIN QUERY PLAN SELECT uid FROM messages WHERE folder_id = ?"
        " ORDER BY coalesce(hdr_date, internaldate) DESC, uid DESC LIMIT 10", (inbox.id,)
    ).fetchall()
    details = " ".join(row[-1] for row in plan)
    assert "messages_date" in details and "TEMP B-TREE" not in details
