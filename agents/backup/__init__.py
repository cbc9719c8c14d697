"""``manage.py backup`` and ``manage.py restore``: the whole appliance in one encrypted, incremental archive.

What a backup holds (archive paths): ``database/`` (SQLite's online backup API, or
``pg_dump -Fc`` on PostgreSQL), ``spool/``, ``mail/<domain>/<local>/`` (each
mailbox copied by ``agents.store.snapshot``), ``tls/``, ``acme/`` and
``secret_key`` and the SRS secrets. DKIM keys live in the database. See docs/backup.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from agents.store.index import INDEX_NAME
from agents.store.snapshot import STAGING, copy_sqlite, restore_mailbox, snapshot_mailbox

from .repository import BackupError, Repository
from .targets import DirectoryTarget, S3Location, S3Target

__all__ = ["BackupError", "DirectoryTarget", "Repository", "S3Location", "S3Target", "backup", "restore",
           "scheduled"]


def _home_dirs() -> dict[str, Path]:
    return {"tls": Path(settings.MAILAPP_TLS_DIR), "acme": Path(settings.MAILAPP_ACME_DIR)}


def _key_files() -> dict[str, Path]:
    """Single key files kept in MAILAPP_HOME, by their name in the archive."""
    return {"secret_key": Path(settings.SECRET_KEY_FILE), "srs_secrets": Path(settings.MAILAPP_SRS_SECRETS_FILE)}


def backup(repo: Repository) -> dict[str, Any]:
    """Write one backup; returns a summary (manifest name, files, mailboxes, new bytes and chunks written)."""
    try:
        with repo.lock():
            return _backup(repo)
    finally:
        repo.close()


def scheduled(path: str, key_file: str, passphrase: str, keep: int) -> dict[str, Any]:
    """The Celery beat backup: one backup into ``path``, then keep the newest ``keep``."""
    repo = Repository.open(path, passphrase=None if key_file else passphrase, key_file=key_file or None,
                           create=True)
    result = backup(repo)
    result["pruned"] = repo.prune(keep)
    return result


def _backup(repo: Repository) -> dict[str, Any]:
    previous: dict[str, Any] = {}
    if repo.manifests():
        previous = repo.load_manifest()[1]
    known_messages = {e["key"]: e for e in previous.get("entries", []) if e.get("key")}
    known_files = {e["path"]: e for e in previous.get("entries", []) if not e.get("key")}
    entries: list[dict[str, Any]] = []

    def add(path: str, source: Path, key: str | None = None) -> None:
        stat = source.stat()
        old = known_messages.get(key) if key else known_files.get(path)
        if old and (key or (old["size"], old["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)) \
                and all(repo.has(c) for c in old["chunks"]):
            chunks, size = old["chunks"], old["size"]
        else:
            chunks, size = repo.put_file(source)
        entry = {"path": path, "chunks": chunks, "size": size, "mtime": stat.st_mtime,
                 "mtime_ns": stat.st_mtime_ns}
        if key:
            entry["key"] = key
        entries.append(entry)

    with tempfile.TemporaryDirectory(prefix="mailapp-backup-") as scratch_name:
        scratch = Path(scratch_name)
        spool = Path(settings.MAILAPP_SPOOL_DIR)
        spooled = set(_files(spool))  # spool before the database, then what arrived meanwhile (see docs)
        for rel in sorted(spooled):
            _add_if_there(add, f"spool/{rel}", spool / rel)
        engine = _dump_database(scratch)
        add(f"database/{engine[1].name}", engine[1])
        for rel in sorted(set(_files(spool)) - spooled):
            _add_if_there(add, f"spool/{rel}", spool / rel)
        mailboxes: list[str] = []
        root = Path(settings.MAILAPP_MAIL_ROOT)
        for domain_dir, box in _mailboxes(root):
            rel_box = f"{domain_dir.name}/{box.name}"
            mailboxes.append(rel_box)
            box_scratch = scratch / "mail" / rel_box
            for rel, source, uniq in snapshot_mailbox(box, box_scratch):
                add(f"mail/{rel_box}/{rel}", source, f"{rel_box}/{rel.rsplit('/', 2)[0]}/{uniq}" if uniq else None)
            shutil.rmtree(box_scratch, ignore_errors=True)
        for prefix, folder in _home_dirs().items():
            for rel in sorted(_files(folder)):
                _add_if_there(add, f"{prefix}/{rel}", folder / rel)
        for name, path in _key_files().items():
            if path.is_file():
                add(name, path)
        manifest = {"version": 1, "database": engine[0], "mailboxes": mailboxes, "entries": entries}
        name = repo.save_manifest(manifest)
    return {"name": name, "files": len(entries), "mailboxes": len(mailboxes), "written": repo.written,
            "uploaded": repo.uploaded, "size": sum(e["size"] for e in entries)}


def _add_if_there(add, path: str, source: Path) -> None:  # type: ignore[no-untyped-def]
    try:
        add(path, source)
    except FileNotFoundError:  # a spool file finished and removed while we read it
        pass


def _files(folder: Path) -> Iterator[str]:
    if not folder.is_dir():
        return
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not name.endswith(".part"):
                yield str(path.relative_to(folder))


def _mailboxes(root: Path) -> Iterator[tuple[Path, Path]]:
    if not root.is_dir():
        return
    for domain_dir in sorted(root.iterdir()):
        if domain_dir.name.startswith(".") or not domain_dir.is_dir():
            continue
        for box in sorted(domain_dir.iterdir()):
            if (box / INDEX_NAME).is_file():
                yield domain_dir, box


def _dump_database(scratch: Path) -> tuple[str, Path]:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        target = scratch / "db.sqlite3"
        copy_sqlite(Path(db["NAME"]), target)
        return "sqlite", target
    if connection.vendor == "postgresql":
        target = scratch / "db.pgdump"
        run = subprocess.run(["pg_dump", "-Fc", "-f", str(target), "-d", db["NAME"]], env=_pg_env(db),
                             capture_output=True, text=True, timeout=3600)
        if run.returncode:
            raise BackupError(f"pg_dump failed: {run.stderr.strip()}")
        return "postgresql", target
    raise BackupError(f"cannot back up a {connection.vendor} database")


def _pg_env(db: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(key):
            env[var] = str(db[key])
    return env


def restore(repo: Repository, *, name: str | None = None, domain: str | None = None,
            mailbox: str | None = None) -> dict[str, Any]:
    """Restore the whole appliance (database, spool, keys, mail), one domain's mail, or one mailbox.

    Every chunk is read and authenticated before anything live is touched for a
    mailbox; a damaged archive stops the restore with ``BackupError``.
    """
    with repo.caching():
        return _restore(repo, name, domain, mailbox)


def _restore(repo: Repository, name: str | None, domain: str | None, mailbox: str | None) -> dict[str, Any]:
    name, manifest = repo.load_manifest(name)
    whole = domain is None and mailbox is None
    wanted: set[str] = set(manifest["mailboxes"])
    if mailbox:
        local, _, dom = mailbox.lower().rpartition("@")
        wanted = {f"{dom}/{local}"} & wanted
        if not wanted:
            raise BackupError(f"backup {name} has no mailbox {mailbox}")
    elif domain:
        wanted = {b for b in wanted if b.split("/")[0] == domain.lower()}
        if not wanted:
            raise BackupError(f"backup {name} has no mailbox in {domain}")
    by_box: dict[str, list[dict[str, Any]]] = {b: [] for b in wanted}
    others: list[dict[str, Any]] = []
    for entry in manifest["entries"]:
        parts = entry["path"].split("/")
        if parts[0] == "mail":
            box = f"{parts[1]}/{parts[2]}"
            if box in by_box:
                by_box[box].append(entry)
        elif whole:
            others.append(entry)
    # Authenticate everything before touching anything live.
    repo.verify([c for entry in others + [e for es in by_box.values() for e in es] for c in entry["chunks"]])
    if whole:
        _restore_home(repo, manifest, others)
    root = Path(settings.MAILAPP_MAIL_ROOT)
    replaced: dict[str, str] = {}
    for box, box_entries in sorted(by_box.items()):
        dom, local = box.split("/")
        prefix = f"mail/{box}/"
        files = ((e["path"][len(prefix):], (lambda e=e: repo.read(e)), e["mtime"]) for e in box_entries)
        old = restore_mailbox(root, f"{local}@{dom}", Path(settings.MAILAPP_ARCHIVE_DIR), files)
        if old is not None:
            replaced[f"{local}@{dom}"] = str(old)
    shutil.rmtree(root / STAGING, ignore_errors=True)
    return {"name": name, "mailboxes": len(by_box), "replaced": replaced}


def _restore_home(repo: Repository, manifest: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    targets = {"spool": Path(settings.MAILAPP_SPOOL_DIR), **_home_dirs()}
    for entry in entries:
        head, _, rest = entry["path"].partition("/")
        if head == "database":
            _load_database(manifest["database"], repo.read(entry))
            continue
        if head in _key_files() and not rest:
            target = _key_files()[head]
        elif head in targets and ".." not in Path(rest).parts and not Path(rest).is_absolute():
            target = targets[head] / rest
        else:
            raise BackupError(f"backup names an unexpected path {entry['path']!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restore")
        partial.write_bytes(repo.read(entry))
        os.chmod(partial, 0o600)
        os.utime(partial, (entry["mtime"], entry["mtime"]))
        os.replace(partial, target)


def _load_database(engine: str, data: bytes) -> None:
    if engine != connection.vendor:
        raise BackupError(f"the backup holds a {engine} database; this appliance runs on {connection.vendor}")
    db = connection.settings_dict
    with tempfile.TemporaryDirectory(prefix="mailapp-restore-") as scratch:
        dump = Path(scratch) / "database"
        dump.write_bytes(data)
        connection.close()
        if engine == "sqlite":
            import sqlite3

            src = sqlite3.connect(dump)
            dst = sqlite3.connect(db["NAME"], timeout=30)
            try:
                src.backup(dst)  # one write transaction: readers see the old or the new database
            finally:
                dst.close()
                src.close()
            return
        run = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                              "-d", db["NAME"], str(dump)], env=_pg_env(db), capture_output=True, text=True,
                             timeout=3600)
        if run.returncode:
            raise BackupError(f"pg_restore failed: {run.stderr.strip()}")
