"""An encrypted, content-addressed backup repository in a directory or an S3-compatible store.

Layout (keys of the target, ``targets.py``): ``repo.json`` (the key derivation's parameters and a key check, no secret),
``chunks/xx/<id>`` (each a zlib-compressed piece of at most 4 MiB, sealed with
AES-256-GCM; the id is an HMAC of the plain bytes, so equal content is stored
once and names leak nothing), and ``manifests/<UTC time>`` (one sealed JSON
document per backup listing every file and its chunks). A second backup of an
unchanged store writes only a new manifest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .targets import DirectoryTarget, Target, TargetError

CHUNK = 4 * 1024 * 1024
CHECK = b"mailappliance backup repository"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
FETCHERS = 8  # parallel GETs when a restore reads a remote archive


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why in words a user can act on."""


class Repository:
    def __init__(self, target: Target, master: bytes) -> None:
        self.target = target
        self.seal = AESGCM(hashlib.sha256(b"seal\0" + master).digest())
        self.id_key = hashlib.sha256(b"id\0" + master).digest()
        self.written = 0  # bytes of new chunks and manifests written by this process
        self.uploaded = 0  # how many chunks this process wrote (a second unchanged backup writes none of mail)
        self._known: set[str] | None = None  # chunk ids in the target, listed once
        self._cache: Path | None = None  # sealed chunks already fetched, while ``caching()``

    def close(self) -> None:
        """Let uploads still in flight finish (after a failed backup) so no thread outlives the run."""
        close = getattr(self.target, "close", None)
        if close is not None:
            close()

    @property
    def path(self) -> Path:
        """The archive directory (local targets only)."""
        if not isinstance(self.target, DirectoryTarget):
            raise BackupError(f"{self.target.describe()} is not a directory")
        return self.target.path

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, where: Path | str | Target, *, passphrase: str | None = None, key_file: Path | str | None = None,
             create: bool = False) -> Repository:
        """Open the archive at ``where`` (a directory, or a target), making it when ``create``.

        Raises BackupError for a wrong key, a damaged ``repo.json`` or an unreachable target.
        """
        target: Target = DirectoryTarget(where) if isinstance(where, (str, Path)) else where
        if (passphrase is None) == (key_file is None):
            raise BackupError("give exactly one of a passphrase or a key file")
        try:
            return cls._open(target, passphrase, key_file, create)
        except TargetError as exc:
            raise BackupError(str(exc)) from None

    @classmethod
    def _open(cls, target: Target, passphrase: str | None, key_file: Path | str | None, create: bool) -> Repository:
        raw = target.read("repo.json")
        if raw is not None:
            try:
                meta = json.loads(raw)
            except ValueError as exc:
                raise BackupError(f"{target.describe()}/repo.json is damaged: {exc}") from exc
        elif create:
            meta = {"version": 1, "kdf": "scrypt" if passphrase is not None else "keyfile",
                    "salt": base64.b64encode(os.urandom(16)).decode(), **SCRYPT}
        else:
            raise BackupError(f"{target.describe()} holds no backup (no repo.json)")
        salt = base64.b64decode(meta["salt"])
        if passphrase is not None:
            if meta.get("kdf") != "scrypt":
                raise BackupError("this backup was made with a key file, not a passphrase")
            master = hashlib.scrypt(passphrase.encode(), salt=salt, n=meta["n"], r=meta["r"], p=meta["p"],
                                    maxmem=128 * meta["n"] * meta["r"] * 2, dklen=32)
        else:
            if meta.get("kdf") != "keyfile":
                raise BackupError("this backup was made with a passphrase, not a key file")
            assert key_file is not None
            content = Path(key_file).read_bytes()
            if len(content) < 32:
                raise BackupError("the key file must hold at least 32 bytes (e.g. head -c 32 /dev/urandom)")
            master = hmac.new(salt, content, hashlib.sha256).digest()
        repo = cls(target, master)
        if "check" in meta:
            try:
                repo._open_sealed(base64.b64decode(meta["check"]), b"check")
            except BackupError:
                raise BackupError("wrong passphrase or key file for this backup") from None
        else:
            if isinstance(target, DirectoryTarget):
                (target.path / "chunks").mkdir(parents=True, exist_ok=True)
                (target.path / "manifests").mkdir(exist_ok=True)
            meta["check"] = base64.b64encode(repo._sealed(CHECK, b"check")).decode()
            target.write("repo.json", json.dumps(meta, indent=1).encode())
        return repo

    # --- sealing -------------------------------------------------------------------------
    def _sealed(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.seal.encrypt(nonce, zlib.compress(data, 6), aad)

    def _open_sealed(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return zlib.decompress(self.seal.decrypt(blob[:12], blob[12:], aad))
        except (InvalidTag, ValueError, zlib.error) as exc:
            raise BackupError("fails authentication: the archive is damaged or was tampered with") from exc

    # --- chunks --------------------------------------------------------------------------
    @staticmethod
    def _chunk_key(chunk_id: str) -> str:
        return f"chunks/{chunk_id[:2]}/{chunk_id}"

    def chunk_ids(self) -> set[str]:
        """Every chunk in the target (listed once per process, then kept up to date by put and prune)."""
        if self._known is None:
            try:
                self._known = {key.rsplit("/", 1)[-1] for key in self.target.keys("chunks/")}
            except TargetError as exc:
                raise BackupError(str(exc)) from None
        return self._known

    def has(self, chunk_id: str) -> bool:
        return chunk_id in self.chunk_ids()

    def put_file(self, source: Path) -> tuple[list[str], int]:
        """Store a file's content; returns its chunk ids and size. Known chunks are not written again."""
        ids: list[str] = []
        size = 0
        with open(source, "rb") as handle:
            while True:
                piece = handle.read(CHUNK)
                if not piece and ids:
                    break
                ids.append(self.put(piece))
                size += len(piece)
                if len(piece) < CHUNK:
                    break
        return ids, size

    def put(self, data: bytes) -> str:
        chunk_id = hmac.new(self.id_key, data, hashlib.sha256).hexdigest()
        if not self.has(chunk_id):
            blob = self._sealed(data, chunk_id.encode())
            try:
                self.target.write(self._chunk_key(chunk_id), blob, durable=False)
            except TargetError as exc:
                raise BackupError(str(exc)) from None
            self.chunk_ids().add(chunk_id)
            self.written += len(blob)
            self.uploaded += 1
        return chunk_id

    def _fetch(self, chunk_id: str) -> bytes | None:
        cached = self._cache / chunk_id if self._cache is not None else None
        if cached is not None and cached.exists():
            return cached.read_bytes()
        try:
            blob = self.target.read(self._chunk_key(chunk_id))
        except TargetError as exc:
            raise BackupError(str(exc)) from None
        if cached is not None and blob is not None:
            partial = cached.with_name(f".{chunk_id}.part")
            partial.write_bytes(blob)
            partial.replace(cached)  # whole or absent, whichever thread reads it next
        return blob

    @contextmanager
    def caching(self) -> Iterator[None]:
        """Keep fetched chunks in local scratch space while inside: a restore reads each chunk twice (once to
        authenticate everything before touching live mail, once to write it), and from S3 that is a download.
        Cached chunks are still sealed and authenticated again on every read."""
        if isinstance(self.target, DirectoryTarget) or self._cache is not None:
            yield
            return
        scratch = Path(tempfile.mkdtemp(prefix="mailapp-backup-cache-"))
        self._cache = scratch
        try:
            yield
        finally:
            self._cache = None
            shutil.rmtree(scratch, ignore_errors=True)

    def verify(self, chunk_ids: list[str]) -> None:
        """Read and authenticate every chunk named (raises BackupError at the first bad one).

        From a remote target, inside ``caching()``, the chunks are fetched by parallel requests and
        kept in the cache, so the restore that follows reads them locally: one GET per chunk, and the
        latency of thousands of small objects is paid ``FETCHERS`` at a time.
        """
        unique = list(dict.fromkeys(chunk_ids))
        if self._cache is None or len(unique) < 2:
            for chunk_id in unique:
                self.get(chunk_id)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=FETCHERS, thread_name_prefix="backup-fetch") as pool:
            for _ in pool.map(self.get, unique):
                pass

    def get(self, chunk_id: str) -> bytes:
        blob = self._fetch(chunk_id)
        if blob is None:
            raise BackupError(f"chunk {chunk_id[:16]}… is missing: the archive is incomplete")
        try:
            data = self._open_sealed(blob, chunk_id.encode())
        except BackupError as exc:
            raise BackupError(f"chunk {chunk_id[:16]}… {exc}") from None
        if not hmac.compare_digest(hmac.new(self.id_key, data, hashlib.sha256).hexdigest(), chunk_id):
            raise BackupError(f"chunk {chunk_id[:16]}… does not match its name: the archive was tampered with")
        return data

    def read(self, entry: dict[str, Any]) -> bytes:
        return b"".join(self.get(c) for c in entry["chunks"])

    # --- manifests -----------------------------------------------------------------------
    def save_manifest(self, manifest: dict[str, Any]) -> str:
        name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        blob = self._sealed(json.dumps(manifest).encode(), b"manifest:" + name.encode())
        try:
            self.target.flush()  # every chunk stored before the manifest that names them
            self.target.write(f"manifests/{name}", blob)
        except TargetError as exc:
            raise BackupError(str(exc)) from None
        self.written += len(blob)
        return name

    def manifests(self) -> list[str]:
        try:
            keys = self.target.keys("manifests/")
        except TargetError as exc:
            raise BackupError(str(exc)) from None
        return sorted(name for name in (k.rsplit("/", 1)[-1] for k in keys) if not name.startswith("."))

    def load_manifest(self, name: str | None = None) -> tuple[str, dict[str, Any]]:
        names = self.manifests()
        if not names:
            raise BackupError(f"{self.target.describe()} holds no finished backup")
        name = name or names[-1]
        if name not in names:
            raise BackupError(f"no backup named {name!r}; there are: {', '.join(names)}")
        try:
            blob = self.target.read(f"manifests/{name}")
        except TargetError as exc:
            raise BackupError(str(exc)) from None
        if blob is None:
            raise BackupError(f"backup {name} disappeared while being read")
        try:
            data = self._open_sealed(blob, b"manifest:" + name.encode())
        except BackupError as exc:
            raise BackupError(f"backup {name} {exc}") from None
        return name, json.loads(data)


    # --- one writer at a time, and retention ---------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held by a backup and by pruning, so pruning never removes a running backup's new chunks."""
        with self.target.lock():
            yield

    def prune(self, keep: int) -> tuple[int, int]:
        """Keep the newest ``keep`` backups; remove older manifests and every chunk no kept one names."""
        if keep < 1:
            raise BackupError("retention must keep at least one backup")
        return self.prune_to(lambda names: set(names[-keep:]))

    def prune_to(self, choose: Any) -> tuple[int, int]:
        """Remove the backups ``choose(names)`` (oldest first) does not return, then every chunk no kept backup
        names. A chunk a kept backup still uses stays, whichever backup first wrote it: each manifest lists every
        chunk it needs, so no backup depends on another (the incremental chain cannot break)."""
        with self.lock():
            names = self.manifests()
            kept = set(choose(names))
            if names and not kept & set(names):
                raise BackupError("retention must keep at least one backup")
            used: set[str] = set()
            for name in names:
                if name in kept:
                    for entry in self.load_manifest(name)[1]["entries"]:
                        used.update(entry["chunks"])
            dropped = [name for name in names if name not in kept]
            self._known = None  # list afresh: chunks written since this process listed them count
            unused = sorted(self.chunk_ids() - used)
            try:
                self.target.delete([f"manifests/{name}" for name in dropped])
                self.target.delete([self._chunk_key(c) for c in unused])
            except TargetError as exc:
                raise BackupError(str(exc)) from None
            self.chunk_ids().difference_update(unused)
        return len(dropped), len(unused)
