"""Fixtures every tier shares: real PostgreSQL databases, Redis, settings for a test run."""
from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shared.config import Settings
from shared.db import Database
from shared.events import signing
from shared.keys import generate_signing_key, public_key_pem
from shared.migrate import upgrade

PG_SERVER = os.environ.get("TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
# Every database a test run creates carries the run's id, so concurrent runs never drop each other's.
RUN_ID = os.environ.get("TEST_RUN_ID") or str(os.getpid())
_CREATED: set[str] = set()


def _admin_engine():
    return create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")


def fresh_database(name: str) -> str:
    """Drop and create a PostgreSQL database private to this test run; returns its URL."""
    name = f"{name}_{RUN_ID}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _CREATED.add(name)
    return f"{PG_SERVER}/{name}"


def pytest_sessionfinish(session, exitstatus):
    """Drop the databases this run created."""
    if not _CREATED:
        return
    admin = _admin_engine()
    with admin.connect() as conn:
        for name in _CREATED:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class RedisServer:
    """A private redis-server on a free loopback port: tests that need Redis never share one."""

    def __init__(self, workdir: Path, *, appendonly: bool = True, password: str | None = None):
        from services.notify.mailcatcher import free_port

        self.workdir, self.port, self.appendonly, self.password = workdir, free_port(), appendonly, password
        self.process: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
             "--save", "", "--appendonly", "yes" if self.appendonly else "no", "--maxmemory-policy", "noeviction",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, password=self.password, socket_timeout=1).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise TimeoutError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path):
    """A private Redis for one test, stopped at its end."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def migrated_database(service: str, suffix: str = "") -> str:
    url = fresh_database(f"nip_test_{service}{suffix}")
    upgrade(service, url)
    return url


@contextmanager
def rolled_back(database: Database):
    """Bind `database`'s sessions to one transaction that is rolled back at the end.

    Commits inside become savepoint releases, so use cases run unchanged.
    """
    connection = database.engine.connect()
    transaction = connection.begin()
    database.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield database.session
    finally:
        database.session.remove()
        transaction.rollback()
        connection.close()
        database.configure(bind=database.engine)


# One Ed25519 staff-token pair per test run (generating one per test would be cheap too, but noisy).
TEST_STAFF_SIGNING_KEY = generate_signing_key()
TEST_STAFF_VERIFY_KEY = public_key_pem(TEST_STAFF_SIGNING_KEY)
# The events' pairs, one per producer, likewise; registered for this process at once, so envelopes tests build with
# make_event (or sign again with shared.events.sign_event after changing them) verify in the apps under test.
TEST_EVENT_KEYS = {}
for _producer in ("intake", "review"):
    TEST_EVENT_KEYS[f"{_producer}_event_signing_key"] = generate_signing_key()
    TEST_EVENT_KEYS[f"{_producer}_event_verify_key"] = public_key_pem(TEST_EVENT_KEYS[f"{_producer}_event_signing_key"])
signing.use_keys(signing={p: TEST_EVENT_KEYS[f"{p}_event_signing_key"] for p in ("intake", "review")},
                 verify={p: TEST_EVENT_KEYS[f"{p}_event_verify_key"] for p in ("intake", "review")})
TEST_KEYS = {
    "intake_secret_key": "test-intake-session-key-" + secrets.token_urlsafe(24),
    "applicant_token_key": "test-applicant-token-key-" + secrets.token_urlsafe(24),
    "review_secret_key": "test-review-session-key-" + secrets.token_urlsafe(24),
    "staff_signing_key": TEST_STAFF_SIGNING_KEY,
    "staff_verify_key": TEST_STAFF_VERIFY_KEY,
    **TEST_EVENT_KEYS,
}


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings for one test: its own var/, databases, documents and mail folders, and its own keys."""
    base = Settings.from_env()
    return dataclasses.replace(
        base,
        var_dir=tmp_path,
        **TEST_KEYS,
        documents_dir=tmp_path / "documents",
        mail_dir=tmp_path / "mail",
        **{f"{name}_database_url": f"sqlite:///{tmp_path / name}.db" for name in ("intake", "review", "notify")},
        admin_email=None,
        admin_password=None,
        # test clients send from loopback, many times over; test_limits.py exempts nothing
        rate_limit_exempt="127.0.0.0/8",
    )
