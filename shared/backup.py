"""Back up every service's database and the document store to one archive, and restore it into an empty stack.

    python -m shared.backup create --out FILE        # while the stack runs
    python -m shared.backup restore FILE [--force]   # into empty databases and an empty documents folder
    python -m shared.backup verify FILE              # checksums and manifest only, changes nothing

The archive is a tar file (created 0600: it holds every applicant's data) with
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.engine import URL

from shared.config import Settings
from shared.db import make_engine
from shared.documents import DocumentStore

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


def create(*, settings: Settings, out: Path) -> dict:
    """Write the archive to `out` (refusing to overwrite one) and return its manifest."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} exists; backups are never overwritten")
    out.parent.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    members: dict[str, dict] = {}
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar, \
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
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    log.info("backup written", extra={"members": len(members), "documents": documents["count"]})
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


def _open_archive(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"cannot read {path}: {error}") from None


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


def verify(*, archive: Path) -> dict:
    """Check the manifest and every member's checksum, writing nothing."""
    with _open_archive(Path(archive)) as tar:
        manifest = read_manifest(tar)
        _stage(tar, manifest, None)
    return manifest


def _documents_present(root: Path) -> bool:
    return root.is_dir() and any(p.is_file() for p in root.rglob("*"))


def restore(*, settings: Settings, archive: Path, force: bool = False, work_dir: Path | None = None) -> dict:
    """Restore `archive` into the databases and documents folder `settings` names.

    Everything is checked first (manifest, every checksum, engines, empty targets); only then is anything
    written. Run each service's `migrate` afterwards when the code is newer than the backup.
    """
    archive = Path(archive)
    with _open_archive(archive) as tar:
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
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    try:
        if args.command == "create":
            manifest = create(settings=settings, out=args.out)
            print(f"backup written to {args.out}: {len(manifest['databases'])} databases, "
                  f"{manifest['documents']['count']} documents")
        elif args.command == "restore":
            manifest = restore(settings=settings, archive=args.archive, force=args.force, work_dir=args.work_dir)
            print(f"restored the backup of {manifest['started_at']}: {manifest['documents']['count']} documents, "
                  f"events to re-send {manifest['resent']}; now run each service's migrate")
        else:
            manifest = verify(archive=args.archive)
            print(f"{args.archive}: backup of {manifest['started_at']}, {len(manifest['members'])} members, checksums ok")
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
