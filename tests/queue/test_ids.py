"""Queue ids: unique, time-ordered, and never repeated by a forked process."""

from __future__ import annotations

import os

from agents.queue.ids import ALPHABET, new_queue_id


def test_ids_are_unique_well_formed_and_in_time_order():
    ids = [new_queue_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 20 and set(i) <= set(ALPHABET) for i in ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)


def test_a_forked_worker_does_not_draw_its_parents_random_part():
    """Random bits are drawn ahead in blocks; a worker forked with a block half used must not
    hand out the same numbers as its parent (two smtp workers, the same microsecond)."""
    new_queue_id()  # a block drawn, most of it left
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, "".join(new_queue_id()[12:] for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = "".join(new_queue_id()[12:] for _ in range(10))
    assert len(child) == 80
    assert {child[n:n + 8] for n in range(0, 80, 8)}.isdisjoint({parent[n:n + 8] for n in range(0, 80, 8)})
