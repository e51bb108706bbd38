"""The load and the trouble: a burst from the load generator in a thread, and what we do to the stack meanwhile."""
from __future__ import annotations

import os
import signal
import threading
import time
from urllib.parse import urlsplit

from sqlalchemy import bindparam, create_engine, text

from loadgen import Summary, submit
from tests.conftest import PG_SERVER
from tests.e2e.stack import Stack


class Burst:
    """`count` applications sent by the load generator from a background thread."""

    def __init__(self, intake_url: str, *, count: int, seed: int, concurrency: int = 4):
        self.summary: Summary | None = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self.seconds = 0.0

        def run():
            try:
                # generous retries: the point is what the stack does with what it accepted
                self.summary = submit(intake_url, count=count, concurrency=concurrency, seed=seed, retries=8)
            except BaseException as exc:  # reported by result()
                self.error = exc
            finally:
                self.seconds = time.monotonic() - self.started

        self.thread = threading.Thread(target=run, name="burst", daemon=True)
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def result(self, stack: Stack, timeout: float = 300) -> Summary:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the burst did not finish in {timeout} s"
        if self.error is not None:
            raise self.error
        summary = self.summary
        # every application is accepted or refused as planned (the API refuses some incomplete ones):
        # a 5xx, or a retry that gave up, under trouble is a bug
        assert summary.ok and summary.accepted, \
            f"unexpected outcomes during the burst: {dict(summary.unexpected)} (refused: {dict(summary.refused)})\n" \
            f"errors the services logged:\n{stack.errors()}"
        return summary


def _cpu_ticks(pid: int) -> int:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])  # utime + stime


def kill_pool_children(stack: Stack, burst: Burst, *, every: float = 3.0, at_least: float = 30.0) -> int:
    """SIGKILL a pool process of every Celery worker, every `every` seconds while the burst runs and for at
    least `at_least` seconds: the busiest one since the last round, so that work is in flight when it dies.
    Returns the number of processes killed."""
    kills, seen = 0, {}
    began = time.monotonic()
    while burst.running or time.monotonic() - began < at_least:
        for worker in stack.workers():
            ticks = {pid: _cpu_ticks(pid) for pid in stack.children(worker)}
            ticks = {pid: t for pid, t in ticks.items() if t >= 0}
            if not ticks:
                continue
            busiest = max(ticks, key=lambda pid: ticks[pid] - seen.get(pid, 0))
            seen.update(ticks)
            try:
                os.kill(busiest, signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
        time.sleep(every)
    return kills


def terminate_connections(databases: dict[str, str], *, every: float = 3.0, times: int = 4) -> int:
    """pg_terminate_backend every connection to our databases (only ours), `times` times from the burst's start.
    Returns the number of connections terminated."""
    names = [urlsplit(url).path.lstrip("/") for url in databases.values()]
    engine = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    query = text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE datname IN :names AND pid <> pg_backend_pid()").bindparams(bindparam("names", expanding=True))
    terminated = 0
    try:
        for _ in range(times):
            time.sleep(every)
            with engine.connect() as conn:
                terminated += conn.execute(query, {"names": names}).scalar_one()
    finally:
        engine.dispose()
    return terminated
