"""The review service's event consumer (queue `review.events`)."""
from __future__ import annotations

from services.review.applications.events import HANDLERS
from services.review.db import DEAD_LETTERS, INBOX, db
from shared.bus import consume
from shared.bus.consumer import event_consumer


@event_consumer(name="review.handle_event", service="review", database=db, dead_letters=DEAD_LETTERS)
def handle_event(envelope: dict) -> bool:
    """Apply one event to the read model, exactly once; False when seen before.

    Failures are retried, then dead-lettered (never dropped): see shared.bus.consumer.
    """
    return consume(session=db.session, inbox=INBOX, envelope=envelope, handlers=HANDLERS)


from services.review.applications import reconcile  # noqa: E402,F401  (registers review.reconcile)
