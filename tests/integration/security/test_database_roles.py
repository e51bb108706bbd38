"""One PostgreSQL role per service (deploy/postgres/roles.sql), attacked on this host's PostgreSQL.

A scratch set of databases and roles (unique names, dropped afterwards) is made with the init's own SQL and
migrated as each service's role, as compose's `migrate` does. Then a compromised intake container tries the other
services' databases, the relay's role tries anything but the outboxes, the backup's role tries to write. A second
set is made the old way (one shared role owning everything) and upgraded with the same script.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, make_url, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from shared.bus.relay import OUTBOX, relay_once
from shared.db import utcnow
from shared.migrate import upgrade

ROOT = Path(__file__).resolve().parents[3]
ROLES_SQL = ROOT / "deploy" / "postgres" / "roles.sql"
SERVER = make_url(os.environ.get("TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"))
SERVICES = ("intake", "review", "notify")
ROLES = (*SERVICES, "relay", "backup")


def admin_engine():
    return create_engine(SERVER.set(database="postgres"), isolation_level="AUTOCOMMIT")


class Scratch:
    """Databases `<prefix>_<service>` and roles `<prefix>_<role>`, each role with its own password."""

    def __init__(self) -> None:
        self.prefix = f"nip_roles_{uuid.uuid4().hex[:10]}"
        self.passwords = {role: f"pw-{role}-{uuid.uuid4().hex}" for role in ROLES}

    def db(self, service: str) -> str:
        return f"{self.prefix}_{service}"

    def role(self, role: str) -> str:
        return f"{self.prefix}_{role}"

    def url(self, role: str, service: str) -> str:
        return SERVER.set(username=self.role(role), password=self.passwords[role],
                          database=self.db(service)).render_as_string(hide_password=False)

    def run_roles_sql(self) -> subprocess.CompletedProcess:
        psql = shutil.which("psql")
        if psql is None:
            pytest.skip("psql is not installed (apt-get install postgresql-client)")
        variables = []
        for service in SERVICES:
            variables += ["-v", f"{service}_db={self.db(service)}"]
        for role in ROLES:
            variables += ["-v", f"{role}_role={self.role(role)}", "-v", f"{role}_password={self.passwords[role]}"]
        admin = SERVER.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        result = subprocess.run([psql, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-d", admin, *variables,
                                 "-f", str(ROLES_SQL)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result

    def drop(self) -> None:
        engine = admin_engine()
        with engine.connect() as conn:
            for service in SERVICES:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db(service)}" WITH (FORCE)'))
            for role in (*ROLES, "legacy"):
                conn.execute(text(f'DROP ROLE IF EXISTS "{self.role(role)}"'))
        engine.dispose()


@pytest.fixture(scope="module")
def scratch():
    """A new server's state: roles.sql on an empty server, then each service migrated as its own role."""
    made = Scratch()
    try:
        made.run_roles_sql()
        for service in SERVICES:
            upgrade(service, made.url(service, service), relay_role=made.role("relay"))
        yield made
    finally:
        made.drop()


def tables_of(scratch: Scratch, service: str) -> list[str]:
    engine = create_engine(scratch.url(service, service))
    with engine.connect() as conn:
        names = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
    engine.dispose()
    return sorted(names)


def attempt(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql)).all() if sql.lstrip().upper().startswith("SELECT") else conn.execute(text(sql))
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------- the services


@pytest.mark.parametrize("own", SERVICES)
def test_a_services_role_cannot_even_connect_to_another_services_database(scratch, own):
    for other in SERVICES:
        url = scratch.url(own, other)
        if other == own:
            assert attempt(url, "SELECT count(*) FROM alembic_version") == [(1,)]
            continue
        with pytest.raises(OperationalError, match="permission denied for database"):
            attempt(url, "SELECT 1")


def test_intakes_role_reads_and_writes_its_own_tables_only_and_is_no_superuser(scratch):
    url = scratch.url("intake", "intake")
    attributes = attempt(url, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
                              "WHERE rolname = current_user")
    assert attributes == [(False, False, False, False)]
    # it owns what its migrations made
    owners = attempt(url, "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
    assert owners == [(scratch.role("intake"),)]
    # and no side door to the others' databases: it cannot install dblink (or postgres_fdw)
    with pytest.raises(ProgrammingError, match="permission denied"):
        attempt(url, "CREATE EXTENSION IF NOT EXISTS dblink")


def test_public_cannot_connect_to_any_service_database(scratch):
    acl = attempt(SERVER.set(database="postgres").render_as_string(hide_password=False),
                  "SELECT datname, datacl::text FROM pg_database WHERE datname LIKE "
                  f"'{scratch.prefix}\\_%'")
    assert len(acl) == 3
    for name, entries in acl:
        # an ACL entry for PUBLIC starts with "=": none
        assert not any(entry.startswith("=") for entry in entries.strip("{}").split(",")), (name, entries)


# ------------------------------------------------------------------------------------------- the relay


@pytest.mark.parametrize("service", SERVICES)
def test_the_relays_role_reads_and_marks_the_outbox_and_nothing_else(scratch, service):
    url = scratch.url("relay", service)
    owner = create_engine(scratch.url(service, service))
    with owner.begin() as conn:
        conn.execute(insert(OUTBOX).values(task="t.noop", queue="q.noop", body="[]", created_at=utcnow()))
    owner.dispose()

    # what the relay does, as the relay
    class Producer:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class FakeCelery:
        sent: list = []

        def producer_or_acquire(self):
            return Producer()

        def send_task(self, name, **kwargs):
            self.sent.append(name)

    celery = FakeCelery()
    engine = create_engine(url)
    assert relay_once(engine, celery) == 1 and celery.sent == ["t.noop"]
    with engine.connect() as conn:
        assert conn.execute(select(OUTBOX.c.sent_at)).scalar_one() is not None
    engine.dispose()

    # anything else: refused
    for table in [t for t in tables_of(scratch, service) if t != "outbox"]:
        with pytest.raises(ProgrammingError, match="permission denied"):
            attempt(url, f'SELECT * FROM "{table}" LIMIT 1')
    for sql in ("INSERT INTO outbox (task, queue, body, created_at) VALUES ('x', 'y', '[]', now())",
                "DELETE FROM outbox", "TRUNCATE outbox", "CREATE TABLE stolen (x int)"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            attempt(url, sql)


# ------------------------------------------------------------------------------------------- the backup


@pytest.mark.parametrize("service", SERVICES)
def test_the_backups_role_reads_every_table_and_writes_none(scratch, service):
    url = scratch.url("backup", service)
    for table in tables_of(scratch, service):
        attempt(url, f'SELECT * FROM "{table}" LIMIT 1')
    for sql in ("UPDATE outbox SET sent_at = NULL", "DELETE FROM alembic_version",
                "CREATE TABLE planted (x int)"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            attempt(url, sql)


def test_pg_dump_as_the_backup_role_dumps_a_service_database(scratch, tmp_path):
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    url = make_url(scratch.url("backup", "review"))
    out = tmp_path / "review.pgdump"
    result = subprocess.run(
        [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={out}",
         f"--dbname={url.set(drivername='postgresql', password=None).render_as_string(hide_password=False)}"],
        env={**os.environ, "PGPASSWORD": scratch.passwords["backup"]}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


# ------------------------------------------------------------------------------------------- upgrading


def test_roles_sql_upgrades_databases_owned_by_one_shared_role(tmp_path):
    """The old layout: one role owning the three databases and everything in them; roles.sql puts it right."""
    legacy = Scratch()
    admin = admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{legacy.role("legacy")}" LOGIN'))
            for service in SERVICES:
                conn.execute(text(f'CREATE DATABASE "{legacy.db(service)}" OWNER "{legacy.role("legacy")}"'))
        for service in SERVICES:
            shared = SERVER.set(username=legacy.role("legacy"), database=legacy.db(service))
            upgrade(service, shared.render_as_string(hide_password=False), relay_role=legacy.role("relay"))

        legacy.run_roles_sql()
        legacy.run_roles_sql()  # again: it changes nothing the second time, and does not fail

        for service in SERVICES:
            url = legacy.url(service, service)
            owners = attempt(url, "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
                                  "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v')")
            assert owners == [(legacy.role(service),)], service
            # the service migrates and writes as its own role now
            upgrade(service, url, relay_role=legacy.role("relay"))
            attempt(url, "UPDATE outbox SET sent_at = sent_at")
            attempt(legacy.url("relay", service), "SELECT count(*) FROM outbox")
            for other in SERVICES:
                if other != service:
                    with pytest.raises(OperationalError, match="permission denied for database"):
                        attempt(legacy.url(service, other), "SELECT 1")
    finally:
        admin.dispose()
        legacy.drop()
