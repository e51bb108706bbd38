"""Consuming events exactly once: the handled event id is recorded with the effect."""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.events import load_event

log = logging.getLogger(__name__)

Handler = Callable[..., None]


def consume(*, session: Session, inbox: Table, envelope: dict, handlers: dict[str, Handler]) -> bool:
    """Apply one event with its handler and commit; False when it was handled before."""
    event = load_event(envelope)
    handler = handlers.get(event["type"])
    if handler is None:
        log.warning("no handler for event", extra={"event_type": event["type"], "event_id": event["id"]})
        return False
    if session.execute(select(inbox.c.event_id).where(inbox.c.event_id == event["id"])).first():
        log.info("event already handled", extra={"event_id": event["id"]})
        session.rollback()
        return False
    try:
        session.execute(insert(inbox).values(event_id=event["id"], event_type=event["type"], handled_at=utcnow()))
        handler(session=session, event=event)
        session.commit()
    except IntegrityError:
        session.rollback()
        if session.execute(select(inbox.c.event_id).where(inbox.c.event_id == event["id"])).first():
            log.info("event handled concurrently", extra={"event_id": event["id"]})
            return False
        raise
    except Exception:
        session.rollback()
        raise
    return True
