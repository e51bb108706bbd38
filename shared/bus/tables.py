"""The outbox and inbox tables, the same in every service's database."""
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from shared.db import UTCDateTime


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("task", String(100), nullable=False),
        Column("queue", String(100), nullable=False),
        Column("body", Text, nullable=False),
        Column("event_id", String(36)),
        Column("event_type", String(64)),
        Column("created_at", UTCDateTime, nullable=False),
        Column("sent_at", UTCDateTime),
    )
    Index("ix_outbox_unsent", table.c.id, postgresql_where=table.c.sent_at.is_(None),
          sqlite_where=table.c.sent_at.is_(None))
    return table


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("handled_at", UTCDateTime, nullable=False),
    )
