"""A minimal Celery app on embedded mode's broker and pool, for test_embedded_broker's real workers."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from shared.celery import make_celery
from shared.config import Settings

if os.environ.get("POOLTEST_DIE_ON_FIRST_READ"):
    # the narrowest window of all: the first pool child to read a job is SIGKILLed before it can tell the
    # parent it took it (billiard's ACK); children are forked from this process, so they all have the patch
    from billiard.pool import Worker

    _receiver = Worker._make_protected_receive

    def _dying_receiver(worker, conn):
        receive = _receiver(worker, conn)

        def receive_then_die(*args, **kwargs):
            request = receive(*args, **kwargs)
            marker = Path(os.environ["POOLTEST_DIR"]) / "died-on-read"
            if request is not None and not marker.exists():
                marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return request
        return receive_then_die

    Worker._make_protected_receive = _dying_receiver

app = make_celery("pooltest", settings=Settings.from_env(), default_queue="pooltest")


@app.task(name="pooltest.touch")
def touch(name: str, seconds: float = 0.0) -> None:
    """Leave a file named `name` after `seconds`: the proof that the task ran to its end."""
    done = Path(os.environ["POOLTEST_DIR"])
    (done / f"{name}.started").write_text(str(os.getpid()))
    time.sleep(seconds)
    (done / name).write_text(str(os.getpid()))
