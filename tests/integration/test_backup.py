"""`python -m shared.backup`: every service's database and the documents in one archive, restored into an empty stack
with nothing lost; a damaged archive or a non-empty target changes nothing."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import secrets
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, select, update

from services.notify.mailcatcher import MailCatcher, free_port
from shared import backup
from tests.conftest import fresh_database, migrated_database
from tests.factories import application_payload, make_pdf, multipart

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("intake", "review", "notify")
STAFF = {"email": "office@example.org", "password": "a long enough password"}


def stack_settings(settings, tmp_path: Path, urls: dict[str, str], name: str):
    return dataclasses.replace(
        settings, documents_dir=tmp_path / name / "documents", mail_dir=tmp_path / "mail",
        sync_api_key="test-sync-" + secrets.token_urlsafe(32), smtp_host="127.0.0.1",
        **{f"{service}_database_url": url for service, url in urls.items()})


def make_apps(settings) -> dict:
    """The three web apps on `settings`' databases; each create_app points its service's `db` at them."""
    from services.intake import create_app as intake_app
    from services.notify import create_app as notify_app
    from services.review import create_app as review_app

    apps = {"intake": intake_app(settings), "review": review_app(settings), "notify": notify_app(settings)}
    for app in apps.values():
        app.config["TESTING"] = True
    return apps


def outbox_events(app, database, queue: str) -> list[dict]:
    """The events intake's outbox holds for `queue`, marked sent as the relay marks what it publishes."""
    from shared.bus.tables import outbox_table
    from shared.db import utcnow

    outbox = outbox_table(MetaData())
    with app.app_context():
        rows = database.session.execute(select(outbox.c.id, outbox.c.body).where(outbox.c.queue == queue)
                                        .order_by(outbox.c.id)).all()
        database.session.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(sent_at=utcnow()))
        database.session.commit()
        database.session.remove()
    return [json.loads(row.body)[0] for row in rows]


def mid_season(apps: dict, settings, tmp_path: Path) -> list[dict]:
    """Two applications through intake's API, one checked with its dossier rendered, the events handed to review
    and notify (emails over real SMTP), a staff user and a recorded (unreleased) decision in review."""
    from services.intake.applications.tasks import check_application
    from services.intake.db import db as intake_db
    from services.intake.dossier.tasks import render_dossier_task
    from services.intake.programme.service import seed_call
    from services.notify.deliveries.tasks import handle_event as notify_handle
    from services.review.accounts.service import create_user
    from services.review.applications.tasks import handle_event as review_handle
    from services.review.db import db as review_db

    with apps["intake"].app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
    client = apps["intake"].test_client()
    created = []
    for given, family in (("Ana", "Popescu"), ("Jan", "Novák")):
        payload = application_payload(given_name=given, family_name=family, email=f"{given.lower()}@example.org")
        response = client.post("/api/v1/applications", content_type="multipart/form-data",
                               data=multipart(payload, cv=make_pdf(f"CV of {given}", pages=2),
                                              academic_proof=make_pdf(f"Diploma of {given}")))
        assert response.status_code == 201, response.get_data(as_text=True)
        created.append(response.get_json())
    with apps["intake"].app_context():
        assert check_application.run(created[0]["reference"]) == "under_review"
        assert render_dossier_task.run(created[0]["reference"])

    with apps["review"].app_context():
        create_user(session=review_db.session, email=STAFF["email"], password=STAFF["password"], role="admin",
                    departments=[])
        review_db.session.commit()
        for event in outbox_events(apps["intake"], intake_db, "review.events"):
            review_handle.run(event)
    with MailCatcher(settings.mail_dir, port=settings.smtp_port), apps["notify"].app_context():
        for event in outbox_events(apps["intake"], intake_db, "notify.email"):
            notify_handle.run(event)
    review = apps["review"].test_client()
    decided = review.post(f"/api/v1/applications/{created[0]['reference']}/decision", headers=staff_headers(review),
                          json={"decision": "shortlisted", "reason_code": "strong_profile", "note": "Excellent"})
    assert decided.status_code in (200, 201), decided.get_data(as_text=True)
    return created


def staff_headers(review_client) -> dict:
    response = review_client.post("/api/v1/auth/token", json=STAFF)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def every_row(url: str) -> dict[str, list]:
    """Every row of every table, in a stable order (what "nothing lost" means)."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    rows = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if not (table.name == "outbox" and c.name == "sent_at")]
            rows[table.name] = sorted(tuple(map(str, row)) for row in conn.execute(select(*columns)))
    engine.dispose()
    return rows


def decrypted(archive: Path, settings) -> tarfile.TarFile:
    """The archive's tar, decrypted with the stack's backup key (what an attacker holding the key would edit)."""
    with archive.open("rb") as raw:
        reader = backup._DecryptingReader(raw, backup._keyring(backup.backup_key(settings)), archive.name)
        return tarfile.open(fileobj=io.BytesIO(reader.read()))


def sealed(tar_bytes: bytes, out: Path, settings) -> Path:
    """`tar_bytes` encrypted as `create` writes an archive, under the stack's backup key."""
    with out.open("wb") as raw:
        writer = backup._EncryptingWriter(raw, backup._keyring(backup.backup_key(settings)))
        writer.write(tar_bytes)
        writer.finish()
    return out


def files_under(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def season(settings, tmp_path):
    """A stack in the middle of a season on fresh PostgreSQL databases, and its settings."""
    urls = {service: migrated_database(service, "_backup_src") for service in SERVICES}
    source = stack_settings(dataclasses.replace(settings, smtp_port=free_port()), tmp_path, urls, "source")
    apps = make_apps(source)
    created = mid_season(apps, source, tmp_path)
    return source, created


@pytest.fixture
def empty_stack(settings, tmp_path):
    """Empty databases (not even migrated) and no documents: where a restore goes."""
    urls = {service: fresh_database(f"nip_test_{service}_backup_dst") for service in SERVICES}
    return stack_settings(dataclasses.replace(settings, smtp_port=free_port()), tmp_path, urls, "target")


def test_a_mid_season_backup_restores_into_an_empty_stack_with_nothing_lost(season, empty_stack, tmp_path):
    source, created = season
    archive = tmp_path / "backups" / "season.tar"

    manifest = backup.create(settings=source, out=archive)
    result = backup.restore(settings=empty_stack, archive=archive)

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    for service in SERVICES:
        assert every_row(empty_stack.database_url(service)) == every_row(source.database_url(service)), service
        assert manifest["databases"][service]["revision"]
    assert files_under(empty_stack.documents_dir) == files_under(source.documents_dir)
    assert manifest["documents"]["count"] == len(files_under(source.documents_dir)) == 6  # 2 × (CV, proof), 1 dossier and its blind variant
    assert result["resent"]["intake"] > 0  # events sent during the backup window go out again; inboxes dedupe

    apps = make_apps(empty_stack)
    intake = apps["intake"].test_client()
    for application in created:
        status = intake.get(f"/api/v1/applications/{application['reference']}",
                            headers={"Authorization": f"Bearer {application['token']}"})
        assert status.status_code == 200
        assert status.get_json()["status"] == ("under_review" if application is created[0] else "submitted")
    review = apps["review"].test_client()
    headers = staff_headers(review)  # the staff account and its password came back too
    detail = review.get(f"/api/v1/applications/{created[0]['reference']}", headers=headers).get_json()
    assert detail["status"] == "under_review" and detail["dossier"]["ready"]
    dossier = review.get(f"/applications/{created[0]['reference']}/dossier.pdf", headers=headers)
    assert dossier.status_code == 200 and dossier.data.startswith(b"%PDF")
    log = apps["notify"].test_client().get("/api/v1/notifications", query_string={"reference": created[0]["reference"]},
                                           headers=notify_staff_headers(empty_stack))
    assert log.status_code == 200 and {row["state"] for row in log.get_json()["items"]} == {"sent"}
    assert len(log.get_json()["items"]) == 2  # submitted, under review


def notify_staff_headers(settings) -> dict:
    from shared.auth import StaffIdentity, issue_staff_token

    identity = StaffIdentity(1, STAFF["email"], "admin", ())
    return {"Authorization": f"Bearer {issue_staff_token(settings.staff_signing_key, identity)}"}


def test_restore_refuses_a_stack_that_is_not_empty_and_changes_nothing(season, tmp_path):
    source, _created = season
    archive = tmp_path / "season.tar"
    backup.create(settings=source, out=archive)
    before = {service: every_row(source.database_url(service)) for service in SERVICES}

    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(settings=source, archive=archive)

    assert {service: every_row(source.database_url(service)) for service in SERVICES} == before


def test_a_damaged_archive_is_refused_before_anything_is_written(season, empty_stack, tmp_path):
    source, _created = season
    archive = tmp_path / "season.tar"
    backup.create(settings=source, out=archive)
    buffer = io.BytesIO()
    with decrypted(archive, source) as original, tarfile.open(fileobj=buffer, mode="w") as copy:
        for member in original:
            data = original.extractfile(member).read()
            if member.name.startswith("documents/uploads/"):
                data = data[:-1] + bytes([data[-1] ^ 1])  # one flipped bit in each upload (stored encrypted)
            copy.addfile(member, io.BytesIO(data))
    damaged = sealed(buffer.getvalue(), tmp_path / "damaged.tar", source)  # by someone holding the backup key
    flipped = tmp_path / "flipped.tar"  # by someone who does not: one bit of the encrypted file
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 1
    flipped.write_bytes(bytes(data))

    with pytest.raises(backup.BackupError, match="sha256"):
        backup.restore(settings=empty_stack, archive=damaged)
    with pytest.raises(backup.BackupError, match="damaged"):
        backup.restore(settings=empty_stack, archive=flipped)

    for service in SERVICES:
        assert backup.tables_in(backup.Target(service, backup.make_url(empty_stack.database_url(service)))) == 0
    assert not empty_stack.documents_dir.exists() or not files_under(empty_stack.documents_dir)


def test_an_archive_with_a_member_outside_the_store_is_refused(season, empty_stack, tmp_path):
    source, _created = season
    archive = tmp_path / "season.tar"
    backup.create(settings=source, out=archive)
    with decrypted(archive, source) as original:
        members = [(m, original.extractfile(m).read()) for m in original]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as copy:
        for member, data in members:
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["members"]["documents/../../escape"] = {"sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}
                data = json.dumps(manifest).encode()
                member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
        evil = tarfile.TarInfo("documents/../../escape")
        evil.size = 1
        copy.addfile(evil, io.BytesIO(b"x"))
    hostile = sealed(buffer.getvalue(), tmp_path / "hostile.tar", source)

    with pytest.raises(backup.BackupError, match="unexpected member"):
        backup.restore(settings=empty_stack, archive=hostile)

    assert not (tmp_path / "escape").exists() and not (empty_stack.documents_dir.parent.parent / "escape").exists()


def test_the_archive_reveals_nothing_without_the_backup_key(season, tmp_path):
    source, created = season
    archive = tmp_path / "season.tar"
    backup.create(settings=source, out=archive)

    data = archive.read_bytes()
    assert data.startswith(backup.MAGIC)
    for clear in (b"PGDMP", b"manifest.json", b"databases/", STAFF["email"].encode(), b"@example.org",
                  created[0]["reference"].encode()):
        assert clear not in data, clear  # no dump, no member name, no address, no reference
    with pytest.raises(backup.BackupError, match="does not hold"):
        backup.verify(archive=archive, key=backup.new_backup_key())  # someone else's key opens nothing
    impostor = f"{backup._keyring(backup.backup_key(source)).current}:{backup.new_backup_key().split(':')[1]}"
    with pytest.raises(backup.BackupError, match="damaged or was encrypted under another key"):
        backup.verify(archive=archive, key=impostor)


def test_after_a_backup_key_rotation_old_archives_restore_with_the_retired_key_kept_second(season, empty_stack,
                                                                                          tmp_path):
    source, _created = season
    old, new = backup.backup_key(source), backup.new_backup_key()
    before = backup.create(settings=source, out=tmp_path / "before.tar", key=old)
    after = backup.create(settings=source, out=tmp_path / "after.tar", key=f"{new},{old}")

    assert backup.verify(archive=tmp_path / "after.tar", key=new)["started_at"] == after["started_at"]
    with pytest.raises(backup.BackupError, match="does not hold"):
        backup.verify(archive=tmp_path / "before.tar", key=new)  # dropped too early
    restored = backup.restore(settings=empty_stack, archive=tmp_path / "before.tar", key=f"{new},{old}")
    assert restored["started_at"] == before["started_at"]


def test_an_unencrypted_archive_is_restored_only_when_asked_for_knowingly(season, empty_stack, tmp_path):
    source, _created = season
    archive = tmp_path / "season.tar"
    backup.create(settings=source, out=archive)
    plain = tmp_path / "plain.tar"  # what an archive looked like before backups were encrypted
    with decrypted(archive, source) as original, tarfile.open(plain, "w") as copy:
        for member in original:
            copy.addfile(member, original.extractfile(member))

    with pytest.raises(backup.BackupError, match="not an encrypted backup.*--allow-unencrypted"):
        backup.restore(settings=empty_stack, archive=plain)
    for service in SERVICES:
        assert backup.tables_in(backup.Target(service, backup.make_url(empty_stack.database_url(service)))) == 0
    assert backup.verify(archive=plain, allow_unencrypted=True)["members"]


def test_a_production_stack_without_a_backup_key_writes_no_archive(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("BACKUP_KEY", raising=False)
    production = dataclasses.replace(settings, broker_url="redis://127.0.0.1:6379/0")

    with pytest.raises(backup.BackupError, match="BACKUP_KEY is not set"):
        backup.create(settings=production, out=tmp_path / "nope.tar")
    assert not list(tmp_path.iterdir())


def test_backup_never_overwrites_an_archive(season, tmp_path):
    source, _created = season
    archive = tmp_path / "season.tar"
    archive.write_bytes(b"an older backup")

    with pytest.raises(backup.BackupError, match="exists"):
        backup.create(settings=source, out=archive)

    assert archive.read_bytes() == b"an older backup"


def test_the_commands_back_up_and_restore_an_embedded_stack(tmp_path):
    """`python -m shared.backup` as an operator runs it, on `make run`'s SQLite files and documents."""
    def env_for(var: Path) -> dict:
        # the key travels with whoever restores, not with the stack: both machines are given it
        env = {**os.environ, "VAR_DIR": str(var), "BROKER_URL": "", "DOCUMENTS_DIR": "",
               "INTAKE_DATABASE_URL": "", "REVIEW_DATABASE_URL": "", "NOTIFY_DATABASE_URL": "",
               "BACKUP_KEY": key}
        env.pop("PYTHONPATH", None)
        return env

    def run(var: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "python"), *args], cwd=ROOT, env=env_for(var), capture_output=True,
                              text=True, timeout=120)

    key = backup.new_backup_key()
    source, target = tmp_path / "source-var", tmp_path / "target-var"
    for service in SERVICES:
        assert run(source, "-m", f"services.{service}", "migrate").returncode == 0
    assert run(source, "-m", "services.intake", "seed").returncode == 0
    (source / "documents" / "uploads" / "ab").mkdir(parents=True)
    (source / "documents" / "uploads" / "ab" / ("ab" * 32)).write_bytes(make_pdf("A stored upload"))
    archive = tmp_path / "embedded.tar"

    created = run(source, "-m", "shared.backup", "create", "--out", str(archive))
    verified = run(source, "-m", "shared.backup", "verify", str(archive))
    restored = run(target, "-m", "shared.backup", "restore", str(archive))
    again = run(target, "-m", "shared.backup", "restore", str(archive))

    assert created.returncode == 0, created.stderr
    assert verified.returncode == 0 and "checksums ok" in verified.stdout, verified.stderr
    assert restored.returncode == 0, restored.stderr
    for service in SERVICES:
        assert every_row(f"sqlite:///{target / service}.db") == every_row(f"sqlite:///{source / service}.db")
    assert files_under(target / "documents") == files_under(source / "documents")
    assert again.returncode == 2 and "not empty" in again.stderr
    assert not any(secret in created.stdout + created.stderr for secret in _secrets_in(source) + [key])
    assert b"%PDF" not in archive.read_bytes() and b"SQLite format" not in archive.read_bytes()


def _secrets_in(var: Path) -> list[str]:
    return [p.read_text().strip() for p in var.iterdir() if p.is_file() and p.name.endswith("_key")]


def test_restore_with_force_replaces_a_freshly_migrated_stack(season, settings, tmp_path):
    """Kubernetes' restore: the migrate Job has already made the schema and seeded the call."""
    from services.intake.db import db as intake_db
    from services.intake.programme.service import seed_call

    source, _created = season
    archive = tmp_path / "season.tar"
    backup.create(settings=source, out=archive)
    urls = {service: migrated_database(service, "_backup_forced") for service in SERVICES}
    target = stack_settings(settings, tmp_path, urls, "forced")
    apps = make_apps(target)
    with apps["intake"].app_context():
        seed_call(session=intake_db.session, deadline=target.call_deadline)
        intake_db.session.commit()

    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(settings=target, archive=archive)
    backup.restore(settings=target, archive=archive, force=True)

    for service in SERVICES:
        assert every_row(target.database_url(service)) == every_row(source.database_url(service)), service
    assert files_under(target.documents_dir) == files_under(source.documents_dir)


def test_compose_runs_the_backup_on_demand_with_every_database_and_the_documents_but_no_key():
    import yaml

    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["backup"]
    environment = service["environment"]

    assert service["profiles"] == ["ops"] and service["restart"] == "no"
    assert "python -m shared.backup create --out /backups/" in " ".join(service["command"])
    assert "documents:/data/documents" in service["volumes"]
    assert {"INTAKE_DATABASE_URL", "REVIEW_DATABASE_URL", "NOTIFY_DATABASE_URL"} <= set(environment)
    # the dump reads as the `backup` role (pg_read_all_data: it can change nothing); a restore writes as the owners
    assert all(environment[f"{name}_DATABASE_URL"].startswith("postgresql+psycopg://backup:")
               for name in ("INTAKE", "REVIEW", "NOTIFY"))
    restore = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["restore"]
    assert restore["profiles"] == ["ops"] and restore["entrypoint"][-3:] == ["-m", "shared.backup", "restore"]
    assert {name: restore["environment"][f"{name.upper()}_DATABASE_URL"].split(":")[1].lstrip("/")
            for name in ("intake", "review", "notify")} == {"intake": "intake", "review": "review", "notify": "notify"}
    assert not {"INTAKE_SECRET_KEY", "APPLICANT_TOKEN_KEY", "REVIEW_SECRET_KEY", "STAFF_SIGNING_KEY",
                "STAFF_VERIFY_KEY", "SYNC_API_KEY", "ADMIN_PASSWORD"} & set(environment)
