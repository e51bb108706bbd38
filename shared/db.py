"""SQLAlchemy base, engines and session handling shared by the services."""
from __future__ import annotations

import os
import weakref
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTCDateTime column")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# Any: a class made by a function is not a valid base class for type checkers; the models' own
# Mapped[...] annotations still type their columns
def new_base() -> Any:
    """A declarative base with its own metadata: one per service, never shared."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)
        type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}

    return Base


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error must never carry an applicant's data into the logs
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True)


if TYPE_CHECKING:
    class ScopedSession(scoped_session[Session], Session):  # type: ignore[misc]
        """For type checkers: `db.session` is passed where a Session is expected, and it proxies one."""
else:
    ScopedSession = scoped_session


class CutSafeSession(Session):
    """A session whose close() survives a connection cut after its last statement.

    Closing rolls back the open transaction; when the server has already ended the connection
    (pg_terminate_backend, a restart), that rollback fails, though there is nothing left to undo: the server
    rolled back when it dropped the connection, and the pool has thrown the connection away. Raising there
    would turn a request that already has its answer into a 500 and leave the thread's session registered.
    """

    def close(self) -> None:
        try:
            super().close()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise


# Every Database of this process, so a forked child can drop what it inherited (see after_fork).
_DATABASES: "weakref.WeakSet[Database]" = weakref.WeakSet()


class Database:
    """One engine and one thread-scoped session per service process."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self.session = cast(ScopedSession, scoped_session(sessionmaker(class_=CutSafeSession, expire_on_commit=False)))
        _DATABASES.add(self)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the database is not configured yet (init_app or configure with a URL)")
        return self._engine

    def after_fork(self) -> None:
        """Forget the parent's connections without touching them: their sockets are the parent's."""
        # clear() drops the session without closing it (closing would roll back on the parent's socket)
        self.session.registry.clear()
        if self._engine is not None:
            self._engine.dispose(close=False)

    def configure(self, url: str | None = None, *, bind=None, **options) -> None:
        self.session.remove()
        if url is not None:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = make_engine(url)
            bind = self._engine
        self.session.configure(bind=bind, **options)

    def init_app(self, app, url: str) -> None:
        self.configure(url)

        @app.teardown_appcontext
        def _remove_session(_exc):
            self.session.remove()


def after_fork() -> None:
    """In a freshly forked child: every Database starts with a new, empty connection pool."""
    for database in list(_DATABASES):
        database.after_fork()


# Any fork, not only Celery's prefork (whose worker_process_init calls this too): gunicorn --preload,
# multiprocessing. A child never writes to a socket its parent may be using.
os.register_at_fork(after_in_child=after_fork)
