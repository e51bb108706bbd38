"""The delivery log: one row per email, at most one per event."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.db import Base
from shared.db import utcnow

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATES = (PENDING, SENT, FAILED)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # unique: never two emails for one status change, however often the event is delivered
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    reference: Mapped[str] = mapped_column(String(64), index=True)
    transition: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    # rendered once when the event is handled, so every retry sends the very same message
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
