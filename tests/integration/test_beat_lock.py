"""One beat for the whole stack: `python -m shared.beat_lock` lets a second beat start only when the first is gone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCK = "nip:beat:lock"
TTL = 4


class Beat:
    def __init__(self, name: str, redis_url: str, tmp_path: Path, *extra: str):
        self.log_path = tmp_path / f"{name}.log"
        env = {**os.environ, "BROKER_URL": redis_url, "VAR_DIR": str(tmp_path / f"{name}-var"),
               "PATH": f"{BIN}:{os.environ['PATH']}", "INTAKE_DATABASE_URL": "", "REVIEW_DATABASE_URL": "",
               "NOTIFY_DATABASE_URL": ""}
        env.pop("PYTHONPATH", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "python"), "-m", "shared.beat_lock", "--ttl", str(TTL), *extra, "--",
                 "celery", "-A", "services.intake.worker", "beat", "--schedule", str(tmp_path / f"{name}-schedule"),
                 "--loglevel", "INFO"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def beating(self) -> bool:
        return "beat: Starting" in self.log()

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        self.process.wait(20)


def wait_until(check, timeout: float, what: str, beats=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(f"--- {b.log_path.name}\n{b.log()}" for b in beats))


def test_a_second_beat_waits_while_the_first_runs_and_takes_over_when_it_dies(redis_server, tmp_path):
    first = Beat("first", redis_server.url, tmp_path)
    second = None
    try:
        wait_until(first.beating, 60, "the first beat", [first])
        second = Beat("second", redis_server.url, tmp_path)
        wait_until(lambda: "waiting as a standby" in second.log(), 60, "the standby", [second])
        time.sleep(TTL * 2)  # several renewals: the first keeps the lock, the second never starts beat

        assert first.process.poll() is None and second.process.poll() is None
        assert not second.beating()

        first.kill(signal.SIGKILL)  # no clean release: the lock must expire on its own
        wait_until(second.beating, TTL * 3 + 30, "the standby to take over", [first, second])
        assert "holding the beat lock" in second.log()
    finally:
        for beat in (first, second):
            if beat is not None:
                beat.kill()


def test_a_second_beat_with_no_wait_refuses_to_start(redis_server, tmp_path):
    first = Beat("first", redis_server.url, tmp_path)
    try:
        wait_until(first.beating, 60, "the first beat", [first])
        second = Beat("second", redis_server.url, tmp_path, "--no-wait")

        assert second.process.wait(60) == 3, second.log()
        assert not second.beating()
        assert first.process.poll() is None
    finally:
        first.kill()


def test_beat_stops_when_its_lock_is_taken_from_it(redis_server, tmp_path):
    beat = Beat("first", redis_server.url, tmp_path)
    try:
        wait_until(beat.beating, 60, "beat", [beat])
        client = redis.Redis.from_url(redis_server.url)
        client.set(LOCK, b"someone-else", px=60_000)  # as if the TTL ran out and another beat got it

        assert beat.process.wait(TTL * 3) == 4, beat.log()
        assert "the beat lock was lost" in beat.log()
        assert client.get(LOCK) == b"someone-else"  # it did not release the new holder's lock
    finally:
        beat.kill()


def test_a_clean_stop_hands_the_lock_over_at_once(redis_server, tmp_path):
    beat = Beat("first", redis_server.url, tmp_path)
    try:
        wait_until(beat.beating, 60, "beat", [beat])
        beat.kill(signal.SIGTERM)

        assert redis.Redis.from_url(redis_server.url).get(LOCK) is None, beat.log()
    finally:
        beat.kill()


def test_beat_lock_refuses_a_broker_that_is_not_redis(tmp_path):
    result = subprocess.run([str(BIN / "python"), "-m", "shared.beat_lock", "--", "celery", "-A",
                             "services.intake.worker", "beat"],
                            cwd=ROOT, env={**os.environ, "BROKER_URL": "filesystem://"}, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode != 0
    assert "needs a Redis URL" in result.stderr


def test_beat_waits_for_a_redis_that_is_still_starting(tmp_path):
    from tests.conftest import RedisServer

    server = RedisServer(tmp_path / "late-redis")  # its port is chosen, nothing listens yet
    beat = Beat("first", server.url, tmp_path)
    try:
        wait_until(lambda: "cannot reach Redis for the beat lock yet" in beat.log(), 60, "a retry", [beat])
        assert beat.process.poll() is None and not beat.beating()

        server.start()
        wait_until(beat.beating, 60, "beat once Redis is up", [beat])
    finally:
        beat.kill()
        server.stop()
