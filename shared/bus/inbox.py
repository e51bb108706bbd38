"""Consuming events exactly once: the handled event id is recorded with the effect."""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Callable

from sqlalchemy import Executable, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.events import load_event

log = logging.getLogger(__name__)

Handler = Callable[..., None]


@lru_cache(maxsize=None)
def _record(inbox: Table, dialect: str) -> Executable:
    """The event id inserted unless present, returning it when it was: one round trip for every event, where a
    look-up then an insert took two. A concurrent insert of the same id makes this one wait for its outcome."""
    insert = postgresql.insert(inbox) if dialect == "postgresql" else sqlite.insert(inbox)
    return (insert.values(event_id=bindparam("event_id"), event_type=bindparam("event_type"),
                          handled_at=bindparam("handled_at"))
            .on_conflict_do_nothing(index_elements=[inbox.c.event_id]).returning(inbox.c.event_id))


def consume(*, session: Session, inbox: Table, envelope: dict, handlers: dict[str, Handler],
            commit: bool = True) -> bool:
    """Apply one event with its handler and commit; False when it was handled before.

    With `commit=False` the transaction is left open for the caller to add to and commit (notify sends the
    event's email before it commits both); an event handled before still ends its transaction."""
    event = load_event(envelope)
    handler = handlers.get(event["type"])
    if handler is None:
        log.warning("no handler for event", extra={"event_type": event["type"], "event_id": event["id"]})
        return False
    try:
        recorded = session.execute(_record(inbox, session.get_bind().dialect.name),
                                   {"event_id": event["id"], "event_type": event["type"],
                                    "handled_at": utcnow()}).first()
        if recorded is None:
            log.info("event already handled", extra={"event_id": event["id"]})
            session.rollback()
            return False
        handler(session=session, event=event)
        if commit:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return True
