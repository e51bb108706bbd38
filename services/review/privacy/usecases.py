"""Admin erasure and export: intake acts, review records who asked and why. Each use case commits once."""
from __future__ import annotations

import io
import json
import logging
import zipfile
from datetime import datetime

from sqlalchemy.orm import Session

from services.review.audit import service as audit
from services.review.privacy.client import IntakePrivacy
from services.review.privacy.service import access_log, anonymise
from shared.auth import StaffIdentity

log = logging.getLogger(__name__)


def erase(*, session: Session, intake: IntakePrivacy, staff: StaffIdentity, reference: str, reason: str) -> dict:
    """Ask intake to erase the person, anonymise review's copy at once (the event will find it done), audit it."""
    erased = intake.erase(reference, reason=reason)
    anonymise(session=session, reference=reference, erased_at=datetime.fromisoformat(erased["erased_at"]))
    audit.record(session=session, actor=staff.email, action="application.erased", reference=reference,
                 details={"reason": reason})
    session.commit()
    log.info("erasure requested by an admin", extra={"reference": reference})
    return erased


def export(*, session: Session, intake: IntakePrivacy, staff: StaffIdentity, reference: str) -> bytes:
    """Intake's zip of the person's data, with review's log of who viewed it (this export included)."""
    data = intake.export(reference)
    audit.record(session=session, actor=staff.email, action="application.exported", reference=reference)
    session.flush()
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("access_log.json", json.dumps(access_log(session=session, reference=reference), indent=2))
    session.commit()
    return buffer.getvalue()
