"""The per-minute sending limit, one bucket shared by every worker process (a locked file, or Redis)."""
import dataclasses
import json
import multiprocessing
import time

import pytest

from services.notify.deliveries.ratelimit import FileBucket, RateLimit, RedisBucket, rate_limit_for
from services.notify.deliveries.smtp import SmtpSender, build_message


def take_all(bucket, times) -> list[float]:
    return [bucket.take() for _ in range(times)]


def _take_in_child(path, times, results):
    results.put(take_all(FileBucket(path, per_minute=20), times))


def test_file_bucket_is_shared_by_processes(tmp_path):
    path = tmp_path / "bucket.json"
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [context.Process(target=_take_in_child, args=(path, 10, results)) for _ in range(2)]
    for child in children:
        child.start()
    taken = results.get(timeout=30) + results.get(timeout=30)
    for child in children:
        child.join()

    assert taken == [0.0] * 20  # a minute's worth at once, and not one more
    wait = FileBucket(path, per_minute=20).take()
    assert 0.0 < wait <= 3.0


def test_redis_bucket_is_shared_by_clients(redis_server):
    first, second = (RedisBucket(redis_server.url, per_minute=30, key="test-bucket") for _ in range(2))

    assert take_all(first, 15) + take_all(second, 15) == [0.0] * 30
    assert 1.0 < second.take() <= 2.0


@pytest.mark.parametrize(("broker_url", "bucket"), [("filesystem://", FileBucket), ("redis", RedisBucket)])
def test_limit_setting_picks_the_bucket_of_the_mode(settings, redis_server, broker_url, bucket):
    url = redis_server.url if broker_url == "redis" else broker_url
    limit = rate_limit_for(dataclasses.replace(settings, broker_url=url, smtp_rate_per_minute=120))

    assert isinstance(limit.bucket, bucket)
    assert rate_limit_for(dataclasses.replace(settings, smtp_rate_per_minute=0)) is None


def test_sender_waits_for_the_bucket_then_sends(tmp_path, mail_server, notify_settings):
    bucket = FileBucket(tmp_path / "bucket.json", per_minute=120)
    # the other workers have just used every token
    bucket.path.write_text(json.dumps({"tokens": 0.0, "at": time.time()}))
    sender = SmtpSender("127.0.0.1", notify_settings.smtp_port, rate_limit=RateLimit(bucket))
    message = build_message(sender="NIP <internships@example.org>", recipient="zoe@example.org", subject="Hello",
                            text="Hello", html="<p>Hello</p>", event_id="b7c4f3a0-0000-4000-8000-000000000001",
                            reference="NIP27-RATE01")

    started = time.monotonic()
    sender.send(message)
    sender.close()

    assert 0.3 < time.monotonic() - started < 2.0  # half a second until the next token, at 2 per second
    assert len(mail_server.messages()) == 1
