"""Writing to the outbox, inside the caller's transaction."""
from __future__ import annotations

import json

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.events import SUBSCRIBERS
from shared.logging import correlation_id


def publish_event(*, session: Session, outbox: Table, event: dict) -> None:
    """Queue `event` for every subscriber of its type; sent by the relay once committed."""
    now = utcnow()
    session.execute(
        insert(outbox),
        [
            {"task": route.task, "queue": route.queue, "body": json.dumps([event]),
             "event_id": event["id"], "event_type": event["type"], "created_at": now}
            for route in SUBSCRIBERS[event["type"]]
        ],
    )


def enqueue_task(*, session: Session, outbox: Table, task: str, queue: str, args: list) -> None:
    """Queue a Celery task to run once the caller's transaction has committed."""
    # the request's correlation id goes with the task, so its log lines join the chain (the relay sends it on)
    body = {"args": args, "correlation_id": correlation_id.get()}
    session.execute(
        insert(outbox).values(task=task, queue=queue, body=json.dumps(body), created_at=utcnow())
    )
