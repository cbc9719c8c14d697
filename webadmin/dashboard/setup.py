"""The first admin, made in the browser: a one-time setup link while no superuser exists.

On a fresh install ``manage.py appliance`` (``make run``) prints
``/dashboard/setup/<token>/`` in its start-up banner. The token is random, kept in
``$MAILAPP_HOME/setup-token`` (mode 0600: only whoever reads the banner or the
data directory has it), and works only while there is no superuser; creating
the first admin deletes it. Anyone who can reach the web port but not the
terminal cannot claim the appliance.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from agents.firststart import needs_first_admin, setup_token, token_path, token_valid

__all__ = ["create_first_admin", "needs_first_admin", "setup_token", "token_valid"]


def create_first_admin(username: str, email: str, password: str) -> Any:
    """Make the first superuser and spend the token (ValidationError for a weak password)."""
    from django.contrib.auth.password_validation import validate_password

    model = get_user_model()
    if not needs_first_admin():
        raise PermissionError("There is an admin already: log in instead.")
    validate_password(password, model(username=username, email=email))
    user = model.objects.create_superuser(username=username, email=email, password=password)
    token_path().unlink(missing_ok=True)
    return user
