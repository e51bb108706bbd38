"""Every intake table, for the app and for Alembic."""
from services.intake.access.models import Draft, HeldUpload  # noqa: F401
from services.intake.applications.models import Application, Document, StatusChange  # noqa: F401
from services.intake.db import INBOX, OUTBOX, Base  # noqa: F401
from services.intake.portal.models import PortalLink  # noqa: F401
from services.intake.programme.models import Call  # noqa: F401
from services.intake.privacy.models import ErasedCount, Tombstone  # noqa: F401
