"""The SMTP sending limit: one token bucket shared by every worker process (Redis, or a locked file embedded)."""
from __future__ import annotations

import fcntl
import json
import logging
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

REDIS_KEY = "notify:smtp-bucket"
# refill, then take one token if there is one: atomic in Redis, so replicas on many machines share the bucket
_TAKE = """
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or capacity, tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


class Bucket(Protocol):
    def take(self) -> float:
        """Take one token; returns 0, or the seconds until one is there (nothing taken)."""


def _refill(tokens: float, at: float, *, now: float, rate: float, capacity: float) -> tuple[float, float]:
    tokens = min(capacity, tokens + max(0.0, now - at) * rate)
    if tokens >= 1:
        return tokens - 1, 0.0
    return tokens, (1 - tokens) / rate


class FileBucket:
    """The embedded mode's bucket: a small JSON state file, read and written under an exclusive lock."""

    def __init__(self, path: Path, *, per_minute: int):
        self.path, self.rate, self.capacity = path, per_minute / 60.0, float(per_minute)

    def take(self) -> float:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            now = time.time()
            try:
                state = json.loads(handle.read() or "{}")
            except ValueError:
                state = {}
            tokens, wait = _refill(float(state.get("tokens", self.capacity)), float(state.get("at", now)),
                                   now=now, rate=self.rate, capacity=self.capacity)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"tokens": tokens, "at": now}))
            return wait


class RedisBucket:
    """Production's bucket, in the broker's Redis."""

    def __init__(self, url: str, *, per_minute: int, key: str = REDIS_KEY):
        import redis

        self.client, self.key = redis.Redis.from_url(url), key
        self.rate, self.capacity = per_minute / 60.0, float(per_minute)
        self._take = self.client.register_script(_TAKE)

    def take(self) -> float:
        return float(self._take(keys=[self.key], args=[self.rate, self.capacity, time.time()]))


class RateLimit:
    """Blocks a sender until the shared bucket lets one more message through."""

    def __init__(self, bucket: Bucket):
        self.bucket = bucket

    def acquire(self) -> None:
        while (wait := self.bucket.take()) > 0:
            log.info("sending limit reached, waiting", extra={"wait": round(wait, 3)})
            time.sleep(wait)


def rate_limit_for(settings) -> RateLimit | None:
    """The configured limit (SMTP_RATE_PER_MINUTE), or None when sending is not limited."""
    if not settings.smtp_rate_per_minute:
        return None
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RateLimit(RedisBucket(settings.broker_url, per_minute=settings.smtp_rate_per_minute))
    return RateLimit(FileBucket(settings.var_dir / "smtp-bucket.json", per_minute=settings.smtp_rate_per_minute))
