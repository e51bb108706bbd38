"""Back up every service's database and the document store to one archive, and restore it into an empty stack.

    python -m shared.backup create --out FILE        # while the stack runs
    python -m shared.backup restore FILE [--force]   # into empty databases and an empty documents folder
    python -m shared.backup verify FILE              # checksums and manifest only, changes nothing
    python -m shared.backup new-key                  # a fresh BACKUP_KEY

The archive is a tar file, encrypted under the backup key (`BACKUP_KEY`, AES-256-GCM in 1 MiB chunks, see
"encryption" below; a key held by the backup job and whoever restores, not by the stack's services) and
created 0600 (it holds every applicant's data, staff password hashes included), with
`databases/<service>.pgdump` (pg_dump's custom format) or `databases/<service>.sqlite` (SQLite's online
backup), `documents/<key>` for every stored document (as stored: encrypted, so a restore needs the
`DOCUMENTS_KEYS` of the stack that took it; see shared/documents.py), and `manifest.json` (written last) with the time,
the alembic revision of each database, and the size and sha256 of every other member.

Consistency across services. Each database dump is a consistent snapshot of that database, but the three
are taken one after the other while events flow between them. Databases are dumped before the documents,
so every document a dumped row names is in the archive. On restore, every event an outbox marked sent
since the backup started is marked unsent again, so the relay publishes it once more: a consumer whose
dump was taken before it handled that event handles it now, and one that had handled it ignores it (its
inbox keeps event ids). Commands (tasks without an event id) are not re-sent; intake's sweeper requeues
work left unfinished. See docs/operations.md.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import make_url, text
from sqlalchemy.engine import URL

from shared.config import Settings, _secret_file
from shared.db import make_engine
from shared.documents import DocumentKeyError, DocumentStore, Keyring, new_documents_key, parse_keys

log = logging.getLogger(__name__)

FORMAT = 1
SERVICES = ("intake", "review", "notify")
# Events sent shortly before the recorded start are re-sent too: the relay's clock and this one may differ.
CLOCK_MARGIN = timedelta(minutes=5)
_CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why and nothing was changed."""


# ---------------------------------------------------------------------------------------------- databases

@dataclass(frozen=True)
class Target:
    service: str
    url: URL

    @property
    def engine_name(self) -> str:
        return "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"

    @property
    def member(self) -> str:
        return f"databases/{self.service}.{'sqlite' if self.engine_name == 'sqlite' else 'pgdump'}"

    def sqlite_path(self) -> Path:
        return Path(str(self.url.database))

    def libpq(self) -> tuple[str, dict]:
        """A libpq URL without the password, and the environment that carries it (not the command line)."""
        url = self.url.set(drivername="postgresql", password=None)
        env = {**os.environ}
        if self.url.password is not None:
            env["PGPASSWORD"] = str(self.url.password)
        return url.render_as_string(hide_password=False), env


def targets(settings: Settings) -> list[Target]:
    return [Target(service, make_url(settings.database_url(service))) for service in SERVICES]


def _run(args: list[str], env: dict, what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        # pg tools print the database name, never the password (it is in PGPASSWORD)
        raise BackupError(f"{what} failed: {result.stderr.strip()[-2000:]}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def dump(target: Target, out: Path) -> None:
    if target.engine_name == "sqlite":
        source = sqlite3.connect(target.sqlite_path(), timeout=30)
        copy = sqlite3.connect(out)
        try:
            source.backup(copy)  # the online backup API: a consistent copy while writers go on
        finally:
            copy.close()
            source.close()
        return
    url, env = target.libpq()
    # one snapshot of the whole database; no owner or grants, so it restores under any role
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={out}", f"--dbname={url}"],
         env, f"pg_dump of {target.service}")


def revision(target: Target) -> str | None:
    engine = make_engine(target.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no schema yet: nothing migrated
        return None
    finally:
        engine.dispose()


def tables_in(target: Target) -> int:
    """How many tables the target already has; a restore goes only into an empty one (unless forced)."""
    if target.engine_name == "sqlite":
        path = target.sqlite_path()
        if not path.exists():
            return 0
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            conn.close()
    engine = make_engine(target.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            return connection.execute(text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")).scalar_one()
    except Exception as error:
        raise BackupError(f"cannot reach {target.service}'s database: {type(error).__name__}") from None
    finally:
        engine.dispose()


def load(target: Target, dumped: Path, *, force: bool) -> None:
    if target.engine_name == "sqlite":
        path = target.sqlite_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(dumped)
        copy = sqlite3.connect(path, timeout=30)
        try:
            source.backup(copy)  # replaces the whole target database, in one step
        finally:
            copy.close()
            source.close()
        return
    url, env = target.libpq()
    args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            f"--dbname={url}"]
    if force:
        args += ["--clean", "--if-exists"]
    _run([*args, str(dumped)], env, f"pg_restore of {target.service}")


def resend_events_since(target: Target, since: datetime) -> int:
    """Mark the events sent since `since` unsent, so the relay publishes them again (consumers dedupe)."""
    engine = make_engine(target.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            bound: str | datetime
            if target.engine_name == "sqlite":
                # UTCDateTime stores naive UTC text on SQLite
                bound = since.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
            else:
                bound = since
            result = conn.execute(text("UPDATE outbox SET sent_at = NULL WHERE event_id IS NOT NULL "
                                       "AND sent_at IS NOT NULL AND sent_at >= :since"), {"since": bound})
            return result.rowcount
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------- encryption

# The archive on disk: `NIPBAK\x01`, the key id's length and id, a 16-byte salt, then the tar in chunks of 1 MiB,
# each AES-256-GCM sealed under a key derived from the backup key and the salt (HKDF-SHA256), with the chunk's
# number and a last-chunk flag as its nonce and the header as associated data (the STREAM construction, as in
# age and Tink): a chunk changed, moved, dropped or added, or the end cut off, is refused.
BACKUP_KEY_ENV = "BACKUP_KEY"
MAGIC = b"NIPBAK\x01"
SALT_BYTES = 16
TAG_BYTES = 16
CRYPT_CHUNK = 1024 * 1024


def new_backup_key() -> str:
    """A `kid:base64key` value for BACKUP_KEY (on rotation, the new one first: `new,old`)."""
    return new_documents_key()


def backup_key(settings: Settings) -> str:
    """BACKUP_KEY from the environment; in embedded mode one generated into var/backup_key (0600)."""
    value = os.environ.get(BACKUP_KEY_ENV)
    if value:
        return value
    if settings.embedded_broker:
        return _secret_file(settings.var_dir, "backup_key", new_backup_key)
    raise BackupError(f"{BACKUP_KEY_ENV} is not set: backups are encrypted (`make keys` prints one; keep it "
                      "outside the stack, with whoever may restore)")


def _keyring(value: str) -> Keyring:
    try:
        return parse_keys(value, BACKUP_KEY_ENV)
    except DocumentKeyError as error:
        raise BackupError(str(error)) from None


def _cipher(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"nip backup archive").derive(key))


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class _EncryptingWriter:
    """What tarfile writes to: the archive's bytes, sealed a chunk at a time into `raw`."""

    def __init__(self, raw, keyring: Keyring):
        kid = keyring.current.encode()
        salt = os.urandom(SALT_BYTES)
        self.header = MAGIC + bytes([len(kid)]) + kid + salt
        self.cipher = _cipher(keyring.key(keyring.current), salt)
        self.raw, self.buffer, self.index, self.size = raw, bytearray(), 0, 0
        raw.write(self.header)

    def write(self, data) -> int:
        self.buffer += data
        self.size += len(data)
        # a full chunk is sealed only once more follows, so the last chunk is never an empty one after a full one
        while len(self.buffer) > CRYPT_CHUNK:
            self._seal(bytes(self.buffer[:CRYPT_CHUNK]), last=False)
            del self.buffer[:CRYPT_CHUNK]
        return len(data)

    def tell(self) -> int:
        return self.size

    def finish(self) -> None:
        self._seal(bytes(self.buffer), last=True)
        self.buffer.clear()

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        self.raw.write(self.cipher.encrypt(_nonce(self.index, last), chunk, self.header))
        self.index += 1


class _DecryptingReader(io.RawIOBase):
    """The archive's tar bytes, read (and seeked: tarfile jumps to members) from the encrypted file."""

    def __init__(self, raw, keyring: Keyring, name: str):
        super().__init__()
        self.raw, self.name = raw, name
        head = raw.read(len(MAGIC) + 1 + 32 + SALT_BYTES)
        length = head[len(MAGIC)] if len(head) > len(MAGIC) else 0
        kid = head[len(MAGIC) + 1:len(MAGIC) + 1 + length].decode("ascii", "replace")
        self.header = head[:len(MAGIC) + 1 + length + SALT_BYTES]
        if not head.startswith(MAGIC) or not length or len(self.header) < len(MAGIC) + 1 + length + SALT_BYTES:
            raise BackupError(f"{name} is not an encrypted backup archive")
        try:
            key = keyring.key(kid)
        except DocumentKeyError:
            raise BackupError(f"{name} is encrypted under backup key id {kid!r}, which {BACKUP_KEY_ENV} does not "
                              "hold (keep retired backup keys after the current one while their backups may be "
                              "restored)") from None
        self.cipher = _cipher(key, self.header[-SALT_BYTES:])
        body = os.fstat(raw.fileno()).st_size - len(self.header)
        self.chunks = max(1, -(-body // (CRYPT_CHUNK + TAG_BYTES)))
        last = body - (self.chunks - 1) * (CRYPT_CHUNK + TAG_BYTES) - TAG_BYTES
        if last < 0:
            raise BackupError(f"{name} is damaged: it is cut short")
        self.cached: tuple[int, bytes] = (-1, b"")
        self.size = (self.chunks - 1) * CRYPT_CHUNK + len(self._chunk(self.chunks - 1))  # authenticates the end
        self.position = 0

    def _chunk(self, index: int) -> bytes:
        if self.cached[0] != index:
            self.raw.seek(len(self.header) + index * (CRYPT_CHUNK + TAG_BYTES))
            sealed = self.raw.read(CRYPT_CHUNK + TAG_BYTES)
            try:
                plain = self.cipher.decrypt(_nonce(index, index == self.chunks - 1), sealed, self.header)
            except InvalidTag:
                raise BackupError(f"{self.name} is damaged or was encrypted under another key with the same id "
                                  f"(chunk {index} does not authenticate)") from None
            self.cached = (index, plain)
        return self.cached[1]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        index, offset = divmod(self.position, CRYPT_CHUNK)
        piece = self._chunk(index)[offset:offset + len(buffer)]
        buffer[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


# ---------------------------------------------------------------------------------------------- archive

def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Hashing:
    """A file read through once: tar copies it while the digest is computed."""

    def __init__(self, handle):
        self.handle, self.digest = handle, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _tarinfo(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o600
    return info


def _app_version() -> str:
    try:
        from importlib.metadata import version

        return version("nip-pipeline")
    except Exception:
        return "unknown"


def create(*, settings: Settings, out: Path, key: str | None = None) -> dict:
    """Write the archive to `out`, encrypted under the backup key (`key`, else BACKUP_KEY), refusing to
    overwrite one; returns its manifest."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} exists; backups are never overwritten")
    keyring = _keyring(key or backup_key(settings))
    out.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    members: dict[str, dict] = {}
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            sealed = _EncryptingWriter(raw, keyring)
            manifest = _write_tar(sealed, settings=settings, out=out, started=started, members=members)
            sealed.finish()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    log.info("backup written", extra={"members": len(members), "documents": manifest["documents"]["count"],
                                      "backup_key": keyring.current})
    return manifest


def _write_tar(sink, *, settings: Settings, out: Path, started: datetime, members: dict) -> dict:
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar, \
            tempfile.TemporaryDirectory(prefix=".nip-backup-", dir=out.parent) as work:
        databases = {}
        # dumps are staged beside the archive: that volume is sized for backups, /tmp may not be
        for target in targets(settings):
            dumped = Path(work) / Path(target.member).name
            began = time.monotonic()
            dump(target, dumped)
            digest = _sha256_file(dumped)
            with dumped.open("rb") as handle:
                tar.addfile(_tarinfo(target.member, dumped.stat().st_size, time.time()), handle)
            members[target.member] = {"sha256": digest, "size": dumped.stat().st_size}
            databases[target.service] = {"engine": target.engine_name, "member": target.member,
                                         "revision": revision(target)}
            dumped.unlink()
            log.info("database dumped", extra={"service": target.service, "bytes": members[target.member]["size"],
                                               "seconds": round(time.monotonic() - began, 2)})
        # after the databases: every document a dumped row names was stored before that row committed
        documents = _add_documents(tar, settings.documents_dir, members)
        finished = datetime.now(timezone.utc)
        manifest = {"format": FORMAT, "application": "nip-pipeline", "version": _app_version(),
                    "started_at": started.isoformat(), "finished_at": finished.isoformat(),
                    "databases": databases, "documents": documents, "members": members}
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        tar.addfile(_tarinfo("manifest.json", len(data), finished.timestamp()), io.BytesIO(data))
    return manifest


def _add_documents(tar: tarfile.TarFile, root: Path, members: dict) -> dict:
    count = size = 0
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            key = path.relative_to(root).as_posix()
            # the store's half-written temporary files and anything that is not a stored document stay out
            if not path.is_file() or path.is_symlink() or not DocumentStore.valid(key):
                continue
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                hashing = _Hashing(handle)
                tar.addfile(_tarinfo(f"documents/{key}", stat.st_size, stat.st_mtime), hashing)
            members[f"documents/{key}"] = {"sha256": hashing.digest.hexdigest(), "size": stat.st_size}
            count, size = count + 1, size + stat.st_size
    return {"count": count, "bytes": size}


def _member_file(tar: tarfile.TarFile, member: tarfile.TarInfo):
    source = tar.extractfile(member)
    if source is None:  # a directory, link or device: never something this archive holds
        raise BackupError(f"the archive holds an unexpected member {member.name!r}")
    return source


def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember("manifest.json")
    except KeyError:
        raise BackupError("not a backup archive: it has no manifest.json") from None
    try:
        manifest = json.loads(_member_file(tar, member).read())
    except ValueError:
        raise BackupError("the manifest is not valid JSON") from None
    if manifest.get("format") != FORMAT or manifest.get("application") != "nip-pipeline":
        raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
    return manifest


@contextmanager
def _open_archive(path: Path, *, key: str | None, settings: Settings | None,
                  allow_unencrypted: bool = False) -> Iterator[tarfile.TarFile]:
    """The archive's tar, decrypted as it is read; an archive without encryption only when allowed."""
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error}") from None
    with raw:
        encrypted = raw.read(len(MAGIC)) == MAGIC
        raw.seek(0)
        if encrypted:
            value = key or (backup_key(settings) if settings is not None else os.environ.get(BACKUP_KEY_ENV))
            if not value:
                raise BackupError(f"{BACKUP_KEY_ENV} is not set: the archive is encrypted")
            source: io.BufferedIOBase = io.BufferedReader(_DecryptingReader(raw, _keyring(value), path.name),
                                                          CRYPT_CHUNK)
        elif allow_unencrypted:
            source = raw  # a backup taken before backups were encrypted, restored knowingly
        else:
            raise BackupError(f"{path} is not an encrypted backup: one taken before backups were encrypted "
                              "(pass --allow-unencrypted to restore it knowingly) or not a backup at all")
        try:
            tar = tarfile.open(fileobj=source, mode="r:")
        except (OSError, tarfile.TarError) as error:
            raise BackupError(f"cannot read {path}: {error}") from None
        with tar:
            yield tar


def _stage(tar: tarfile.TarFile, manifest: dict, work: Path | None) -> None:
    """Extract every member into `work` (None: only read it), checking its sha256; anything unexpected stops."""
    expected = manifest["members"]
    seen = set()
    for member in tar:
        if member.name == "manifest.json":
            continue
        if member.name not in expected:
            raise BackupError(f"the archive holds {member.name!r}, which its manifest does not list")
        key = member.name.removeprefix("documents/")
        is_database = member.name in {d["member"] for d in manifest["databases"].values()}
        if not member.isreg() or not (is_database or (member.name.startswith("documents/")
                                                      and DocumentStore.valid(key))):
            raise BackupError(f"the archive holds an unexpected member {member.name!r}")
        digest = hashlib.sha256()
        with _member_file(tar, member) as source, _sink(work, member.name) as copy:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                copy.write(chunk)
        if digest.hexdigest() != expected[member.name]["sha256"]:
            raise BackupError(f"{member.name} is damaged: its sha256 does not match the manifest")
        seen.add(member.name)
    missing = set(expected) - seen
    if missing:
        raise BackupError(f"the archive lacks {len(missing)} member(s) its manifest lists, e.g. {sorted(missing)[0]}")


def _sink(work: Path | None, name: str):
    if work is None:
        return open(os.devnull, "wb")
    destination = work / name
    destination.parent.mkdir(parents=True, exist_ok=True)
    return open(destination, "wb")


def verify(*, archive: Path, key: str | None = None, settings: Settings | None = None,
           allow_unencrypted: bool = False) -> dict:
    """Decrypt and check the manifest and every member's checksum, writing nothing."""
    with _open_archive(Path(archive), key=key, settings=settings, allow_unencrypted=allow_unencrypted) as tar:
        manifest = read_manifest(tar)
        _stage(tar, manifest, None)
    return manifest


def _documents_present(root: Path) -> bool:
    return root.is_dir() and any(p.is_file() for p in root.rglob("*"))


def restore(*, settings: Settings, archive: Path, force: bool = False, work_dir: Path | None = None,
            key: str | None = None, allow_unencrypted: bool = False) -> dict:
    """Restore `archive` (decrypted with `key`, else BACKUP_KEY) into the databases and documents folder
    `settings` names.

    Everything is checked first (manifest, every checksum, engines, empty targets); only then is anything
    written. Run each service's `migrate` afterwards when the code is newer than the backup.
    """
    archive = Path(archive)
    with _open_archive(archive, key=key, settings=settings, allow_unencrypted=allow_unencrypted) as tar:
        manifest = read_manifest(tar)
        planned = targets(settings)
        for target in planned:
            recorded = manifest["databases"].get(target.service)
            if recorded is None:
                raise BackupError(f"the backup has no {target.service} database")
            if recorded["engine"] != target.engine_name:
                raise BackupError(f"the backup's {target.service} database is {recorded['engine']}; "
                                  f"the target is {target.engine_name}")
        if not force:
            busy = [t.service for t in planned if tables_in(t)]
            if busy:
                raise BackupError(f"the {', '.join(busy)} database(s) are not empty; restore into an empty stack "
                                  "or pass --force to replace them")
            if _documents_present(settings.documents_dir):
                raise BackupError(f"{settings.documents_dir} is not empty; pass --force to add to it")
        # staged inside the documents folder by default: moving the documents into place is then a rename, and
        # that volume has room for them (the image's /tmp may not); the store ignores names starting with a dot
        if work_dir is None:
            settings.documents_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=work_dir or settings.documents_dir) as staging:
            work = Path(staging)
            _stage(tar, manifest, work)
            since = datetime.fromisoformat(manifest["started_at"]) - CLOCK_MARGIN
            resent = {}
            for target in planned:
                load(target, work / manifest["databases"][target.service]["member"], force=force)
                resent[target.service] = resend_events_since(target, since)
                log.info("database restored", extra={"service": target.service, "events_resent": resent[target.service]})
            _place_documents(work / "documents", settings.documents_dir)
    log.info("restore finished", extra={"documents": manifest["documents"]["count"]})
    return {**manifest, "resent": resent}


def _place_documents(staged: Path, root: Path) -> None:
    if not staged.is_dir():
        return
    for path in sorted(staged.rglob("*")):
        if path.is_dir():
            continue
        destination = root / path.relative_to(staged)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, destination)  # a rename when staged on the same filesystem


# ---------------------------------------------------------------------------------------------- command

def main(argv: list[str] | None = None) -> int:
    from shared.config import restrict_file_modes
    from shared.logging import configure_logging

    restrict_file_modes()  # staged dumps, restored SQLite files and documents: private
    configure_logging("backup")
    parser = argparse.ArgumentParser(prog="python -m shared.backup", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create_cmd = commands.add_parser("create", help="write a backup archive")
    create_cmd.add_argument("--out", required=True, type=Path, help="the archive to write (must not exist)")
    restore_cmd = commands.add_parser("restore", help="restore an archive into an empty stack")
    restore_cmd.add_argument("archive", type=Path)
    restore_cmd.add_argument("--force", action="store_true",
                             help="replace non-empty databases and add to a non-empty documents folder")
    restore_cmd.add_argument("--work-dir", type=Path,
                             help="where to stage the archive (default: inside the documents folder)")
    verify_cmd = commands.add_parser("verify", help="check an archive's manifest and checksums")
    verify_cmd.add_argument("archive", type=Path)
    for command in (restore_cmd, verify_cmd):
        command.add_argument("--allow-unencrypted", action="store_true",
                             help="accept an archive taken before backups were encrypted")
    commands.add_parser("new-key", help=f"print a fresh {BACKUP_KEY_ENV} value")
    args = parser.parse_args(argv)

    if args.command == "new-key":
        print(f"{BACKUP_KEY_ENV}={new_backup_key()}")
        return 0
    settings = Settings.from_env()
    try:
        if args.command == "create":
            manifest = create(settings=settings, out=args.out)
            print(f"backup written to {args.out}: {len(manifest['databases'])} databases, "
                  f"{manifest['documents']['count']} documents")
        elif args.command == "restore":
            manifest = restore(settings=settings, archive=args.archive, force=args.force, work_dir=args.work_dir,
                               allow_unencrypted=args.allow_unencrypted)
            print(f"restored the backup of {manifest['started_at']}: {manifest['documents']['count']} documents, "
                  f"events to re-send {manifest['resent']}; now run each service's migrate")
        else:
            manifest = verify(archive=args.archive, settings=settings, allow_unencrypted=args.allow_unencrypted)
            print(f"{args.archive}: backup of {manifest['started_at']}, {len(manifest['members'])} members, checksums ok")
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
