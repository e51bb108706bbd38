"""The review service's event consumer (queue `review.events`)."""
from __future__ import annotations

from services.review.applications.events import HANDLERS
from services.review.db import DEAD_LETTERS, INBOX, db
from services.review.privacy.service import on_erased, unless_erased
from shared.bus import consume
from shared.bus.consumer import event_consumer

# an erased application stays erased whatever arrives late; `application.erased` anonymises (services/review/privacy)
PRIVACY_AWARE_HANDLERS = {**{kind: unless_erased(handler) for kind, handler in HANDLERS.items()},
                          "application.erased": on_erased}


@event_consumer(name="review.handle_event", service="review", database=db, dead_letters=DEAD_LETTERS)
def handle_event(envelope: dict) -> bool:
    """Apply one event to the read model, exactly once; False when seen before.

    Failures are retried, then dead-lettered (never dropped): see shared.bus.consumer.
    """
    return consume(session=db.session, inbox=INBOX, envelope=envelope, handlers=PRIVACY_AWARE_HANDLERS)


from services.review.applications import reconcile  # noqa: E402,F401  (registers review.reconcile)
