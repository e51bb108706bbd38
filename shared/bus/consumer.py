"""Event consumers that never drop an event: bounded retries with backoff, then a dead letter.

A consumer task whose handler fails is retried with exponential backoff and jitter a bounded
number of times; after that the event is written to the consuming service's `dead_letters` table,
in a transaction of its own, for staff to see (`/metrics`, an admin API) and to replay once the
cause is fixed. An event that fails its schema goes to the dead letters at once: retrying cannot
make it valid, and dropping it would hide a producer's bug. Effects stay exactly once through the
inbox, so a retry or a replay of an event already handled changes nothing.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, cast

from celery import shared_task
from celery.exceptions import Reject, Retry
from marshmallow import ValidationError
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import CursorResult, Table, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError, StatementError

from shared.db import Database, utcnow
from shared.logging import log_context

log = logging.getLogger(__name__)

MAX_RETRIES = 8
BACKOFF_FIRST = 2.0  # seconds before the first retry; doubles each time
BACKOFF_MAX = 600.0
ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class Consumer:
    """What replay and the dead-letter views need to know about one consumer task."""

    task: str
    service: str
    database: Database
    dead_letters: Table
    process: Callable[[dict], object]
    max_retries: int


CONSUMERS: dict[str, Consumer] = {}


def backoff(retries: int, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_MAX) -> float:
    """Seconds before retry number `retries + 1`: exponential, capped, with jitter.

    The jitter keeps a burst of failures (the database was away) from retrying in lockstep; the
    lower half is kept so a retry never comes back immediately.
    """
    delay = min(cap, first * 2 ** retries)
    return random.uniform(delay / 2, delay)


class EventFailed(Exception):
    """What a retry carries and Celery logs: the error's description, not its data."""


def describe(exc: BaseException) -> str:
    """The error for staff and logs: the driver's first line, never the statement's parameters or
    PostgreSQL's DETAIL (both may quote the row, i.e. personal data)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:ERROR_MAX_CHARS]


def _identity(envelope) -> tuple[str | None, str | None]:
    if not isinstance(envelope, dict):
        return None, None
    event_id, event_type = envelope.get("id"), envelope.get("type")
    return (str(event_id)[:64] if event_id is not None else None,
            str(event_type)[:64] if event_type is not None else None)


def traced(envelope):
    """Log lines and events while handling `envelope` carry its correlation id and application reference."""
    if not isinstance(envelope, dict):
        return log_context()
    data = envelope.get("data")
    return log_context(correlation=envelope.get("correlation_id"),
                       ref=data.get("reference") if isinstance(data, dict) else None)


def event_argsrepr(event_id, event_type) -> str:
    """What Celery shows of an event task's arguments (worker logs, Flower): never the envelope,
    which carries the candidate's name and email."""
    return f"[<{event_type} {event_id}>]"


def record_dead_letter(*, consumer: Consumer, envelope, error: str, attempts: int, now: datetime) -> int:
    """Write (or update the open) dead letter of `envelope` and commit; returns its id."""
    table, session = consumer.dead_letters, consumer.database.session
    event_id, event_type = _identity(envelope)
    try:
        existing = None
        if event_id is not None:
            existing = session.execute(
                select(table.c.id).where(table.c.task == consumer.task, table.c.event_id == event_id,
                                         table.c.replayed_at.is_(None)).order_by(table.c.id).limit(1)
            ).scalar()
        if existing is not None:
            session.execute(update(table).where(table.c.id == existing).values(
                error=error, attempts=table.c.attempts + attempts, last_failed_at=now))
            letter_id = existing
        else:
            letter_id = session.execute(insert(table).values(
                event_id=event_id, event_type=event_type, task=consumer.task,
                body=json.dumps(envelope, default=str), error=error, attempts=attempts,
                first_failed_at=now, last_failed_at=now).returning(table.c.id)).scalar_one()
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.error("event dead-lettered", extra={"task": consumer.task, "event_id": event_id,
                                             "event_type": event_type, "attempts": attempts,
                                             "dead_letter": letter_id})
    return letter_id


def event_consumer(*, name: str, service: str, database: Database, dead_letters: Table,
                   max_retries: int = MAX_RETRIES, **task_options):
    """Decorator: `process(envelope)` becomes the Celery task `name` that never drops its event.

    `process` applies the event (through the inbox, so it is idempotent) and raises on failure.
    Called directly (not by a worker), the task raises like a plain function.
    """

    def decorate(process: Callable[[dict], object]):
        consumer = Consumer(task=name, service=service, database=database, dead_letters=dead_letters,
                            process=process, max_retries=max_retries)

        # max_retries=None: the bound is ours (below), so running out ends in a dead letter, not an error
        @shared_task(name=name, bind=True, max_retries=None, **task_options)
        def task(self, envelope):
            with traced(envelope):
                return _run(self, envelope)

        def _run(self, envelope):
            attempts = self.request.retries + 1
            try:
                outcome = process(envelope)
                # one line per event and service: what following an application through the logs reads
                log.info("event handled", extra={"task": name, "event_id": _identity(envelope)[0],
                                                 "event_type": _identity(envelope)[1]})
                return outcome
            except ValidationError as exc:
                database.session.rollback()
                error = f"ValidationError: {json.dumps(exc.messages, default=str)}"[:ERROR_MAX_CHARS]
                _dead_letter_or_retry(self, consumer, envelope, error, attempts)
                return False
            except Exception as exc:
                database.session.rollback()
                if self.request.called_directly:
                    raise
                if self.request.retries < max_retries:
                    log.warning("event failed, will retry", extra={
                        "task": name, "event_id": _identity(envelope)[0], "attempt": attempts,
                        "error": type(exc).__name__})
                    try:
                        raise self.retry(exc=EventFailed(describe(exc)), countdown=backoff(self.request.retries),
                                         argsrepr=event_argsrepr(*_identity(envelope)))
                    except Reject:
                        # the broker refused the retry: keep the event here rather than lose it
                        log.warning("could not schedule a retry", extra={"task": name})
                _dead_letter_or_retry(self, consumer, envelope, describe(exc), attempts)
                return False

        task.consumer = consumer
        CONSUMERS[name] = consumer
        return task

    return decorate


def _dead_letter_or_retry(task, consumer: Consumer, envelope, error: str, attempts: int) -> None:
    try:
        record_dead_letter(consumer=consumer, envelope=envelope, error=error, attempts=attempts, now=utcnow())
    except Retry:
        raise
    except Exception as exc:
        # the database is away too: the broker keeps the event until it can be written down
        log.error("could not record a dead letter; retrying later",
                  extra={"task": consumer.task, "error": type(exc).__name__})
        raise task.retry(exc=EventFailed(describe(exc)), countdown=backoff(task.request.retries),
                         argsrepr=event_argsrepr(*_identity(envelope)))


# ---- staff: listing and replay ----------------------------------------------------------------

def dead_letters(*, consumer: Consumer, include_replayed: bool = False) -> list[dict]:
    table, session = consumer.dead_letters, consumer.database.session
    query = select(table).order_by(table.c.id)
    if not include_replayed:
        query = query.where(table.c.replayed_at.is_(None))
    rows = session.execute(query).mappings().all()
    session.rollback()
    return [as_dict(row) for row in rows]


def as_dict(row) -> dict:
    return {"id": row["id"], "event_id": row["event_id"], "event_type": row["event_type"], "task": row["task"],
            "error": row["error"], "attempts": row["attempts"],
            "first_failed_at": row["first_failed_at"].isoformat(),
            "last_failed_at": row["last_failed_at"].isoformat(),
            "replayed_at": row["replayed_at"].isoformat() if row["replayed_at"] else None,
            "outcome": row["outcome"]}


def replay(*, consumer: Consumer, ids: Iterable[int] | None = None) -> list[tuple[int, str, str]]:
    """Run open dead letters through the consumer's handler again, oldest first.

    Returns (id, outcome, detail) for each: `replayed` (marked, even when the inbox shows the event
    was meanwhile handled), `failed` (still open, attempts and error updated) or `not open`.
    """
    table, session = consumer.dead_letters, consumer.database.session
    query = select(table.c.id, table.c.body, table.c.replayed_at).where(table.c.task == consumer.task)
    if ids is None:
        query = query.where(table.c.replayed_at.is_(None))
    else:
        ids = [int(i) for i in ids]
        query = query.where(table.c.id.in_(ids))
    rows = {row.id: row for row in session.execute(query.order_by(table.c.id)).all()}
    session.rollback()
    outcomes = []
    for letter_id in (ids if ids is not None else list(rows)):
        row = rows.get(letter_id)
        if row is None or row.replayed_at is not None:
            outcomes.append((letter_id, "not open", ""))
            continue
        try:
            envelope = json.loads(row.body)
            with traced(envelope):
                consumer.process(envelope)
        except Exception as exc:
            session.rollback()
            error = (f"ValidationError: {json.dumps(exc.messages, default=str)}"
                     if isinstance(exc, ValidationError) else describe(exc))[:ERROR_MAX_CHARS]
            session.execute(update(table).where(table.c.id == letter_id).values(
                error=error, attempts=table.c.attempts + 1, last_failed_at=utcnow()))
            session.commit()
            outcomes.append((letter_id, "failed", error))
            continue
        session.execute(update(table).where(table.c.id == letter_id).values(replayed_at=utcnow(),
                                                                           outcome="replayed"))
        session.commit()
        log.info("dead letter replayed", extra={"task": consumer.task, "dead_letter": letter_id})
        outcomes.append((letter_id, "replayed", ""))
    return outcomes


def discard(*, consumer: Consumer, ids: Iterable[int | str]) -> list[tuple[int, str]]:
    """Close open dead letters without applying them (an event staff decided will never apply)."""
    table, session = consumer.dead_letters, consumer.database.session
    outcomes = []
    for letter_id in [int(i) for i in ids]:
        closed = cast(CursorResult, session.execute(update(table).where(
            table.c.id == letter_id, table.c.task == consumer.task, table.c.replayed_at.is_(None),
        ).values(replayed_at=utcnow(), outcome="discarded"))).rowcount
        session.commit()
        if closed:
            log.warning("dead letter discarded", extra={"task": consumer.task, "dead_letter": letter_id})
        outcomes.append((letter_id, "discarded" if closed else "not open"))
    return outcomes


def dead_letters_command(*, task: str, replay_ids: list[str] | None, discard_ids: list[str] | None = None) -> int:
    """`python -m services.<svc> dead-letters [--replay [ID ...] | --discard ID ...]`, in the app context."""
    consumer = CONSUMERS[task]
    if discard_ids:
        discarded = discard(consumer=consumer, ids=discard_ids)
        for letter_id, outcome in discarded:
            print(f"{letter_id}\t{outcome}")
        return 0 if all(outcome == "discarded" for _, outcome in discarded) else 1
    if replay_ids is None:
        letters = dead_letters(consumer=consumer)
        for letter in letters:
            print(f"{letter['id']}\t{letter['event_type']}\t{letter['event_id']}\tattempts={letter['attempts']}"
                  f"\tlast={letter['last_failed_at']}\t{letter['error']}")
        print(f"{len(letters)} open dead letter(s)")
        return 0
    outcomes = replay(consumer=consumer, ids=[int(i) for i in replay_ids] if replay_ids else None)
    for letter_id, outcome, detail in outcomes:
        print(f"{letter_id}\t{outcome}\t{detail}".rstrip())
    replayed = sum(1 for _, outcome, _ in outcomes if outcome == "replayed")
    print(f"replayed {replayed} of {len(outcomes)} dead letter(s)")
    return 0 if replayed == len(outcomes) else 1


# ---- metrics ----------------------------------------------------------------------------------

class _DeadLetterCollector:
    """`events_dead_lettered_total` and `events_dead_letters_open`, read from the database at scrape time.

    Workers write the dead letters, the web app serves /metrics: the table is the one place both see.
    """

    def collect(self):
        from flask import current_app, has_app_context

        if not has_app_context() or "dead_letters" not in current_app.extensions:
            return
        service, database, table = current_app.extensions["dead_letters"]
        total = CounterMetricFamily("events_dead_lettered", "Events a consumer gave up on",
                                    labels=["service", "event_type"])
        still_open = GaugeMetricFamily("events_dead_letters_open", "Dead letters not yet replayed",
                                       labels=["service", "event_type"])
        try:
            with database.engine.connect() as conn:
                rows = conn.execute(select(table.c.event_type, func.count(),
                                           func.count().filter(table.c.replayed_at.is_(None)))
                                    .group_by(table.c.event_type)).all()
        except SQLAlchemyError as exc:
            log.warning("dead letter metrics unavailable", extra={"error": type(exc).__name__})
            return
        for event_type, count, open_count in rows:
            total.add_metric([service, event_type or "unknown"], count)
            still_open.add_metric([service, event_type or "unknown"], open_count)
        yield total
        yield still_open

    def describe(self):
        return []


_COLLECTOR = _DeadLetterCollector()
_registered = False


def register_dead_letter_metrics(app, *, service: str, database: Database, table: Table) -> None:
    """Expose the service's dead letters on its /metrics."""
    global _registered
    app.extensions["dead_letters"] = (service, database, table)
    if not _registered:
        REGISTRY.register(_COLLECTOR)
        _registered = True
