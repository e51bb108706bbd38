"""Events and worker processes for the bus tests."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from shared.config import KEYS
from shared.events import make_event, sign_event
from shared.keys import generate_signing_key, public_key_pem

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def envelope(event_type: str, data: dict, *, at: datetime) -> dict:
    event = make_event(event_type, data, producer="intake")
    event["occurred_at"] = at.isoformat()
    return sign_event(event)


def submitted(reference: str, *, departments=("it",), at: datetime = T0) -> dict:
    return envelope("application.submitted", {
        "reference": reference, "departments": list(departments), "submitted_at": at,
        "applicant": {"given_name": "Ana", "family_name": "Petrova", "nationality": "BG",
                      "date_of_birth": date(2002, 5, 17), "session": "september",
                      "education": {"institution": "Sofia University", "degree_level": "master",
                                    "field_of_study": "Computer science", "status": "enrolled",
                                    "year_of_study": 4},
                      "languages": {"en": "C1", "fr": "B1"}, "correspondence_language": "en"},
    }, at=at)


def checked(reference: str, *, at: datetime = T0) -> dict:
    return envelope("application.checked", {"reference": reference, "eligible": True, "complete": True,
                                            "problems": []}, at=at)


def dossier_rendered(reference: str, *, at: datetime = T0) -> dict:
    return envelope("dossier.rendered", {"reference": reference, "dossier_key": f"dossiers/{reference}.pdf",
                                         "pages": 4, "sha256": "ab" * 32}, at=at)


def status_changed(reference: str, new: str, *, old: str | None = "checking", at: datetime = T0,
                   email: str = "ana@example.org") -> dict:
    return envelope("application.status_changed", {
        "reference": reference, "old": old, "new": new, "reason": None,
        "email": email, "name": "Ana Petrova", "language": "en"}, at=at)


def life_of(reference: str) -> list[dict]:
    """The four events review gets for an application that reaches review with its dossier."""
    return [submitted(reference), checked(reference, at=T0 + timedelta(minutes=1)),
            status_changed(reference, "under_review", at=T0 + timedelta(minutes=1)),
            dossier_rendered(reference, at=T0 + timedelta(minutes=2))]


def key_environment() -> dict:
    """Every key a production-mode service may require, fresh and distinct; the events' pairs are this test run's
    (tests/conftest.py), so the events a test builds verify in the workers."""
    from tests.conftest import TEST_EVENT_KEYS

    env = {}
    signing = generate_signing_key()
    for name, variable in KEYS.items():
        if name in TEST_EVENT_KEYS:
            env[variable] = TEST_EVENT_KEYS[name]
        elif name == "staff_signing_key":
            env[variable] = signing
        elif name == "staff_verify_key":
            env[variable] = public_key_pem(signing)
        else:
            env[variable] = secrets.token_urlsafe(48)
    return env


class Worker:
    """A real `celery worker` process, its output kept in a log file."""

    def __init__(self, app: str, queue: str, env: dict, log_path: Path, *, concurrency: int = 2):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        full_env = {**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"}
        full_env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            [str(BIN / "celery"), "-A", app, "worker", "-Q", queue, "--pool", "prefork",
             "--concurrency", str(concurrency), "--loglevel", "INFO", "-n", f"test-{os.getpid()}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited ({self.process.returncode}):\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self._log.close()
