"""Embedded mode's broker and pool, each fault shown on real processes (fast; the stall of issue 5 item 4).

- test_a_worker_runs_tasks_after_its_idle_pool_child_is_killed: billiard's blocking pool (used with the
  filesystem broker) let an idle child hold the job pipe's lock; SIGKILLed there, the replacement waited for
  it for ever and the worker never ran another task. shared/celery_pool.py uses locks the kernel releases.
- test_a_task_whose_pool_child_is_killed_mid_flight_runs_again: the killed task is re-queued and runs.
- test_a_task_whose_pool_child_died_before_acknowledging_it_runs_again: a child killed after it read a job
  and before it told the parent took the job unseen, and the worker never fetched again; the pool now fails
  such a job as lost, which re-queues it.
- test_a_message_a_dead_consumer_had_not_acknowledged_is_delivered_again: kombu's filesystem transport
  deleted a message as soon as it was read, so a worker process that died lost what it had prefetched or
  was running; shared/celery_filesystem.py keeps it claimed until acknowledged and re-queues it.
- test_a_consumer_whose_prefetch_is_full_takes_the_next_message_as_soon_as_a_slot_frees: kombu slept a whole
  polling interval after each "nothing to take", so a render worker (one message at a time) idled after every
  task with messages waiting; the transport now waits for the slot instead.
- test_a_consumer_never_reads_a_message_half_written: producers wrote in place, so a consumer could read an
  empty file and die of a JSONDecodeError under a burst; messages are now renamed into place whole.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from tests.e2e.stack import ROOT, Stack

pytestmark = pytest.mark.resilience
TRANSPORT = "shared.celery_filesystem:Transport"


def wait_for(check, *, timeout: float, what: str, stack: Stack | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{stack.logs() if stack else ''}")


@pytest.fixture
def worker(tmp_path, request):
    done = tmp_path / "done"
    done.mkdir()
    env = {"VAR_DIR": str(tmp_path / "var"), "BROKER_URL": "", "POOLTEST_DIR": str(done),
           **getattr(request, "param", {})}
    stack = Stack(tmp_path, env)
    stack.start("worker", "celery -A tests.resilience.pool_app worker -Q pooltest --concurrency 1 "
                          "--without-gossip --without-mingle --loglevel INFO")
    log = tmp_path / "logs" / "worker.log"
    wait_for(lambda: "ready." in log.read_text(errors="replace") and stack.children("worker"), timeout=60,
             what="the worker", stack=stack)

    def send(name: str, seconds: float = 0.0) -> None:
        stack.run_once("send", [sys.executable, "-c", "import sys; from tests.resilience.pool_app import touch; "
                                                      "touch.delay(sys.argv[1], float(sys.argv[2]))",
                                name, str(seconds)])

    try:
        yield stack, send, done
    finally:
        stack.stop()


def test_a_worker_runs_tasks_after_its_idle_pool_child_is_killed(worker):
    stack, send, done = worker
    send("before")
    wait_for(lambda: (done / "before").exists(), timeout=30, what="the first task", stack=stack)
    [child] = stack.children("worker")
    os.kill(child, signal.SIGKILL)  # idle: waiting for its next job
    wait_for(lambda: stack.children("worker") not in ([], [child]), timeout=30, what="a new child", stack=stack)
    for name in ("after-1", "after-2", "after-3"):
        send(name)
    wait_for(lambda: all((done / n).exists() for n in ("after-1", "after-2", "after-3")), timeout=30,
             what="the tasks sent after the kill", stack=stack)


def test_a_task_whose_pool_child_is_killed_mid_flight_runs_again(worker):
    stack, send, done = worker
    send("slow", 5.0)
    send("next")
    wait_for(lambda: (done / "slow.started").exists(), timeout=30, what="the slow task to start", stack=stack)
    child = int((done / "slow.started").read_text())
    assert not (done / "slow").exists()
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: (done / "slow").exists() and (done / "next").exists(), timeout=60,
             what="the killed task to run again, and the next one", stack=stack)
    assert int((done / "slow").read_text()) != child


@pytest.mark.parametrize("worker", [{"POOLTEST_DIE_ON_FIRST_READ": "1"}], indirect=True)
def test_a_task_whose_pool_child_died_before_acknowledging_it_runs_again(worker):
    stack, send, done = worker
    send("first")
    wait_for(lambda: (done / "died-on-read").exists(), timeout=30, what="the child to take the job", stack=stack)
    # billiard never learned which child had the job; without the pool's recovery nothing runs it, and the
    # worker, its one prefetched message taken, fetches nothing more
    wait_for(lambda: (done / "first").exists(), timeout=60, what="the lost job to run again", stack=stack)
    assert int((done / "first").read_text()) != int((done / "died-on-read").read_text())
    send("second")
    wait_for(lambda: (done / "second").exists(), timeout=30, what="the next task", stack=stack)


def _options(folder: Path) -> dict:
    for sub in ("queue", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"), "store_processed": False}


CONSUME_AND_DIE = """
import os, sys
from kombu import Connection
conn = Connection("filesystem://", transport=sys.argv[1], transport_options=eval(sys.argv[2]))
message = conn.SimpleQueue("jobs").get(timeout=10)
print(message.payload, flush=True)
os._exit(0)  # no ack, no clean close: as a SIGKILL leaves it
"""


def test_a_message_a_dead_consumer_had_not_acknowledged_is_delivered_again(tmp_path):
    options = _options(tmp_path / "broker")
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
        conn.SimpleQueue("jobs").put({"job": 1})
    died = subprocess.run([sys.executable, "-c", CONSUME_AND_DIE, TRANSPORT, repr(options)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert "{'job': 1}" in died.stdout, died.stderr
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        message = queue.get(timeout=5)
        assert message.payload == {"job": 1}
        message.ack()
        with pytest.raises(queue.Empty):
            queue.get(timeout=1)  # acknowledged: gone for good, not delivered a third time
    assert not [p for p in (tmp_path / "broker" / "queue").rglob("*.msg")]


def test_a_consumer_whose_prefetch_is_full_takes_the_next_message_as_soon_as_a_slot_frees(tmp_path):
    options = {**_options(tmp_path / "broker"), "polling_interval": 1.0}
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
        for n in range(5):
            conn.SimpleQueue("slots").put({"job": n})
        channel = conn.channel()
        channel.basic_qos(0, 1, False)  # one message at a time, as `--prefetch-multiplier 1 --concurrency 1`
        taken = []

        def on_message(body, message):
            taken.append((body["job"], time.monotonic()))
            # acknowledged from another thread once done, as the pool's result handler does
            threading.Timer(0.05, message.ack).start()

        # a queue name of its own: kombu keeps exchanges per process, and other tests here use "jobs"
        with Consumer(channel, queues=[Queue("slots", Exchange("slots"), "slots")], callbacks=[on_message]):
            deadline = time.monotonic() + 30
            while len(taken) < 5 and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=2)
                except socket.timeout:
                    pass
    assert sorted(job for job, _ in taken) == list(range(5))
    gaps = [later - earlier for (_, earlier), (_, later) in zip(taken, taken[1:])]
    assert max(gaps) < 0.5, f"idled between messages: {[round(gap, 2) for gap in gaps]}"


PRODUCE = """
import sys
from kombu import Connection
conn = Connection("filesystem://", transport=sys.argv[1], transport_options=eval(sys.argv[2]))
queue = conn.SimpleQueue("bulk")
for i in range(int(sys.argv[3])):
    queue.put({"i": i, "padding": "x" * 200_000})
"""


def test_a_consumer_never_reads_a_message_half_written(tmp_path):
    options, count = _options(tmp_path / "broker"), 150
    producer = subprocess.Popen([sys.executable, "-c", PRODUCE, TRANSPORT, repr(options), str(count)], cwd=ROOT)
    seen = set()
    try:
        with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
            queue = conn.SimpleQueue("bulk")
            deadline = time.monotonic() + 120
            while len(seen) < count and time.monotonic() < deadline:
                try:
                    message = queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                seen.add(message.payload["i"])  # a half-written file would fail to decode here
                message.ack()
    finally:
        producer.wait(60)
    assert seen == set(range(count))
