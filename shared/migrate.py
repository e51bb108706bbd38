"""Alembic, one migration history per service (`services/<name>/migrations`)."""
from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text

from shared.db import make_engine

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
# The outbox relay's PostgreSQL role (deploy/postgres/roles.sql): it may read and mark each outbox, nothing else.
RELAY_ROLE = "relay"


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service: str, url: str, revision: str = "head", *, relay_role: str = RELAY_ROLE) -> None:
    command.upgrade(alembic_config(service, url), revision)
    grant_outbox_to_relay(url, relay_role)


def grant_outbox_to_relay(url: str, role: str = RELAY_ROLE) -> bool:
    """Let the relay's role read and mark this database's outbox (and nothing else), once the migrations made it.

    On PostgreSQL, when both the role and the table exist; run by every `migrate` as the database's owner, so a
    fresh server (roles made before any table) and one whose roles came later both end up granted. Returns
    whether it granted.
    """
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return False
        with engine.begin() as conn:
            ready = conn.execute(text("SELECT to_regclass('public.outbox') IS NOT NULL "
                                      "AND EXISTS (SELECT FROM pg_roles WHERE rolname = :role)"), {"role": role}).scalar()
            if ready:
                quoted = conn.dialect.identifier_preparer.quote_identifier(role)
                conn.execute(text(f"GRANT SELECT, UPDATE ON public.outbox TO {quoted}"))
            return bool(ready)
    finally:
        engine.dispose()


def run_migrations(metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(str(url))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
