"""Settings for the test suite: the production settings in a private MAILAPP_HOME.

pytest-django imports this before any conftest runs. Every test process (each
xdist worker too) gets a fresh temporary MAILAPP_HOME: its own database file,
spool, Maildirs and TLS keys, so parallel runs never share state. Child
processes that tests start inherit it through the environment.
"""

import os
import sys
import tempfile

# A pytest process (the runner, each xdist worker) makes its own home; a child it
# starts (an agent, a worker, a CLI run) keeps the one it inherited.
if "pytest" in sys.modules or "MAILAPP_HOME" not in os.environ:
    os.environ["MAILAPP_HOME"] = tempfile.mkdtemp(prefix="mailapp-test-")
    os.environ.pop("MAILAPP_SQLITE_PATH", None)
os.environ.setdefault("MAILAPP_HOSTNAME", "mx.test.example")
os.environ.setdefault("MAILAPP_DEV_MODE", "1")
os.environ.setdefault("MAILAPP_CONFIG_REFRESH", "0.2")
# No SPF/DKIM/DMARC DNS questions from other areas' tests; tests/mailauth turns the checks on.
os.environ.setdefault("MAILAPP_MAILAUTH", "0")
# Tests make hundreds of domains: no RSA key for each (tests/dashboard/test_browser_dkim.py turns it on).
os.environ.setdefault("MAILAPP_DKIM_AUTOGENERATE", "0")
# Hundreds of mailboxes are made: a cheap hasher (children inherit it, so they verify alike).
os.environ.setdefault("MAILAPP_TEST_FAST_HASHER", "1")

# Failed logins wait before the answer (2, 4, 8 s in production): tests keep the growth, not the wait.
os.environ.setdefault("MAILAPP_AUTH_DELAY", "0.01")
os.environ.setdefault("MAILAPP_AUTH_MAX_DELAY", "0.04")

# Test processes share one Redis in the PostgreSQL pass: keep their throttles apart.
os.environ["MAILAPP_CACHE_PREFIX"] = "test-" + os.path.basename(os.environ["MAILAPP_HOME"])

from .settings import *  # noqa: E402,F401,F403

# WhiteNoise warns on every request when STATIC_ROOT is missing; in production `collectstatic` makes it.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
