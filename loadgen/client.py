"""Send synthetic applications to a running intake, concurrently, retrying transient failures safely."""
from __future__ import annotations

import collections
import json
import logging
import random
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import requests

from loadgen import Submitted, Summary
from loadgen.documents import DEFAULT_SIZE
from loadgen.generate import INCOMPLETE_CODES, Plan, make_files, plan_application
from services.intake.applications.service import name_key

log = logging.getLogger(__name__)
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
EXPECTED_STATUS = {"eligible": "under_review", "ineligible": "ineligible", "incomplete": "incomplete"}


def fetch_programme(intake_url: str, *, timeout: float, retries: int) -> dict:
    for attempt in range(retries + 1):
        try:
            response = requests.get(f"{intake_url}/api/v1/programme", timeout=timeout)
        except TRANSIENT_ERRORS:
            if attempt == retries:
                raise
        else:
            if response.status_code not in TRANSIENT_STATUSES:
                response.raise_for_status()
                return response.json()
        time.sleep(_backoff(attempt))
    raise RuntimeError(f"{intake_url}/api/v1/programme is unavailable")


def plan_run(*, count: int, ineligible_share: float, incomplete_share: float, seed: int, programme: dict,
             nonce: str) -> list[Plan]:
    """Every application of the run, seeded; people are distinct (email, and name + date of birth)."""
    rng = random.Random(seed)
    ineligible = round(count * ineligible_share)
    incomplete = min(round(count * incomplete_share), count - ineligible)
    kinds = ["ineligible"] * ineligible + ["incomplete"] * incomplete
    kinds += ["eligible"] * (count - len(kinds))
    rng.shuffle(kinds)
    plans, people = [], set()
    for serial, kind in enumerate(kinds):
        while True:
            plan = plan_application(rng, kind=kind, programme=programme, email_tag=f"{nonce}{serial}")
            person = (name_key(plan.payload["given_name"], plan.payload["family_name"]), plan.payload["date_of_birth"])
            if person not in people:
                people.add(person)
                plans.append(plan)
                break
    return plans


def _backoff(attempt: int) -> float:
    return min(0.5 * 2 ** attempt, 8.0) * random.uniform(0.8, 1.2)


class _Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.started = total, enabled, time.monotonic()
        self.last = 0.0

    def update(self, done: int, accepted: int, refused: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.2):
            return
        self.last = now
        width = 30
        filled = int(width * done / max(self.total, 1))
        rate = done / max(now - self.started, 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}  accepted {accepted}  "
                         f"refused {refused}  {rate:.1f}/s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def submit(intake_url: str, *, count: int, concurrency: int = 4, ineligible_share: float = 0.1,
           incomplete_share: float = 0.1, seed: int = 0, progress: bool = False, timeout: float = 30,
           retries: int = 3, doc_size: int = DEFAULT_SIZE,
           on_accepted: Callable[[Submitted], None] | None = None) -> Summary:
    """Send `count` synthetic applications to intake at `intake_url` and summarise what happened.

    Each application has its own Idempotency-Key, reused when a transient failure (connection refused or
    reset, timeout, 429/502/503/504) is retried, so a retry never creates a second application.
    """
    intake_url = intake_url.rstrip("/")
    if not 0 <= ineligible_share + incomplete_share <= 1:
        raise ValueError("ineligible_share + incomplete_share must be between 0 and 1")
    nonce = secrets.token_hex(3)  # two runs with the same seed still send different people
    programme = fetch_programme(intake_url, timeout=timeout, retries=retries)
    plans = plan_run(count=count, ineligible_share=ineligible_share, incomplete_share=incomplete_share,
                     seed=seed, programme=programme, nonce=nonce)
    local = threading.local()
    lock = threading.Lock()
    summary = Summary(sent=0, accepted=[], refused=collections.Counter(), seconds=0.0)
    bar = _Progress(count, progress)

    def one(serial_plan: tuple[int, Plan]) -> None:
        serial, plan = serial_plan
        if not hasattr(local, "session"):
            local.session = requests.Session()
        files = make_files(plan, doc_size=doc_size)
        began = time.monotonic()
        outcome, body, retried = _post(local.session, f"{intake_url}/api/v1/applications", plan, files,
                                       key=f"loadgen-{nonce}-{serial}", timeout=timeout, retries=retries)
        elapsed = time.monotonic() - began
        submitted = None
        with lock:
            summary.sent += 1
            summary.retries += retried
            summary.latencies.append(elapsed)
            if outcome == 201:
                submitted = Submitted(reference=body["reference"], token=body["token"], email=plan.payload["email"],
                                      expected=EXPECTED_STATUS[plan.kind],
                                      language=plan.payload["correspondence_language"])
                summary.accepted.append(submitted)
            else:
                summary.refused[outcome] += 1
                if not (plan.kind == "incomplete" and outcome in INCOMPLETE_CODES):
                    summary.unexpected[outcome] += 1
                    log.warning("application refused unexpectedly", extra={"kind": plan.kind, "outcome": outcome})
            bar.update(summary.sent, len(summary.accepted), sum(summary.refused.values()))
        if submitted is not None and on_accepted is not None:
            on_accepted(submitted)

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="loadgen") as pool:
            for _ in pool.map(one, enumerate(plans)):
                pass
    finally:
        summary.seconds = time.monotonic() - started
        bar.update(summary.sent, len(summary.accepted), sum(summary.refused.values()), force=True)
        bar.close()
    return summary


def _post(session: requests.Session, url: str, plan: Plan, files: dict, *, key: str, timeout: float,
          retries: int) -> tuple[int | str, dict | None, int]:
    """(201 or the refusal's code, the body, how many retries it took)."""
    outcome: int | str = "connection_error"
    for attempt in range(retries + 1):
        try:
            response = session.post(url, data={"application": json.dumps(plan.payload, ensure_ascii=False)},
                                    files=files, headers={"Idempotency-Key": key}, timeout=timeout)
        except TRANSIENT_ERRORS as exc:
            outcome = "timeout" if isinstance(exc, requests.Timeout) else "connection_error"
        else:
            if response.status_code == 201:
                return 201, response.json(), attempt
            outcome = _error_code(response)
            if response.status_code not in TRANSIENT_STATUSES:
                return outcome, None, attempt
        if attempt < retries:
            time.sleep(_backoff(attempt))
    return outcome, None, retries


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
