"""Every saved or deleted configuration object bumps the configuration generation.

``agents.config`` compares generations to drop its caches, so a change made in
the admin, the API or a management command reaches running agents in seconds.

The configuration never imports the engine (``tests/test_layers.py``): where a
change needs the engine to act, it sends a signal defined here and the engine
(``agents.config.connect_receivers``) listens.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal

from .models import (
    Alias,
    AppPassword,
    ConfigGeneration,
    DkimKey,
    Domain,
    DomainAdmin,
    DomainAlias,
    Filter,
    GreylistWhitelist,
    Mailbox,
    MailPolicy,
    SieveScript,
)

# Everything agents.config caches (external sources are read fresh by each poll).
# AppPassword: a new or revoked one must reach the agents' verified-credential caches.
# (Its last-use fields are written with update(), which sends no signal.)
CONFIG_MODELS = (Domain, DomainAlias, Mailbox, Alias, Filter, SieveScript, AppPassword, MailPolicy, GreylistWhitelist,
                 DkimKey)

# Sent (sender=Mailbox, address=..., mode="keep"|"archive", home_node=...) once the deletion of a
# mailbox has committed: its mail must leave the live tree (on its home node). The receiver returns
# where it went.
mailbox_removed = Signal()


def _bump(sender: Any, **kwargs: Any) -> None:
    ConfigGeneration.bump()
    transaction.on_commit(ConfigGeneration.bump)  # and again once the change is visible


for model in CONFIG_MODELS:
    post_save.connect(_bump, sender=model, dispatch_uid=f"bump-{model.__name__}-save")
    post_delete.connect(_bump, sender=model, dispatch_uid=f"bump-{model.__name__}-delete")
m2m_changed.connect(_bump, dispatch_uid="bump-m2m")


def _role_makes_staff(sender: Any, instance: DomainAdmin, **kwargs: Any) -> None:
    """Giving someone the domain admin role is enough: their login becomes staff (no extra box to tick)."""
    user = instance.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def _rows_changed(sender: Any, instance: Filter, **kwargs: Any) -> None:
    """A rule saved or deleted: the builder's script follows (webadmin.rulescript)."""
    from . import rulescript

    if not _own_deletion(kwargs.get("origin"), (Filter, SieveScript)):
        return  # a mailbox or domain deleted: its rules and scripts go with it
    rulescript.rows_changed(instance.mailbox_id)


def _script_saved(sender: Any, instance: SieveScript, **kwargs: Any) -> None:
    from . import rulescript

    rulescript.script_saved(instance)


def _script_deleted(sender: Any, instance: SieveScript, **kwargs: Any) -> None:
    from . import rulescript

    if _own_deletion(kwargs.get("origin"), (SieveScript,)):
        rulescript.script_deleted(instance)


def _own_deletion(origin: Any, models: tuple[type, ...]) -> bool:
    """True unless this is part of a cascade from something else (a mailbox, a domain)."""
    if origin is None:
        return True
    model = origin if isinstance(origin, type) else getattr(origin, "model", None) or type(origin)
    return issubclass(model, models)


post_save.connect(_rows_changed, sender=Filter, dispatch_uid="rule-builder-rows-save")
post_delete.connect(_rows_changed, sender=Filter, dispatch_uid="rule-builder-rows-delete")
post_save.connect(_script_saved, sender=SieveScript, dispatch_uid="rule-builder-script-save")
post_delete.connect(_script_deleted, sender=SieveScript, dispatch_uid="rule-builder-script-delete")

post_save.connect(_role_makes_staff, sender=DomainAdmin, dispatch_uid="domain-admin-is-staff")
