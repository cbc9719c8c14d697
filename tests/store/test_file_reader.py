"""FileReader: a folder's files read from the page cache only, or handed to the slow path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.store.filereader import FileReader


def _names(folder) -> dict[int, str]:  # type: ignore[no-untyped-def]
    folder.refresh()
    return folder.file_names()


def test_a_cached_file_of_the_index_size_is_read_whole(mailbox):
    raws = [b"Subject: a\r\n\r\nshort\r\n", b"Subject: b\r\n\r\n" + b"x" * (8192 - 16) + b"\r\n"]  # the second: 2 pages
    uids = [mailbox.deliver(raw)[1] for raw in raws]
    folder = mailbox.folder("INBOX")
    names = _names(folder)
    reader = folder.file_reader()
    try:
        for uid, raw in zip(uids, raws, strict=True):
            assert bytes(reader.read_cached(names[uid], len(raw))) == raw
    finally:
        reader.close()


def test_a_file_that_is_not_the_index_size_goes_to_the_slow_path(mailbox):
    uid = mailbox.deliver(b"Subject: a\r\n\r\nbody\r\n")[1]
    folder = mailbox.folder("INBOX")
    names = _names(folder)
    reader = folder.file_reader()
    try:
        with pytest.raises(BlockingIOError):
            reader.read_cached(names[uid], 5)  # shorter than the file: not ours to guess
        with pytest.raises(BlockingIOError):
            reader.read_cached(names[uid], 500)  # longer (a file with bare LFs is shorter than its CRLF size)
        assert reader.read_cached("cur/no-such-file", 10) is None
    finally:
        reader.close()


def test_a_page_sized_file_that_goes_on_is_not_cut(tmp_path: Path):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "cur" / "m").write_bytes(b"a" * 4096 + b"tail")
    reader = FileReader(str(tmp_path))
    try:
        with pytest.raises(BlockingIOError):
            reader.read_cached("cur/m", 4096)  # the first page alone is not the file
        assert bytes(reader.read_cached("cur/m", 4100)) == b"a" * 4096 + b"tail"
    finally:
        reader.close()
    assert not any(Path(f"/proc/self/fd/{fd}").exists() and os.readlink(f"/proc/self/fd/{fd}") == str(tmp_path / "cur")
                   for fd in range(3, 256)), "the directories were closed"
