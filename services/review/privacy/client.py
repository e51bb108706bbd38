"""Review's calls to intake's privacy API (`/internal/v1/privacy/...`, bearer `PRIVACY_API_KEY`)."""
from __future__ import annotations

import requests

from shared.config import Settings
from shared.web import ApiError

TIMEOUT = 30.0


class IntakePrivacy:
    def __init__(self, settings: Settings):
        if not settings.privacy_api_key:
            raise ApiError(409, "privacy_api_not_configured", "PRIVACY_API_KEY is not set: intake cannot be asked.")
        self.base = (settings.intake_sync_url or settings.intake_url).rstrip("/") + "/internal/v1/privacy"
        self.headers = {"Authorization": f"Bearer {settings.privacy_api_key}"}

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = requests.request(method, f"{self.base}{path}", headers=self.headers, timeout=TIMEOUT, **kwargs)
        except requests.RequestException:
            raise ApiError(503, "intake_unavailable", "Intake cannot be reached; nothing was changed. "
                                                      "Try again shortly.") from None
        if response.status_code in (404, 410, 422):
            error = _error_of(response)
            raise ApiError(response.status_code, error.get("code", "intake_refused"),
                           error.get("message", "Intake refused the request."), error.get("fields"))
        if response.status_code != 200:
            raise ApiError(503, "intake_unavailable", f"Intake answered {response.status_code}; nothing was changed.")
        return response

    def erase(self, reference: str, *, reason: str) -> dict:
        return self._call("POST", f"/applications/{reference}/erase", json={"reason": reason}).json()

    def export(self, reference: str) -> bytes:
        return self._call("GET", f"/applications/{reference}/export").content

    def statistics(self, call: str | None = None) -> dict:
        return self._call("GET", "/statistics", params={"call": call} if call else None).json()


def _error_of(response: requests.Response) -> dict:
    try:
        return response.json().get("error") or {}
    except ValueError:
        return {}
