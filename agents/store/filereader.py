"""Reading many message files of one folder in a row, cheaply, from an event loop's thread.

A POP3 download reads every file of a folder once. Opening each by its full path walks
every directory of it again, and a read that misses the page cache would stall every
session on the event loop for the disk. :class:`FileReader` holds the folder's ``cur/``
and ``new/`` open and opens a file relative to them (one path component), and
:meth:`FileReader.read_cached` reads only what is in the page cache (``RWF_NOWAIT``):
a miss raises :class:`BlockingIOError`, and the caller reads in a thread instead.
"""

from __future__ import annotations

import os

_NOWAIT: int = getattr(os, "RWF_NOWAIT", 0)  # Linux 4.14+; 0: not offered, always the slow path
_PAGE = 4096  # RWF_NOWAIT reads stop at a page boundary when the rest is not cached


class FileReader:
    """Reads files of one Maildir folder by the names of ``Folder.file_names()``; close it after use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._dirs: dict[str, int] = {}
        for sub in ("cur", "new"):
            try:
                self._dirs[sub] = os.open(os.path.join(path, sub), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                pass  # read_cached then says BlockingIOError: the caller takes the slow path
        self._nowait = bool(_NOWAIT)

    def read_cached(self, name: str, size: int) -> bytearray | None:
        """The file ``name`` (``cur/...``) if it is exactly ``size`` octets and all in the page cache.

        ``size`` is the index's size with CRLF line ends: a file of that length needs no
        conversion. None: the file is gone (renamed by a flag change, or expunged; ask the
        index). :class:`BlockingIOError`: reading it could wait for the disk, or it is not
        of that size (bare LFs to convert): read it with ``Folder.read_file`` in a thread.
        """
        subdir, _, fname = name.partition("/")
        directory = self._dirs.get(subdir)
        if directory is None or not self._nowait:
            raise BlockingIOError(name)
        try:
            fd = os.open(fname, os.O_RDONLY | os.O_CLOEXEC, dir_fd=directory)
        except FileNotFoundError:
            return None
        try:
            buffer = bytearray(size + 1)  # one octet more: a longer file shows as a long read
            try:
                got = os.preadv(fd, [buffer], 0, _NOWAIT)
                # RWF_NOWAIT returns the cached part when not all is: a read of exactly ``size``
                # that ends on a page boundary may be a prefix; one more octet tells.
                if got == size and size % _PAGE == 0 and size and os.preadv(fd, [bytearray(1)], size, _NOWAIT):
                    got += 1
            except OSError as exc:
                if isinstance(exc, BlockingIOError):
                    raise
                self._nowait = False  # a file system without RWF_NOWAIT: always the slow path
                raise BlockingIOError(name) from exc
        finally:
            os.close(fd)
        if got != size:  # longer (not what the index says) or shorter (bare LFs), or partly cached
            raise BlockingIOError(name)
        del buffer[size:]
        return buffer

    def close(self) -> None:
        dirs, self._dirs = self._dirs, {}
        for fd in dirs.values():
            os.close(fd)
