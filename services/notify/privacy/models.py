"""References whose person was erased: no email is recorded or sent for them again."""
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.notify.db import Base


class ErasedReference(Base):
    __tablename__ = "erased_references"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime]
