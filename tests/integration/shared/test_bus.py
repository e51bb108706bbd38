"""The event bus against real PostgreSQL and Redis: outbox, relay, inbox."""
import dataclasses
import base64
import json

import pytest
import redis
from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Session

from shared.bus import consume, inbox_table, outbox_table, publish_event
from shared.bus.outbox import enqueue_task
from shared.bus.relay import relay_once
from shared.celery import CORRELATION_HEADER, make_celery
from shared.db import make_engine
from shared.events import make_event
from shared.logging import log_context
from tests.conftest import fresh_database

METADATA = MetaData()
OUTBOX, INBOX = outbox_table(METADATA), inbox_table(METADATA)


@pytest.fixture(scope="module")
def engine():
    engine = make_engine(fresh_database("nip_test_bus"))
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session
        session.rollback()
    with engine.begin() as conn:
        conn.execute(OUTBOX.delete())
        conn.execute(INBOX.delete())


@pytest.fixture
def broker(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.url = redis_server.url
    yield client
    client.close()


def celery_for(settings, url):
    return make_celery("test", settings=dataclasses.replace(settings, broker_url=url))


def drain(client: redis.Redis, queue: str) -> list[dict]:
    """The messages waiting in a Redis queue, in kombu's wire format, decoded."""
    bodies = []
    while (raw := client.rpop(queue)) is not None:
        message = json.loads(raw)
        body = base64.b64decode(message["body"]) if message["properties"]["body_encoding"] == "base64" \
            else message["body"]
        bodies.append({"task": message["headers"]["task"], "args": json.loads(body)[0],
                       "argsrepr": message["headers"].get("argsrepr")})
    return bodies


def checked_event(reference="NIP27-AAAA-BBBB"):
    return make_event("application.checked", {"reference": reference, "eligible": True, "complete": True,
                                              "problems": []}, producer="intake")


def test_committed_event_reaches_each_subscriber_queue(session, broker, settings, engine):
    event = make_event("application.status_changed", {
        "reference": "NIP27-AAAA-BBBB", "old": "checking", "new": "under_review", "reason": None,
        "email": "a@example.org", "name": "A B", "language": "en"}, producer="intake")
    publish_event(session=session, outbox=OUTBOX, event=event)
    session.commit()
    assert relay_once(engine, celery_for(settings, broker.url)) == 2
    assert relay_once(engine, celery_for(settings, broker.url)) == 0  # marked sent
    # what logs and monitors show of the task is the event's id, not the candidate's name and email
    shown = f"[<application.status_changed {event['id']}>]"
    assert drain(broker, "review.events") == [{"task": "review.handle_event", "args": [event], "argsrepr": shown}]
    assert drain(broker, "notify.email") == [{"task": "notify.handle_event", "args": [event], "argsrepr": shown}]


def test_the_relay_carries_an_events_correlation_id_to_its_task(session, broker, settings, engine):
    with log_context(correlation="req-0123456789"):
        publish_event(session=session, outbox=OUTBOX, event=checked_event())
    publish_event(session=session, outbox=OUTBOX, event=checked_event("NIP27-CCCC-DDDD"))  # no request behind it
    session.commit()
    assert relay_once(engine, celery_for(settings, broker.url)) == 2

    headers = [json.loads(raw)["headers"] for raw in reversed(broker.lrange("review.events", 0, -1))]
    assert [h.get(CORRELATION_HEADER) for h in headers] == ["req-0123456789", None]


def test_the_relay_carries_a_queued_tasks_correlation_id(session, broker, settings, engine):
    with log_context(correlation="req-check-42"):
        enqueue_task(session=session, outbox=OUTBOX, task="intake.check_application", queue="intake.checks",
                     args=["NIP27-AAAA-BBBB"])
    enqueue_task(session=session, outbox=OUTBOX, task="intake.check_application", queue="intake.checks",
                 args=["NIP27-CCCC-DDDD"])  # the sweeper's: no request behind it
    session.commit()
    assert relay_once(engine, celery_for(settings, broker.url)) == 2

    messages = [json.loads(raw) for raw in reversed(broker.lrange("intake.checks", 0, -1))]
    assert [m["headers"].get(CORRELATION_HEADER) for m in messages] == ["req-check-42", None]
    assert [json.loads(base64.b64decode(m["body"]))[0] for m in messages] == [["NIP27-AAAA-BBBB"], ["NIP27-CCCC-DDDD"]]


def test_rolled_back_transaction_publishes_nothing(session, broker, settings, engine):
    publish_event(session=session, outbox=OUTBOX, event=checked_event())
    session.rollback()
    assert relay_once(engine, celery_for(settings, broker.url)) == 0
    assert drain(broker, "review.events") == []


def test_broker_down_at_relay_time_loses_nothing(session, broker, settings, engine):
    publish_event(session=session, outbox=OUTBOX, event=checked_event())
    session.commit()
    down = celery_for(settings, "redis://127.0.0.1:1/0")
    down.conf.broker_connection_max_retries = 0
    down.conf.broker_transport_options = {"max_retries": 0}
    with pytest.raises(Exception):
        relay_once(engine, down)
    assert session.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None))) == 1
    assert relay_once(engine, celery_for(settings, broker.url)) == 1
    assert len(drain(broker, "review.events")) == 1


def test_redelivered_event_changes_nothing(session):
    applied = []
    event = checked_event()
    handlers = {"application.checked": lambda *, session, event: applied.append(event["id"])}
    assert consume(session=session, inbox=INBOX, envelope=event, handlers=handlers) is True
    assert consume(session=session, inbox=INBOX, envelope=json.loads(json.dumps(event)), handlers=handlers) is False
    assert applied == [event["id"]]


def test_failed_effect_leaves_the_event_unhandled(session):
    event = checked_event()

    def broken(*, session, event):
        raise RuntimeError("database hiccup")

    with pytest.raises(RuntimeError):
        consume(session=session, inbox=INBOX, envelope=event, handlers={"application.checked": broken})
    assert session.scalar(select(func.count()).select_from(INBOX)) == 0
    assert consume(session=session, inbox=INBOX, envelope=event,
                   handlers={"application.checked": lambda **_: None}) is True
