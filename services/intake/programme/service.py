from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.programme.defaults import NIP_2027
from services.intake.programme.models import Call
from shared.web import ApiError


def open_call(*, session: Session) -> Call:
    """The call currently taking applications; 404 when there is none."""
    call = session.scalars(select(Call).where(Call.is_open).order_by(Call.deadline.desc())).first()
    if call is None:
        raise ApiError(404, "no_open_call", "No call for applications is open.")
    return call


def seed_call(*, session: Session, deadline: datetime, template: dict = NIP_2027) -> Call:
    """Create the call from its template, or update its deadline and rules; idempotent."""
    call = session.scalars(select(Call).where(Call.code == template["code"])).first()
    if call is None:
        call = Call(code=template["code"])
        session.add(call)
    for field in ("name", "sessions", "languages", "departments", "documents", "rules"):
        setattr(call, field, template[field])
    call.deadline = deadline
    call.is_open = True
    session.flush()
    return call
