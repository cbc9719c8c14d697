"""The embedded Celery broker: kombu's file-system transport, with whole message files only.

kombu's transport (5.7) creates ``<time>_<uuid>.<queue>.msg`` and then writes
into it. A worker polling the folder can move and read the file in between,
get an empty payload and stop with "Unrecoverable error: JSONDecodeError"; the
task is gone with the file (the sweeper finds the message up to 30 s later) and
the supervisor has to restart the worker. Seen in the end-to-end tests under
ordinary load. Here a message is written under a name the consumer ignores
(``.<name>.part``) and renamed into place, so a consumer only ever sees whole
files. Selected in settings through ``CELERY_BROKER_TRANSPORT``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``message`` onto ``queue``: write a hidden file, then rename it to the name consumers look for."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(message)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
