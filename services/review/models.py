"""Every model of the review service, so Alembic sees the whole schema."""
from services.review.db import INBOX, OUTBOX, Base  # noqa: F401
from services.review.accounts.models import User  # noqa: F401
from services.review.applications.models import Application, ApplicationDepartment  # noqa: F401
from services.review.audit.models import AuditEntry  # noqa: F401
from services.review.decisions.models import Decision  # noqa: F401
from services.review.reviews.models import Assignment, Review, ReviewSettings  # noqa: F401
