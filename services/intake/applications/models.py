from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.intake.db import Base
from shared.db import utcnow


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        # one active application per address and call: a withdrawn one leaves room to apply again
        Index("uq_applications_call_email_active", "call_id", "email_normalized", unique=True,
              postgresql_where=text("status <> 'withdrawn'"), sqlite_where=text("status <> 'withdrawn'")),
        UniqueConstraint("call_id", "idempotency_key", name="uq_applications_call_idempotency_key"),
        Index("ix_applications_person", "call_id", "name_key", "date_of_birth"),
        Index("ix_applications_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    status: Mapped[str] = mapped_column(String(20))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    date_of_birth: Mapped[date]
    nationality: Mapped[str] = mapped_column(String(2))
    languages: Mapped[dict]
    education: Mapped[dict]
    departments: Mapped[list]
    session: Mapped[str] = mapped_column(String(20))
    motivation: Mapped[str] = mapped_column(Text)
    correspondence_language: Mapped[str] = mapped_column(String(2))
    consent_at: Mapped[datetime]
    # the privacy notice agreed to (services/intake/privacy/notices): its version and the sha256 of its text
    consent_version: Mapped[str | None] = mapped_column(String(20))
    consent_sha256: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    eligible: Mapped[bool | None]
    complete: Mapped[bool | None]
    problems: Mapped[list] = mapped_column(default=list)
    checked_at: Mapped[datetime | None]
    dossier_key: Mapped[str | None] = mapped_column(String(200))
    dossier_pages: Mapped[int | None]
    dossier_sha256: Mapped[str | None] = mapped_column(String(64))
    dossier_rendered_at: Mapped[datetime | None]
    # the blind variant beside it (no name, nationality, date of birth, email or photo in its summary)
    blind_dossier_key: Mapped[str | None] = mapped_column(String(200))
    blind_dossier_pages: Mapped[int | None]
    blind_dossier_sha256: Mapped[str | None] = mapped_column(String(64))
    # documents the dossier could not include ([{code, message}]): staff open those by hand
    dossier_flags: Mapped[list] = mapped_column(default=list, server_default="[]")
    # renders started and not finished since the last one that was: a document that gets its render killed
    # (hard time limit, memory) is left out after a few, instead of killing every render again
    dossier_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # the applicant's API token and portal sessions are valid for this version only: bumped by "sign me out
    # everywhere" and by withdrawal, it revokes every token and session issued before
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    history: Mapped[list["StatusChange"]] = relationship(
        back_populates="application", order_by="StatusChange.id", cascade="all, delete-orphan")
    documents: Mapped[list["Document"]] = relationship(
        back_populates="application", order_by="Document.id", cascade="all, delete-orphan")

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def document(self, kind: str) -> "Document | None":
        return next((d for d in self.documents if d.kind == kind), None)


class StatusChange(Base):
    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    old: Mapped[str | None] = mapped_column(String(20))
    new: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(back_populates="history")


class Document(Base):
    """An uploaded file: its content lives in the document store under `key`."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("application_id", "kind", name="uq_documents_application_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    pages: Mapped[int | None]
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # which inspector judged these bytes (documents.inspect.INSPECTOR): the check re-reads only what it did not
    inspected_by: Mapped[str | None] = mapped_column(String(40))

    application: Mapped[Application] = relationship(back_populates="documents")
