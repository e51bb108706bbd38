"""Assignments of reviewers to applications, their reviews and the call's review settings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from services.review.db import Base
from shared.db import utcnow

RECOMMENDATIONS = ("shortlisted", "reserve", "rejected")
DEFAULT_REVIEWERS_PER_APPLICATION = 2


class Assignment(Base):
    """One reviewer asked to score one application, on behalf of one of its departments."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), ForeignKey("applications.reference", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    # null when the assignment was made automatically on entering under_review
    assigned_by: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (
        UniqueConstraint("reference", "reviewer_id", name="uq_assignments_reference_reviewer_id"),
        Index("ix_assignments_reviewer_id_reference", "reviewer_id", "reference"),
    )


class Review(Base):
    """A reviewer's scores, comment and recommendation for an application: one per reviewer."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), ForeignKey("applications.reference", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # {criterion code: integer}, as scored against the rubric in force at the time
    scores: Mapped[dict]
    # the weighted mean of `scores`, kept so the application's score is recomputed without the rubric
    aggregate: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")
    recommendation: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("reference", "reviewer_id", name="uq_reviews_reference_reviewer_id"),
        Index("ix_reviews_reviewer_id", "reviewer_id"),
    )


class ReviewSettings(Base):
    """The call's review settings: a single row (id 1), created with the defaults on first use."""

    __tablename__ = "review_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewers_per_application: Mapped[int] = mapped_column(default=DEFAULT_REVIEWERS_PER_APPLICATION,
                                                           server_default=str(DEFAULT_REVIEWERS_PER_APPLICATION))
    blind_round: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(254))
