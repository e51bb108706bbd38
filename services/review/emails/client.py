"""Review's calls to notify's staff API (`NOTIFY_URL`), as the signed-in staff member."""
from __future__ import annotations

import logging

import requests

from shared.auth import StaffIdentity, issue_staff_token
from shared.config import Settings

log = logging.getLogger(__name__)
TIMEOUT = 10.0
# minted per call and used at once: a minute is plenty and limits what a leaked one could do
TOKEN_TTL = 60


class NotifyUnavailable(Exception):
    """Notify could not be reached or answered with an error of its own."""


class NotifyRefused(Exception):
    """Notify refused the request (4xx): its error code and message, for the user."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NotifyClient:
    def __init__(self, settings: Settings, staff: StaffIdentity):
        self.base = settings.notify_url.rstrip("/") + "/api/v1"
        assert settings.staff_signing_key, "review refuses to start without STAFF_SIGNING_KEY"
        token = issue_staff_token(settings.staff_signing_key, staff, ttl=TOKEN_TTL)
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = requests.request(method, self.base + path, headers=self.headers, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            log.warning("notify unreachable", extra={"error": type(exc).__name__})
            raise NotifyUnavailable from None
        if 400 <= response.status_code < 500:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {}
            raise NotifyRefused(response.status_code, error.get("code", "refused"),
                                error.get("message", "Notify refused the request."))
        if response.status_code >= 300:
            log.warning("notify answered an error", extra={"status": response.status_code})
            raise NotifyUnavailable
        return response.json()

    def deliveries(self, *, reference: str | None = None, state: str | None = None, page: int = 1) -> dict:
        params = {"reference": reference, "state": state, "page": page, "per_page": 100}
        return self._call("GET", "/notifications", params={k: v for k, v in params.items() if v is not None})

    def resend(self, delivery_id: int, *, email: str | None) -> dict:
        return self._call("POST", f"/notifications/{delivery_id}/resend", json={"email": email} if email else {})

    def templates(self) -> dict:
        return self._call("GET", "/templates")
