"""A minimal Celery app on embedded mode's broker and pool, for test_embedded_broker's real workers."""
from __future__ import annotations

import os
import time
from pathlib import Path

from shared.celery import make_celery
from shared.config import Settings

app = make_celery("pooltest", settings=Settings.from_env(), default_queue="pooltest")


@app.task(name="pooltest.touch")
def touch(name: str, seconds: float = 0.0) -> None:
    """Leave a file named `name` after `seconds`: the proof that the task ran to its end."""
    done = Path(os.environ["POOLTEST_DIR"])
    (done / f"{name}.started").write_text(str(os.getpid()))
    time.sleep(seconds)
    (done / name).write_text(str(os.getpid()))
