"""Run Celery beat only while holding a Redis lock: `python -m shared.beat_lock -- celery -A ... beat ...`.

Two beats would send every periodic task twice. A Deployment with one replica does not prevent that
(a rolling update, a node that is only partitioned, a second `docker compose up`), so beat takes a
lock in the broker's Redis first. The lock has a TTL and is renewed while beat runs: if this process
dies, the lock expires and a waiting standby takes over; if the renewal finds the lock gone or taken
(Redis lost it, or this process was frozen past the TTL), beat is stopped at once rather than run
beside the new holder.

Beat runs in this process (not as a child), so nothing can outlive the lock holder.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time

import redis
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

# set by the renewing thread when the lock is no longer ours, so main() exits with EXIT_LOST
LOST = threading.Event()

DEFAULT_NAME = "nip:beat:lock"
DEFAULT_TTL = 30.0
EXIT_HELD = 3  # --no-wait and another beat holds the lock
EXIT_LOST = 4  # the lock was lost while beat ran


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.beat_lock",
                                     description="Hold a Redis lock while running Celery beat.")
    parser.add_argument("--url", help="Redis URL for the lock (default: BROKER_URL)")
    parser.add_argument("--name", default=DEFAULT_NAME, help="the lock's key")
    parser.add_argument("--ttl", type=float, default=DEFAULT_TTL,
                        help="seconds the lock outlives a holder that stops renewing it")
    parser.add_argument("--no-wait", action="store_true",
                        help="exit at once if another beat holds the lock, instead of waiting as a standby")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- celery -A app beat [options]")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if args.command[:1] != ["celery"] or "beat" not in args.command:
        parser.error("give the beat command after --, e.g. -- celery -A services.intake.worker beat")
    if args.ttl < 3:
        parser.error("--ttl must be at least 3 seconds")
    return args


def lock_url(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get("BROKER_URL", "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        # the embedded stack (filesystem broker) runs one beat from its Procfile and needs no lock
        raise SystemExit(f"beat_lock needs a Redis URL (--url or BROKER_URL), got {url.split(':', 1)[0] or 'none'!r}")
    return url


def acquire(client: redis.Redis, args: argparse.Namespace) -> redis.lock.Lock:
    # thread_local=False: the renewing thread must see the token the main thread acquired with
    lock = client.lock(args.name, timeout=args.ttl, sleep=min(1.0, args.ttl / 10), thread_local=False)
    while True:
        try:
            if lock.acquire(blocking=False):
                return lock
            break
        except RedisError as error:  # Redis still starting (a fresh cluster): wait for it rather than crash-loop
            log.warning("cannot reach Redis for the beat lock yet", extra={"error": type(error).__name__})
            time.sleep(1)
    if args.no_wait:
        log.error("another beat holds the lock; not starting", extra={"lock": args.name})
        raise SystemExit(EXIT_HELD)
    log.info("another beat holds the lock; waiting as a standby", extra={"lock": args.name})
    while True:
        try:
            if lock.acquire(blocking=True, blocking_timeout=args.ttl):
                return lock
        except RedisError as error:  # Redis restarting: keep waiting rather than crash-loop
            log.warning("cannot reach Redis for the beat lock", extra={"error": type(error).__name__})
            time.sleep(1)


def keep_renewing(lock: redis.lock.Lock, ttl: float, stopped: threading.Event) -> None:
    """Reset the TTL every third of it; stop beat (SIGTERM to this process) when the lock is no longer ours."""
    interval = ttl / 3
    failures_since = None
    while not stopped.wait(interval):
        try:
            lock.reacquire()
            failures_since = None
            continue
        except LockError:
            log.error("the beat lock was lost; stopping beat", extra={"lock": lock.name})
        except RedisError as error:
            # Redis unreachable: the lock may still be ours until its TTL runs out, not beyond
            failures_since = failures_since or time.monotonic()
            if time.monotonic() - failures_since < ttl - interval:
                log.warning("cannot renew the beat lock yet", extra={"error": type(error).__name__})
                continue
            log.error("could not renew the beat lock before its TTL; stopping beat", extra={"lock": lock.name})
        LOST.set()
        os.kill(os.getpid(), signal.SIGTERM)
        return


def run_beat(command: list[str]) -> int:
    from celery.bin.celery import main as celery_main

    sys.argv = command
    try:
        celery_main()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


def main(argv: list[str] | None = None) -> int:
    from shared.logging import configure_logging

    configure_logging("beat")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    client = redis.Redis.from_url(lock_url(args), socket_timeout=5, socket_connect_timeout=5)
    lock = acquire(client, args)
    log.info("holding the beat lock", extra={"lock": args.name, "holder": f"{socket.gethostname()}:{os.getpid()}"})
    stopped = threading.Event()
    renewer = threading.Thread(target=keep_renewing, args=(lock, args.ttl, stopped), name="beat-lock", daemon=True)
    renewer.start()
    try:
        code = run_beat(args.command)
    finally:
        stopped.set()
        renewer.join(5)
        if not LOST.is_set():
            try:
                lock.release()  # a clean stop hands over at once instead of after the TTL
            except (LockError, RedisError):
                pass
    return EXIT_LOST if LOST.is_set() else code


if __name__ == "__main__":
    sys.exit(main())
