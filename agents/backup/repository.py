"""An encrypted, content-addressed backup repository in a directory.

Layout: ``repo.json`` (the key derivation's parameters and a key check, no secret),
``chunks/xx/<id>`` (each a zlib-compressed piece of at most 4 MiB, sealed with
AES-256-GCM; the id is an HMAC of the plain bytes, so equal content is stored
once and names leak nothing), and ``manifests/<UTC time>`` (one sealed JSON
document per backup listing every file and its chunks). A second backup of an
unchanged store writes only a new manifest.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK = 4 * 1024 * 1024
CHECK = b"mailappliance backup repository"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why in words a user can act on."""


class Repository:
    def __init__(self, path: Path, master: bytes) -> None:
        self.path = Path(path)
        self.seal = AESGCM(hashlib.sha256(b"seal\0" + master).digest())
        self.id_key = hashlib.sha256(b"id\0" + master).digest()
        self.written = 0  # bytes of new chunks written by this process

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str, *, passphrase: str | None = None, key_file: Path | str | None = None,
             create: bool = False) -> Repository:
        path = Path(path)
        if (passphrase is None) == (key_file is None):
            raise BackupError("give exactly one of a passphrase or a key file")
        meta_path = path / "repo.json"
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
            except ValueError as exc:
                raise BackupError(f"{meta_path} is damaged: {exc}") from exc
        elif create:
            meta = {"version": 1, "kdf": "scrypt" if passphrase is not None else "keyfile",
                    "salt": base64.b64encode(os.urandom(16)).decode(), **SCRYPT}
        else:
            raise BackupError(f"{path} holds no backup (no repo.json)")
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
        repo = cls(path, master)
        if "check" in meta:
            try:
                repo._open_sealed(base64.b64decode(meta["check"]), b"check")
            except BackupError:
                raise BackupError("wrong passphrase or key file for this backup") from None
        else:
            (path / "chunks").mkdir(parents=True, exist_ok=True)
            (path / "manifests").mkdir(exist_ok=True)
            meta["check"] = base64.b64encode(repo._sealed(CHECK, b"check")).decode()
            _write_atomic(meta_path, json.dumps(meta, indent=1).encode())
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
    def _chunk_path(self, chunk_id: str) -> Path:
        return self.path / "chunks" / chunk_id[:2] / chunk_id

    def has(self, chunk_id: str) -> bool:
        return self._chunk_path(chunk_id).exists()

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
        target = self._chunk_path(chunk_id)
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            blob = self._sealed(data, chunk_id.encode())
            _write_atomic(target, blob, sync=False)
            self.written += len(blob)
        return chunk_id

    def get(self, chunk_id: str) -> bytes:
        try:
            blob = self._chunk_path(chunk_id).read_bytes()
        except FileNotFoundError:
            raise BackupError(f"chunk {chunk_id[:16]}… is missing: the archive is incomplete") from None
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
        os.sync()  # every chunk on disk before the manifest that names them
        name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        blob = self._sealed(json.dumps(manifest).encode(), b"manifest:" + name.encode())
        _write_atomic(self.path / "manifests" / name, blob)
        self.written += len(blob)
        return name

    def manifests(self) -> list[str]:
        folder = self.path / "manifests"
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []

    def load_manifest(self, name: str | None = None) -> tuple[str, dict[str, Any]]:
        names = self.manifests()
        if not names:
            raise BackupError(f"{self.path} holds no finished backup")
        name = name or names[-1]
        if name not in names:
            raise BackupError(f"no backup named {name!r}; there are: {', '.join(names)}")
        try:
            data = self._open_sealed((self.path / "manifests" / name).read_bytes(), b"manifest:" + name.encode())
        except BackupError as exc:
            raise BackupError(f"backup {name} {exc}") from None
        return name, json.loads(data)


    # --- one writer at a time, and retention ---------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held by a backup and by pruning, so pruning never removes a running backup's new chunks."""
        with open(self.path / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def prune(self, keep: int) -> tuple[int, int]:
        """Keep the newest ``keep`` backups; remove older manifests and every chunk no kept one names."""
        if keep < 1:
            raise BackupError("retention must keep at least one backup")
        with self.lock():
            names = self.manifests()
            dropped = names[:-keep]
            for name in dropped:
                (self.path / "manifests" / name).unlink()
            used: set[str] = set()
            for name in names[-keep:]:
                for entry in self.load_manifest(name)[1]["entries"]:
                    used.update(entry["chunks"])
            removed = 0
            for chunk in (self.path / "chunks").glob("*/*"):
                if chunk.name not in used:
                    chunk.unlink()
                    removed += 1
        return len(dropped), removed


def _write_atomic(target: Path, data: bytes, *, sync: bool = True) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    with open(partial, "wb") as handle:
        handle.write(data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(partial, target)
