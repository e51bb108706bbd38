"""The applicant's session: started by a single-use link, bound to one application, ended by time or on demand.

Kept in Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure under https: pages.init_csrf), so nothing
secret is ever in an address. It is valid while the application's `token_version` is the one it was started
with: "sign me out everywhere" and withdrawal bump it, which ends every session at once.
"""
from __future__ import annotations

import time

from flask import current_app, session

from services.intake.applications.models import Application

KEY = "applicant"
# a draft's link opens the form with the draft in this browser alone; the form's address holds no secret either
DRAFT_KEY = "draft"


def start(application: Application) -> None:
    """A new session for `application` alone, replacing whatever the browser had (no fixation)."""
    session.clear()
    now = int(time.time())
    session[KEY] = {"reference": application.reference, "version": application.token_version,
                    "started": now, "seen": now}


def reference_signed_in() -> str | None:
    """The reference this browser's session is for, if the session has not timed out."""
    held = session.get(KEY)
    if not isinstance(held, dict):
        return None
    settings, now = current_app.config["SETTINGS"], int(time.time())
    idle = now - int(held.get("seen", 0)) > settings.applicant_session_idle_minutes * 60
    too_old = now - int(held.get("started", 0)) > settings.applicant_session_hours * 3600
    if idle or too_old:
        end()
        return None
    return str(held.get("reference"))


def holds(application: Application) -> bool:
    """Whether this browser's session opens `application` (and keep it alive if so)."""
    if reference_signed_in() != application.reference:
        return False
    held = session[KEY]
    if held.get("version") != application.token_version:
        return False
    held["seen"] = int(time.time())
    session.modified = True
    return True


def end() -> None:
    session.pop(KEY, None)


def start_draft(reference: str) -> None:
    """This browser now edits the draft `reference` (and holds no application's session)."""
    session.pop(KEY, None)
    session[DRAFT_KEY] = {"reference": reference, "started": int(time.time())}


def draft_reference() -> str | None:
    """The draft this browser edits, unless its session is older than the applicant sessions' absolute limit."""
    held = session.get(DRAFT_KEY)
    if not isinstance(held, dict):
        return None
    if int(time.time()) - int(held.get("started", 0)) > current_app.config["SETTINGS"].applicant_session_hours * 3600:
        end_draft()
        return None
    return str(held.get("reference"))


def end_draft() -> None:
    session.pop(DRAFT_KEY, None)
