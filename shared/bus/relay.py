"""The outbox relay: publishes committed outbox rows to their Celery queues, then marks them sent.

Run it as `python -m shared.bus.relay [intake review notify]`. Several relays may run against the
same PostgreSQL databases: rows are claimed with SKIP LOCKED. A row published but not yet marked
(the relay died in between) is published again; consumers' inboxes make that harmless.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import time

from celery import Celery
from sqlalchemy import MetaData, select, update
from sqlalchemy.engine import Engine

from shared.bus.consumer import event_argsrepr
from shared.bus.tables import outbox_table
from shared.celery import CORRELATION_HEADER, make_celery
from shared.config import Settings
from shared.db import make_engine, utcnow
from shared.logging import configure_logging, sane_id

log = logging.getLogger(__name__)
OUTBOX = outbox_table(MetaData())


def task_arguments(row) -> tuple[list, str | None]:
    """An outbox row's task arguments, and the correlation id the chain goes on with in the task's log lines."""
    body = json.loads(row.body)
    if isinstance(body, dict):  # a task row: {"args", "correlation_id"}
        return body["args"], sane_id(body.get("correlation_id"))
    # an event row, `[envelope]` (or a task row written before task rows carried their correlation id)
    envelope = body[0] if row.event_id and body and isinstance(body[0], dict) else {}
    return body, sane_id(envelope.get("correlation_id"))


def relay_once(engine: Engine, celery: Celery, *, batch: int = 200) -> int:
    """Publish up to `batch` unsent rows of one database; returns how many were sent."""
    query = select(OUTBOX).where(OUTBOX.c.sent_at.is_(None)).order_by(OUTBOX.c.id).limit(batch)
    if engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with engine.begin() as conn:
        rows = conn.execute(query).all()
        if not rows:
            return 0
        with celery.producer_or_acquire() as producer:
            for row in rows:
                args, correlation = task_arguments(row)
                # an event's envelope carries personal data: logs and monitors see its id only
                shown = {"argsrepr": event_argsrepr(row.event_id, row.event_type)} if row.event_id else {}
                headers = {CORRELATION_HEADER: correlation} if correlation else None
                celery.send_task(row.task, args=args, queue=row.queue, producer=producer, headers=headers, **shown)
        conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in rows])).values(sent_at=utcnow()))
    log.info("relayed", extra={"count": len(rows), "database": engine.url.database})
    return len(rows)


def run(services: list[str], *, interval: float = 0.2) -> None:
    settings = Settings.from_env()
    celery = make_celery("relay", settings=settings)
    engines = [make_engine(settings.database_url(name)) for name in services]
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("relay started", extra={"services": services})
    while not stopping:
        busy = False
        for engine in engines:
            try:
                busy |= relay_once(engine, celery) > 0
            except Exception:
                # broker or database away: keep the rows, try again shortly
                log.exception("relay pass failed", extra={"database": engine.url.database})
                time.sleep(1)
        if not busy:
            time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", default=["intake", "review", "notify"])
    args = parser.parse_args()
    configure_logging("relay")
    run(args.services)


if __name__ == "__main__":
    main()
