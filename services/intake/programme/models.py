from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.db import Base


class Call(Base):
    """One call for applications, with every rule configurable per call."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # in English: for staff, the dossier and the API's `name`
    names: Mapped[dict] = mapped_column(default=dict)  # {"en", "fr"}: what applicants read, like departments' names
    deadline: Mapped[datetime]
    is_open: Mapped[bool] = mapped_column(default=True)
    sessions: Mapped[list]
    departments: Mapped[list]  # [{"code", "name": {"en", "fr"}}]
    documents: Mapped[list]  # [{"kind", "required", "types", "max_bytes", "max_pages"}]
    languages: Mapped[list]
    rules: Mapped[dict]

    def name_in(self, language: str) -> str:
        """The call's name for a reader of `language`; the English one when it has none in that language."""
        return self.names.get(language) or self.name

    def document_rule(self, kind: str) -> dict | None:
        return next((d for d in self.documents if d["kind"] == kind), None)
