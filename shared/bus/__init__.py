"""The event bus: a transactional outbox, its relay to Celery queues, and the consumer inbox.

Delivery is at least once and effects exactly once: a producer writes messages to its `outbox`
table in the transaction of the state change; the relay publishes them and marks them sent; a
consumer records each handled event id in its `inbox` table in the transaction of the effect.
"""
from shared.bus.tables import dead_letter_table, inbox_table, outbox_table  # noqa: F401
from shared.bus.outbox import enqueue_task, publish_event  # noqa: F401
from shared.bus.inbox import consume  # noqa: F401
