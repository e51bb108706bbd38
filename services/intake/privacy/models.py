"""What is kept of an erased application: a tombstone, and anonymous counts for the programme's statistics."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.db import Base
from shared.db import utcnow


class Tombstone(Base):
    """An erased application: no name, address, birth date, document or free text; the nationality's region at most."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    final_status: Mapped[str] = mapped_column(String(20))
    departments: Mapped[list]
    region: Mapped[str | None] = mapped_column(String(40))
    submitted_at: Mapped[datetime | None]
    last_status_at: Mapped[datetime | None]
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    # `applicant`, `retention`, or the admin's reason; who asked is in review's audit log
    reason: Mapped[str] = mapped_column(String(500))


class ErasedCount(Base):
    """How many erased applications of a call had a value (a department, status, ...): counts only, never rows."""

    __tablename__ = "erased_counts"
    __table_args__ = (UniqueConstraint("call_id", "dimension", "value", name="uq_erased_counts_call_dimension_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    dimension: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(default=0)
