"""Anonymous statistics of a call: counts per department, status, session, nationality and education level.

Live applications are counted as they are; erased ones through the counts kept at erasure, so the figures
do not drop when people exercise their rights.
"""
from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.applications.models import Application
from services.intake.privacy.erasure import statistics_values
from services.intake.privacy.models import ErasedCount
from services.intake.programme.models import Call

DIMENSIONS = ("department", "status", "session", "nationality", "education_level")


def call_statistics(*, session: Session, call: Call) -> dict:
    """`{"call", "total", "erased", "by": {dimension: {value: count}}}`, submitted applications only."""
    live: Counter = Counter()
    rows = session.scalars(select(Application).where(Application.call_id == call.id,
                                                     Application.submitted_at.is_not(None))
                           .execution_options(yield_per=500))
    for application in rows:
        live.update(statistics_values(application))
    erased = Counter({(row.dimension, row.value): row.count
                      for row in session.scalars(select(ErasedCount).where(ErasedCount.call_id == call.id))})
    by: dict[str, dict[str, int]] = defaultdict(dict)
    for (dimension, value), count in sorted((live + erased).items()):
        if dimension in DIMENSIONS:
            by[dimension][value] = count
    return {"call": call.code, "name": call.name, "total": (live + erased)[("total", "all")],
            "erased": erased[("total", "all")], "by": {d: by.get(d, {}) for d in DIMENSIONS}}
