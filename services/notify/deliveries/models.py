"""The delivery log: one row per email, at most one per event; and what staff did to a delivery."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.db import Base
from shared.db import utcnow

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATES = (PENDING, SENT, FAILED)
# who an email is for: a candidate (status changes, access links) or a staff member (the daily digest)
APPLICANT, STAFF = "applicant", "staff"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # unique: never two emails for one status change, however often the event is delivered
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    # none for a staff digest, which is about several applications
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=APPLICANT, server_default=APPLICANT)
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


class DeliveryAction(Base):
    """The audit trail of staff actions on a delivery (an admin's resend)."""

    __tablename__ = "delivery_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int]
    staff_email: Mapped[str] = mapped_column(String(320))
    # whether the address changed, never the addresses themselves: the delivery row holds the current one
    address_changed: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
