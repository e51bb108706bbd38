"""Every model of the notify service, so Alembic sees the whole schema."""
from services.notify.db import INBOX, OUTBOX, Base  # noqa: F401
from services.notify.deliveries.models import Delivery, DeliveryAction  # noqa: F401
from services.notify.staff.models import ApplicationDepartment, Assignment  # noqa: F401
from services.notify.privacy.models import ErasedReference  # noqa: F401
