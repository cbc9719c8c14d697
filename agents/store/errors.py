"""Exceptions raised by the message store; all derive from :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """Any failure of the store that a caller may report to a user."""


class FolderNotFound(StoreError, KeyError):
    """The named folder does not exist in this mailbox."""

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)


class FolderExists(StoreError):
    """A folder with that name exists already."""


class InvalidFolderName(StoreError, ValueError):
    """The folder name is not allowed (syntax, length, or it could escape the mailbox)."""


class InvalidFlag(StoreError, ValueError):
    """A flag is neither a system flag nor a valid IMAP keyword."""


class InvalidAddress(StoreError, ValueError):
    """The mailbox address cannot name a directory safely."""


class MessageGone(StoreError, KeyError):
    """The message is no longer there (expunged, or its file was removed by hand)."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class DeliveryHeld(StoreError):
    """A delivery's guard said no inside the index transaction (the mailbox is frozen for a move):
    nothing of the batch was stored."""
