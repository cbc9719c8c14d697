from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


def _store_places():  # type: ignore[no-untyped-def]
    from agents.store import Places

    return Places(Path(settings.MAILAPP_MAIL_ROOT), Path(settings.MAILAPP_ARCHIVE_DIR))


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "mail engine"

    def ready(self) -> None:
        from agents import config, store
        from agents.cluster import usage

        # read at each call: tests change the settings; cluster mode keeps other nodes' quota figure
        store.configure(_store_places, on_usage=usage.store_changed)
        config.connect_receivers()  # the engine's side of configuration hand-offs (mailbox removal)
