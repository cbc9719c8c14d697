"""Rows summarised by older code are summarised again when read, never served in the old shape."""

import json

from agents.store import mime
from agents.store.index import open_index

RAW = (b"From: a@example.net\r\nTo: team: ann@example.com;\r\nSubject: old row\r\n"
       b"Content-Type: multipart/mixed; boundary*0=\"sp\"; boundary*1=\"lit\"\r\n\r\n"
       b"--split\r\nContent-Type: text/plain\r\n\r\none\r\n"
       b"--split\r\nContent-Type: text/html\r\n\r\ntwo\r\n--split--\r\n")


def test_an_old_row_is_summarised_again(mailbox):
    _, uid = mailbox.deliver(RAW)
    inbox = mailbox.folder("INBOX")
    assert inbox.bodystructure(uid)["v"] == mime.STRUCTURE_VERSION
    old_structure = {"type": "text", "subtype": "plain", "params": [["charset", "us-ascii"]], "size": 0, "lines": 0}
    index = open_index(mailbox.path / "mailapp-index.sqlite")
    with index.write() as conn:  # what the code before STRUCTURE_VERSION stored: no version, no parts
        conn.execute("UPDATE mime SET envelope = ?, bodystructure = ? WHERE uid = ?",
                     (json.dumps([None] * 10), json.dumps(old_structure), uid))
        conn.execute("UPDATE messages SET hdr_to = '' WHERE uid = ?", (uid,))
    assert inbox.envelope(uid)[1] == "old row"
    structure = inbox.bodystructure(uid)
    assert [p["subtype"] for p in structure["parts"]] == ["plain", "html"]
    row = index.conn.execute("SELECT bodystructure, hdr_to FROM mime JOIN messages USING (folder_id, uid)"
                             " WHERE uid = ?", (uid,)).fetchone()
    assert mime.current(json.loads(row[0])) and row[1] == "team: ann@example.com;"  # the cache is repaired
