import threading
import time
import weakref
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached

from services.intake.programme.defaults import NIP_2027
from services.intake.programme.models import Call
from shared.web import ApiError

# The open call changes a few times a year but was read by every submission: each process keeps a detached
# copy per database for a few seconds. The deadline itself is still compared with the clock on every request.
CALL_CACHE_SECONDS = 10.0
_cached: "weakref.WeakKeyDictionary[object, tuple[float, Call]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def open_call(*, session: Session) -> Call:
    """The call currently taking applications; 404 when there is none."""
    bind = session.get_bind()
    with _lock:
        hit = _cached.get(bind)
    if hit is not None and hit[0] > time.monotonic():
        # merge without load: attached to this session with no SQL; the copy in the cache stays untouched
        return session.merge(hit[1], load=False)
    call = session.scalars(select(Call).where(Call.is_open).order_by(Call.deadline.desc())).first()
    if call is None:
        raise ApiError(404, "no_open_call", "No call for applications is open.")
    snapshot = Call(**{column.key: getattr(call, column.key) for column in Call.__table__.columns})
    make_transient_to_detached(snapshot)
    with _lock:
        _cached[bind] = (time.monotonic() + CALL_CACHE_SECONDS, snapshot)
    return call


def forget_open_call() -> None:
    """Drop every cached call of this process (after the call is seeded or changed here)."""
    with _lock:
        _cached.clear()


def seed_call(*, session: Session, deadline: datetime, template: dict = NIP_2027) -> Call:
    """Create the call from its template, or update its deadline and rules; idempotent."""
    call = session.scalars(select(Call).where(Call.code == template["code"])).first()
    if call is None:
        call = Call(code=template["code"])
        session.add(call)
    for field in ("name", "names", "sessions", "languages", "departments", "documents", "rules"):
        setattr(call, field, template[field])
    call.deadline = deadline
    call.is_open = True
    session.flush()
    forget_open_call()
    return call
