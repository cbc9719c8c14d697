"""Backup fixtures: the appliance's data directories in a per-test home, and a key file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.backup import S3Location
from agents.store import Store
from tests.ports import free_port, wait_port


@pytest.fixture
def home(settings, tmp_path: Path) -> Path:
    """Point the mail root, spool, TLS, ACME, archive and secret key at this test's directory."""
    base = tmp_path / "home"
    settings.MAILAPP_MAIL_ROOT = base / "mail"
    settings.MAILAPP_SPOOL_DIR = base / "spool"
    settings.MAILAPP_TLS_DIR = base / "tls"
    settings.MAILAPP_ACME_DIR = base / "acme"
    settings.MAILAPP_ARCHIVE_DIR = base / "archive"
    settings.SECRET_KEY_FILE = base / "secret_key"
    settings.MAILAPP_SRS_SECRETS_FILE = base / "srs_secrets"
    for name in ("mail", "spool", "tls"):
        (base / name).mkdir(parents=True)
    return base


@pytest.fixture
def store(home: Path) -> Store:
    return Store(home / "mail")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    path.write_bytes(os.urandom(32))
    return path


def message(subject: str, body: str = "Hello.\r\n") -> bytes:
    return (f"From: carol@example.net\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.net>\r\n\r\n{body}").encode()


# --- an S3-compatible store on loopback: moto in server mode, a real HTTP server in its own process ---------

S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key-never-shown"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server started for this test session (killed at its end)."""
    port = free_port()
    log = tempfile.TemporaryFile()
    child = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                             stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        try:
            wait_port(port, child, timeout=60)
        except RuntimeError as exc:
            log.seek(0)
            raise RuntimeError(f"moto server: {exc}: {log.read().decode(errors='replace')[-2000:]}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()


@pytest.fixture
def s3_location(s3_endpoint: str) -> S3Location:
    """A fresh, empty bucket on the moto server, with a prefix (so keys outside it are never touched)."""
    import boto3

    bucket = f"backups-{uuid.uuid4().hex[:12]}"
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                                            aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="someone-else/file", Body=b"not ours")
    return S3Location(bucket=bucket, prefix="mail/appliance", endpoint=s3_endpoint, region="us-east-1",
                      access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY)


def s3_client(location: S3Location):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.session.Session().client("s3", endpoint_url=location.endpoint, region_name=location.region,
                                          aws_access_key_id=location.access_key,
                                          aws_secret_access_key=location.secret_key)


def s3_keys(location: S3Location) -> dict[str, str]:
    """Every object of the bucket: key -> ETag."""
    pages = s3_client(location).get_paginator("list_objects_v2").paginate(Bucket=location.bucket)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}
