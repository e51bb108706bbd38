"""Production mode (every compose service's own command and environment, PostgreSQL, a private Redis with
AOF, the real SMTP catcher) under a burst of 100 applications from the load generator, with trouble:

- test_a_burst_survives_pool_children_killed_mid_flight: the busiest pool process of every worker (two per
  worker, as compose runs them) SIGKILLed every few seconds: killed tasks are re-queued, never lost;
- test_a_burst_survives_a_redis_restart: the broker stopped and started again (same port, same AOF) in the
  middle of the burst: the relay and the workers reconnect, and the tasks a worker had prefetched are put back
  at once (shared/celery_redis.py) instead of after the hour-long visibility timeout;
- test_a_burst_survives_terminated_database_connections: every connection to the three databases cut with
  pg_terminate_backend a few times during the burst: requests and consumers retry, nothing is dropped;
- test_a_burst_survives_an_smtp_outage: the SMTP server stopped for 20 s and started again: every email is
  delivered once when it is back.

After each, once quiet, the invariants of tests/resilience/invariants.py hold for every application of that
burst: final status and dossier at intake and in review, the dossier opens, one email per candidate-visible
change at the SMTP server and in notify's log, none twice, no open dead letter. The stack is shared by the
scenarios (it is started once); each checks only its own applications.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.notify.mailcatcher import free_port
from tests.conftest import RedisServer, fresh_database
from tests.e2e.stack import SERVICES, Stack, production_processes
from tests.resilience.disturb import Burst, kill_pool_children, terminate_connections
from tests.resilience.figures import record
from tests.resilience.invariants import assert_consistent

pytestmark = pytest.mark.resilience
APPLICATIONS = 100
# time for the sweeper to find work the broker lost on the way (a minute apart, 90 s for a check)
QUIET_TIMEOUT = 330


@dataclass
class Production:
    stack: Stack
    urls: dict
    mail_dir: Path
    redis: RedisServer
    databases: dict


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("production")
    redis = RedisServer(workdir / "redis", appendonly=True).start()
    try:
        databases = {name: fresh_database(f"nip_resilience_{name}") for name in SERVICES}
        ports = {name: free_port() for name in ("intake", "review", "notify", "smtp")}
        with production_processes(workdir, ports, databases=databases, broker_url=redis.url) as (stack, urls, mail):
            yield Production(stack, urls, mail, redis, databases)
    finally:
        redis.stop()


def settle(production: Production, burst: Burst, scenario: str, **figures) -> None:
    summary = burst.result(production.stack)
    measured = assert_consistent(production.stack, production.urls, summary.accepted, production.mail_dir,
                                 timeout=QUIET_TIMEOUT, started=burst.started,
                                 resends_allowed=bool(figures.get("kills")))
    record(scenario=f"production: {scenario}", sent=summary.sent, applications=len(summary.accepted),
           **{"kills": 0, "restarts": 0, "cuts": 0, **figures}, **{"burst s": round(burst.seconds, 1)}, **measured)


@pytest.mark.timeout(600)
def test_a_burst_survives_pool_children_killed_mid_flight(production):
    burst = Burst(production.urls["intake"], count=APPLICATIONS, seed=21)
    kills = kill_pool_children(production.stack, burst, every=3.0, at_least=30.0)
    assert kills >= 4 * len(production.stack.workers())
    settle(production, burst, "pool children killed", kills=kills)


@pytest.mark.timeout(600)
def test_a_burst_survives_a_redis_restart(production):
    burst = Burst(production.urls["intake"], count=APPLICATIONS, seed=22)
    time.sleep(1.5)  # the burst under way: queued, prefetched and running work when the broker goes
    production.redis.stop()
    time.sleep(3)
    production.redis.start()
    settle(production, burst, "redis restarted", restarts=1)


@pytest.mark.timeout(600)
def test_a_burst_survives_terminated_database_connections(production):
    burst = Burst(production.urls["intake"], count=APPLICATIONS, seed=23)
    cuts = terminate_connections(production.databases, every=3.0, times=5)
    settle(production, burst, "database connections terminated", cuts=cuts)
    assert cuts > 0


@pytest.mark.timeout(600)
def test_a_burst_survives_an_smtp_outage(production):
    burst = Burst(production.urls["intake"], count=APPLICATIONS, seed=24)
    time.sleep(2)
    production.stack.stop_one("smtp")
    time.sleep(20)
    production.stack.start_again("smtp")
    settle(production, burst, "smtp stopped 20 s", restarts=1)
