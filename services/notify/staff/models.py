"""Scoping facts learnt from events: an application's departments, a reviewer's assignments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.db import Base


class ApplicationDepartment(Base):
    """One department of an application (from `application.status_changed`): coordinators' scope."""

    __tablename__ = "application_departments"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(32), primary_key=True)


class Assignment(Base):
    """One `review.assigned` event: a reviewer's scope, and a line of their next digest."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    reference: Mapped[str] = mapped_column(String(64), index=True)
    reviewer_id: Mapped[int] = mapped_column(index=True)
    reviewer_email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    assigned_at: Mapped[datetime]
    # set in the transaction that records the digest email: an assignment is listed in one digest only
    digested_at: Mapped[datetime | None]
