from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.db import Base
from shared.db import utcnow


class Draft(Base):
    """A form saved before submission: not an application, never published, purged when left too long."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # reserved for the application this draft becomes, so the emails about both carry one reference
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2))
    # the form's fields as typed, judged only at submission
    values: Mapped[dict]
    # kind -> {"key", "filename"}: uploads already inspected and stored
    documents: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)


class HeldUpload(Base):
    """A valid file sent with a form that was refused, kept so the applicant need not attach it again.

    The form carries an opaque random id for it; only that id's sha256 is kept, so the table alone opens nothing.
    Purged with the drafts, a day after it was sent.
    """

    __tablename__ = "held_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    # where the (encrypted) bytes are in the document store
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
