"""The read model of applications, built from intake's events."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.review.db import Base
from shared.db import utcnow

STATUSES = ("submitted", "under_review", "incomplete", "ineligible",
            "shortlisted", "reserve", "rejected", "withdrawn")


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str | None] = mapped_column(String(20), index=True)
    # occurred_at of the last applied status change; older events arriving late are ignored
    status_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    given_name: Mapped[str | None] = mapped_column(String(150))
    family_name: Mapped[str | None] = mapped_column(String(150))
    email: Mapped[str | None] = mapped_column(String(254))
    nationality: Mapped[str | None] = mapped_column(String(2))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    correspondence_language: Mapped[str | None] = mapped_column(String(2))
    session: Mapped[str | None] = mapped_column(String(16))
    education: Mapped[dict | None]
    languages: Mapped[dict | None]
    eligible: Mapped[bool | None]
    complete: Mapped[bool | None]
    problems: Mapped[list] = mapped_column(default=list)
    checked_at: Mapped[datetime | None]
    dossier_key: Mapped[str | None] = mapped_column(String(255))
    dossier_pages: Mapped[int | None]
    dossier_sha256: Mapped[str | None] = mapped_column(String(64))
    blind_dossier_key: Mapped[str | None] = mapped_column(String(255))
    blind_dossier_pages: Mapped[int | None]
    blind_dossier_sha256: Mapped[str | None] = mapped_column(String(64))
    # when intake announced the render shown: a redelivered older announcement must not replace a newer one
    dossier_rendered_at: Mapped[datetime | None]
    # documents the render could not include, for staff: [{code, message}]
    dossier_flags: Mapped[list] = mapped_column(default=list)
    # kept by the reviews service on every review write: weighted aggregate (null until a review is in),
    # spread (max - min of reviewers' aggregates), reviews in and reviewers assigned
    score: Mapped[float | None] = mapped_column(index=True)
    score_spread: Mapped[float | None]
    reviews_done: Mapped[int] = mapped_column(default=0)
    reviews_assigned: Mapped[int] = mapped_column(default=0)
    # set by `application.erased` (services/review/privacy): the person is gone, the numbers stay
    erased_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    departments: Mapped[list[ApplicationDepartment]] = relationship(
        order_by="ApplicationDepartment.rank", cascade="all, delete-orphan", lazy="selectin")

    # PostgreSQL only (migration 0005): trigram indexes for the list's search (lower(...) LIKE '%q%'), and its
    # newest-first and best-first orders with the gaps last
    __table_args__ = (
        Index("ix_applications_lower_name", func.lower(name).label("lower_name"), postgresql_using="gin",
              postgresql_ops={"lower_name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        Index("ix_applications_lower_reference", func.lower(reference).label("lower_reference"),
              postgresql_using="gin", postgresql_ops={"lower_reference": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        Index("ix_applications_submitted_at_desc", submitted_at.desc().nulls_last(),
              id.desc()).ddl_if(dialect="postgresql"),
        Index("ix_applications_score_desc", score.desc().nulls_last(), id.desc()).ddl_if(dialect="postgresql"),
    )

    @property
    def department_codes(self) -> list[str]:
        return [d.department for d in self.departments]

    @property
    def display_name(self) -> str:
        return self.name or "(name not yet known)"

    @property
    def dossier_ready(self) -> bool:
        return self.dossier_key is not None


class ApplicationDepartment(Base):
    """One of the departments an applicant ranked, for scoping and filtering."""

    __tablename__ = "application_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(
        String(32), ForeignKey("applications.reference", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int]

    __table_args__ = (
        UniqueConstraint("reference", "department", name="uq_application_departments_reference_department"),
        Index("ix_application_departments_department", "department", "reference"),
    )
