"""Every saved or deleted configuration object bumps the configuration generation.

``agents.config`` compares generations to drop its caches, so a change made in
the admin, the API or a management command reaches running agents in seconds.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .models import Alias, AppPassword, ConfigGeneration, Domain, DomainAlias, Filter, Mailbox

# AppPassword: a new or revoked one must reach the agents' verified-credential caches.
# (Its last-use fields are written with update(), which sends no signal.)
CONFIG_MODELS = (Domain, DomainAlias, Mailbox, Alias, Filter, AppPassword)


def _bump(sender: Any, **kwargs: Any) -> None:
    ConfigGeneration.bump()
    transaction.on_commit(ConfigGeneration.bump)  # and again once the change is visible


for model in CONFIG_MODELS:
    post_save.connect(_bump, sender=model, dispatch_uid=f"bump-{model.__name__}-save")
    post_delete.connect(_bump, sender=model, dispatch_uid=f"bump-{model.__name__}-delete")
m2m_changed.connect(_bump, dispatch_uid="bump-m2m")
