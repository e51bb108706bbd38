"""Decisions: recorded (revisable), then released to intake."""
from datetime import datetime

from sqlalchemy import ColumnElement, String, Text, exists
from sqlalchemy.orm import Mapped, mapped_column

from services.review.db import Base
from shared.db import utcnow


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    # Raised by every revision: a release confirms the version the admin saw, never a later one.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    reason_code: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(254))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(index=True)
    released_by: Mapped[str | None] = mapped_column(String(254))

    @property
    def released(self) -> bool:
        return self.released_at is not None


class DecisionProposal(Base):
    """A coordinator's proposed decision, for an admin to accept or override; open until a decision follows."""
    __tablename__ = "decision_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    # raised by every revision: an acceptance takes the version the admin saw, never a later one
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    reason_code: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(254))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)


def proposal_open() -> ColumnElement[bool]:
    """A proposal no decision has settled yet: none recorded, or the last one recorded before it."""
    return ~exists().where(Decision.reference == DecisionProposal.reference,
                           Decision.decided_at >= DecisionProposal.proposed_at)
