"""A request body over DATA_UPLOAD_MAX_MEMORY_SIZE gets 413 (JSON under /api/), logged as a
one-line warning: a client's mistake, not a server error with a traceback."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client


def _no_error_logged(caplog) -> None:
    for record in caplog.records:
        assert record.levelno <= logging.WARNING, (record.name, record.getMessage())
        assert not record.exc_info, (record.name, record.getMessage())


def test_a_50_mb_api_body_is_413_json(api, caplog):
    body = b'{"name": "' + b"a" * (50 * 1024 * 1024) + b'.test"}'
    with caplog.at_level(logging.INFO):
        response = api.post("/api/v1/domains/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "too large" in json.loads(response.content)["detail"]
    _no_error_logged(caplog)


def test_an_oversize_form_elsewhere_is_a_plain_413(db, caplog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    with caplog.at_level(logging.INFO):
        response = Client().post("/dashboard/login/", data="username=" + "x" * 20_000,
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    _no_error_logged(caplog)


def test_a_multipart_form_with_oversize_fields_is_413_too(db, caplog, settings):
    """Multipart bodies pass the Content-Length check (files do not count toward the limit);
    Django's own RequestDataTooBig, raised while parsing, becomes the same 413."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    with caplog.at_level(logging.INFO):
        response = Client().post("/dashboard/login/", data={"username": "x" * 20_000, "password": "y"})
    assert response.status_code == 413
    _no_error_logged(caplog)
    assert any(r.name == "django.security.RequestDataTooBig" and r.levelno == logging.WARNING
               for r in caplog.records)


@pytest.mark.parametrize("size", [100, 9_000])
def test_bodies_within_the_limit_are_untouched(api, settings, size):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api.post("/api/v1/domains/", data={"name": "fine.test", "pad": "p" * size}, format="json")
    assert response.status_code == 201
