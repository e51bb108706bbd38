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


def dead_letter_table(metadata: MetaData) -> Table:
    """Events a consumer gave up on after its retries, kept for staff and for replay."""
    table = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        # an invalid envelope may carry no usable id or type
        Column("event_id", String(64)),
        Column("event_type", String(64)),
        Column("task", String(100), nullable=False),
        Column("body", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("first_failed_at", UTCDateTime, nullable=False),
        Column("last_failed_at", UTCDateTime, nullable=False),
        # set when closed: `replayed` (applied again) or `discarded` (staff decided it never will be)
        Column("replayed_at", UTCDateTime),
        Column("outcome", String(16)),
    )
    Index("ix_dead_letters_event_id", table.c.event_id)
    Index("ix_dead_letters_open", table.c.id, postgresql_where=table.c.replayed_at.is_(None),
          sqlite_where=table.c.replayed_at.is_(None))
    return table
