"""The consumers' side of intake's read-only sync API, for reconciliation (see services/intake/sync)."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator

import requests

log = logging.getLogger(__name__)

TIMEOUT = 30
# events of an application intake touched this recently may still be in flight: not a divergence yet
SETTLE = timedelta(seconds=60)
ORDER = {"application.submitted": 0, "application.checked": 1, "application.status_changed": 2,
         "dossier.rendered": 3}


@dataclass
class ReconcileReport:
    """What one reconciliation run checked and repaired (and, where it could not, what still differs)."""

    checked: int = 0
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = f"reconciled: {self.checked} checked, {len(self.repaired)} repaired"
        if self.repaired:
            line += f" ({', '.join(self.repaired)})"
        if self.unrepaired:
            line += f"; still different: {', '.join(self.unrepaired)}"
        return line


def reconcile_job(reconcile: Callable[..., ReconcileReport], settings) -> dict:
    """A beat job's body: run `reconcile`; log, never raise, when intake cannot be read."""
    try:
        return dataclasses.asdict(reconcile(settings=settings))
    except SyncError as exc:
        log.error("reconciliation skipped", extra={"error": str(exc)})
        return {"error": str(exc)}


class SyncError(RuntimeError):
    """Intake's sync API could not be read (not configured, refused, or away)."""


class SyncClient:
    def __init__(self, base_url: str, key: str | None, *, session: requests.Session | None = None):
        if not key:
            raise SyncError("SYNC_API_KEY is not set")
        self.base_url = base_url.rstrip("/")
        self.http = session or requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def _get(self, path: str, **params) -> dict:
        try:
            response = self.http.get(f"{self.base_url}{path}", params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise SyncError(f"intake unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise SyncError(f"intake answered {response.status_code} for {path.split('?')[0]}")
        return response.json()

    def pages(self, *, size: int = 500) -> Iterator[list[dict]]:
        """Every submitted application, by reference, a page at a time."""
        after = ""
        while True:
            body = self._get("/internal/v1/applications", after=after, limit=size)
            yield body["items"]
            if not body["next"]:
                return
            after = body["next"]

    def event(self, event_id: str) -> dict:
        return self._get(f"/internal/v1/events/{event_id}")

    def events(self, refs: list[dict]) -> list[dict]:
        """The envelopes of `refs` ({"id", "type"}), in the order they must be applied."""
        ordered = sorted(enumerate(refs), key=lambda item: (ORDER.get(item[1]["type"], 9), item[0]))
        return [self.event(ref["id"]) for _, ref in ordered]


def settled(item: dict, now: datetime, settle: timedelta = SETTLE) -> bool:
    return datetime.fromisoformat(item["updated_at"]) <= now - settle
