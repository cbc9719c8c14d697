import tempfile

from django.conf import settings


def test_each_test_process_has_its_own_private_home():
    assert str(settings.MAILAPP_HOME).startswith(tempfile.gettempdir())
    assert "mailapp-test-" in str(settings.MAILAPP_HOME)
