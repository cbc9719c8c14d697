"""Test-session set-up that must happen before Django reads its settings.

Every test process (each xdist worker too) gets its own MAILAPP_HOME in a
temporary folder: its own database file, spool, Maildirs and TLS keys.
"""

import os
import tempfile

os.environ["MAILAPP_HOME"] = tempfile.mkdtemp(prefix="mailapp-test-")
os.environ.setdefault("MAILAPP_HOSTNAME", "mx.test.example")
os.environ.setdefault("MAILAPP_DEV_MODE", "1")
os.environ.setdefault("MAILAPP_CONFIG_REFRESH", "0.2")
os.environ.setdefault("MAILAPP_TEST_FAST_HASHER", "1")
