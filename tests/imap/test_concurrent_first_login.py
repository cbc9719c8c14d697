"""Many clients logging in at once to a mailbox that does not exist yet all get in and see one UIDVALIDITY.

The first login makes the mailbox; concurrent ones used to get ``NO [SERVERBUG]`` (sessions
are threads, and the store's temp files were named only by the pid).
"""

from __future__ import annotations

import re
import threading

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE

CLIENTS = 12


def test_concurrent_first_logins_all_succeed(imap_server):
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[str, bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def first_login() -> None:
        try:
            imap = imap_server.client()
            try:
                barrier.wait(timeout=30)
                typ, _ = imap.login(ALICE, PASSWORD)
                status = imap.status("INBOX", "(UIDVALIDITY)")
                with lock:
                    results.append((typ, status[1][0]))
            finally:
                imap.logout()
        except BaseException as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)

    assert not imap_server.store.path_for(ALICE).exists()
    threads = [threading.Thread(target=first_login) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [typ for typ, _ in results] == ["OK"] * CLIENTS
    validities = {re.search(rb"UIDVALIDITY (\d+)", line).group(1) for _, line in results}  # type: ignore[union-attr]
    assert len(validities) == 1
