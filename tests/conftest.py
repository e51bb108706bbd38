"""Fixtures every tier shares: real PostgreSQL databases, Redis, settings for a test run."""
from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from shared.config import Settings
from shared.db import Database
from shared.migrate import upgrade

PG_SERVER = os.environ.get("TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def fresh_database(name: str) -> str:
    """Drop and create a PostgreSQL database; returns its URL."""
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


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


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings for one test: its own var/, databases, documents and mail folders."""
    base = Settings.from_env()
    return dataclasses.replace(
        base,
        var_dir=tmp_path,
        secret_key="test-secret-key",
        documents_dir=tmp_path / "documents",
        mail_dir=tmp_path / "mail",
        **{f"{name}_database_url": f"sqlite:///{tmp_path / name}.db" for name in ("intake", "review", "notify")},
        admin_email=None,
        admin_password=None,
    )
