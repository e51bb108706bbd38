"""Embedded mode (`make run`'s Procfile processes: SQLite, Celery over the filesystem) under a killed pool.

test_a_burst_survives_pool_children_killed_mid_flight proves that SIGKILLing worker pool processes (what the
kernel's OOM killer does) never stops the pipeline: 100 applications are submitted by the load generator while
the busiest pool process of every worker is killed every few seconds; once quiet, every application has its
final status and dossier at intake and in review, the dossier opens, and each candidate got exactly one email
per visible change (SMTP server and notify's log agree); no dead letters. Before shared/celery_pool.py, the
first kill of an idle child left the worker holding tasks it never ran (see that module's docstring).
"""
from __future__ import annotations

import pytest

from tests.e2e.stack import embedded_processes
from tests.resilience.disturb import Burst, kill_pool_children
from tests.resilience.figures import record
from tests.resilience.invariants import assert_consistent

pytestmark = pytest.mark.resilience
APPLICATIONS = 100


@pytest.fixture
def embedded(tmp_path, ports):
    with embedded_processes(tmp_path, ports) as running:
        yield running


@pytest.mark.timeout(600)
def test_a_burst_survives_pool_children_killed_mid_flight(embedded):
    stack, urls, mail_dir = embedded
    burst = Burst(urls["intake"], count=APPLICATIONS, seed=11)
    kills = kill_pool_children(stack, burst, every=3.0, at_least=30.0)
    summary = burst.result(stack)
    assert kills >= 4 * len(stack.workers())
    figures = assert_consistent(stack, urls, summary.accepted, mail_dir, timeout=300, started=burst.started,
                                resends_allowed=True)
    record(scenario="embedded: pool children killed", sent=summary.sent, applications=len(summary.accepted),
           kills=kills, restarts=0, cuts=0, **{"burst s": round(burst.seconds, 1)}, **figures)
