"""Where a backup archive lives: a local directory or an S3-compatible object store.

The repository (``repository.py``) sees only keys such as ``repo.json``,
``chunks/ab/abcd…`` and ``manifests/20261202T114812.854315Z``; a target maps them to
files or to objects under a prefix. Everything stored is sealed by the repository,
so a target need not be trusted: a flipped bit or a swapped object is caught when
it is read back.

The S3 client (boto3) is imported only when an S3 target is opened, so agents and
workers that never back up to S3 do not pay for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class TargetError(Exception):
    """The target cannot be reached or refused an operation; the text says which and why."""


class Target(Protocol):
    """The few operations a backup repository needs from where it is kept."""

    def describe(self) -> str: ...

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    def write(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Store ``data`` under ``key`` whole or not at all. ``durable=False`` may return before it is stored:
        ``flush()`` waits for every such write."""

    def flush(self) -> None:
        """Every write so far is stored durably (raises if one failed)."""

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (a folder name ending in ``/``)."""

    def delete(self, keys: list[str]) -> None: ...

    def lock(self) -> Any:
        """A context manager held by a backup and by pruning (one writer at a time)."""


class DirectoryTarget:
    """An archive in a local (or mounted) directory: keys are relative paths."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.path / key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes, *, durable: bool = True) -> None:
        target = self.path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        with open(partial, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(partial, target)

    def flush(self) -> None:
        os.sync()  # every chunk on disk before the manifest that names them

    def keys(self, prefix: str) -> list[str]:
        folder = self.path / prefix
        if not folder.is_dir():
            return []
        found = []
        for dirpath, _dirs, names in os.walk(folder):
            for name in names:
                if not name.startswith("."):
                    found.append(str((Path(dirpath) / name).relative_to(self.path)))
        return found

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.path / key).unlink(missing_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class S3Location:
    """An S3-compatible bucket and prefix, and how to reach it (endpoint empty: AWS itself)."""

    bucket: str
    prefix: str = ""
    endpoint: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = ""  # never logged nor shown back

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix.strip('/')}".rstrip("/")
        return f"{where} at {self.endpoint}" if self.endpoint else where


UPLOADERS = 8  # parallel PUTs: one small object per message, so latency, not bandwidth, bounds a first backup
PENDING_BYTES = 32 * 1024 * 1024  # sealed chunks waiting in memory for an uploader, at most (a small appliance)


class S3Target:
    """An archive as objects under ``prefix/`` in a bucket of any S3-compatible store.

    An object PUT is atomic (whole or absent) and durable once answered, so chunk
    uploads run in parallel and ``flush()`` waits for them before the manifest is
    written. Two writers on one prefix are kept apart by a lock file on this host
    (``lock_dir``): one appliance writes one prefix.
    """

    def __init__(self, location: S3Location, lock_dir: Path | str) -> None:
        import boto3
        from botocore.config import Config

        self.location = location
        self.prefix = location.prefix.strip("/") + "/" if location.prefix.strip("/") else ""
        self.lock_dir = Path(lock_dir)
        session = boto3.session.Session()
        self.client = session.client(
            "s3", endpoint_url=location.endpoint or None, region_name=location.region or None,
            aws_access_key_id=location.access_key or None, aws_secret_access_key=location.secret_key or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=UPLOADERS + 2,
                          connect_timeout=10, read_timeout=60, s3={"addressing_style": "path"}),
        )  # fmt: skip
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._pending_bytes = 0

    def describe(self) -> str:
        return self.location.describe()

    def _error(self, what: str, exc: Exception) -> TargetError:
        return TargetError(f"{self.describe()}: {what} failed: {_reason(exc)}")

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=self.prefix + key)
            return bytes(answer["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error(f"reading {key}", exc) from None
        except BotoCoreError as exc:
            raise self._error(f"reading {key}", exc) from None

    def _put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # Content-MD5 lets the store refuse a body damaged on the way.
            self.client.put_object(Bucket=self.location.bucket, Key=self.prefix + key, Body=data,
                                   ContentMD5=_md5_base64(data))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(f"writing {key}", exc) from None

    def write(self, key: str, data: bytes, *, durable: bool = True) -> None:
        if durable:
            self._put(key, data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=UPLOADERS, thread_name_prefix="backup-s3")
        while self._pending and self._pending_bytes + len(data) > PENDING_BYTES:
            self._wait_oldest()
        self._pending.append((self._pool.submit(self._put, key, data), len(data)))
        self._pending_bytes += len(data)

    def _wait_oldest(self) -> None:
        future, size = self._pending.popleft()
        self._pending_bytes -= size
        future.result()

    def flush(self) -> None:
        try:
            while self._pending:
                self._wait_oldest()
        finally:
            if self._pool is not None and not self._pending:
                self._pool.shutdown(wait=True)
                self._pool = None

    def close(self) -> None:
        """Wait for uploads in flight (their errors are dropped: the manifest was never written)."""
        for future, _size in self._pending:
            future.exception()
        self._pending.clear()
        self._pending_bytes = 0
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        found = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket,
                                                                          Prefix=self.prefix + prefix)
            for page in pages:
                found += [item["Key"][len(self.prefix):] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._error("listing", exc) from None
        return found

    def delete(self, keys: list[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": self.prefix + key} for key in keys[start:start + 1000]]
            try:
                answer = self.client.delete_objects(Bucket=self.location.bucket,
                                                    Delete={"Objects": batch, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                raise self._error("deleting", exc) from None
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise TargetError(f"{self.describe()}: deleting {first.get('Key')} failed: {first.get('Message')}")

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(self.describe().encode()).hexdigest()[:16]
        with open(self.lock_dir / f"backup-{name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _md5_base64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code', '')} {error.get('Message', '')}".strip()
    return str(exc) or exc.__class__.__name__
