"""The department dashboard's figures and the CSV export of a filtered list."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.review.applications.service import export_rows, filtered, flagged_duplicate
from services.review.i18n import country_label, department_label, session_label, status_label
from shared.auth import StaffIdentity

# the score histogram's buckets: half points over the rubric's 1-5 range
BUCKET_WIDTH = 0.5
SCORE_RANGE = (1.0, 5.0)
# a spreadsheet runs a cell that starts with one of these as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("reference", "status", "submitted_at", "name", "nationality", "session", "departments",
               "eligible", "duplicate", "score", "score_spread", "reviews_done", "reviews_assigned")


@dataclass(frozen=True)
class Bucket:
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class Dashboard:
    department: str
    counts: dict[str, int]
    reviews_done: int
    reviews_outstanding: int
    scored: int
    buckets: list[Bucket]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def tallest(self) -> int:
        return max((b.count for b in self.buckets), default=0)


def departments_for(staff: StaffIdentity, all_codes) -> list[str]:
    """The departments whose dashboard `staff` may see: all for an admin, their own otherwise."""
    return list(all_codes) if staff.is_admin else [code for code in all_codes if code in staff.departments]


def dashboard(*, session: Session, staff: StaffIdentity, department: str) -> Dashboard:
    """Counts by status, reviews done and outstanding, and the score histogram of one department."""
    in_department = filtered(session=session, staff=staff, department=department).subquery()
    counts: dict[str | None, int] = dict(session.execute(
        select(in_department.c.status, func.count()).group_by(in_department.c.status)).all())
    done, assigned = session.execute(select(func.coalesce(func.sum(in_department.c.reviews_done), 0),
                                            func.coalesce(func.sum(in_department.c.reviews_assigned), 0))).one()
    scores = list(session.scalars(select(in_department.c.score).where(in_department.c.score.is_not(None))))
    return Dashboard(department=department, counts={k or "unknown": v for k, v in counts.items()},
                     reviews_done=done, reviews_outstanding=max(0, assigned - done), scored=len(scores),
                     buckets=histogram(scores))


def histogram(scores: list[float]) -> list[Bucket]:
    """Scores counted in half-point buckets from 1 to 5; the last bucket includes 5."""
    low, high = SCORE_RANGE
    edges = [low + i * BUCKET_WIDTH for i in range(int((high - low) / BUCKET_WIDTH) + 1)]
    counts = [0] * (len(edges) - 1)
    for score in scores:
        index = min(max(int((score - low) // BUCKET_WIDTH), 0), len(counts) - 1)
        counts[index] += 1
    return [Bucket(edges[i], edges[i + 1], counts[i]) for i in range(len(counts))]


def neutralise(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(*, session: Session, staff: StaffIdentity, blind: bool, **filters) -> Iterator[str]:
    """The filtered list as CSV, a header then one line per application, produced as the rows are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # the labels of one export are in one language: each is looked up once
    status, country, session_name, department = (cache(label) for label in (
        status_label, country_label, session_label, department_label))

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for count, (a, codes) in enumerate(export_rows(session=session, staff=staff, **filters), start=1):
        writer.writerow([neutralise(cell) for cell in (
            a.reference, status(a.status), a.submitted_at.isoformat() if a.submitted_at else "",
            "" if blind else a.name, "" if blind else country(a.nationality), session_name(a.session),
            "; ".join(department(code) for code in codes), {True: "yes", False: "no"}.get(a.eligible, ""),
            "yes" if flagged_duplicate(a) else "no", "" if a.score is None else f"{a.score:.2f}",
            "" if a.score_spread is None else f"{a.score_spread:.2f}", a.reviews_done, a.reviews_assigned)])
        if count % 200 == 0:
            yield flush()
    yield flush()
