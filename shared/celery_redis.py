"""Redis-mode workers: put back at once the messages Celery forgets when the broker connection drops.

When its broker connection breaks, a Celery worker forgets the tasks it had prefetched but not started and
the ones waiting for their countdown (Consumer.on_close: "they can't be acked anyway"), trusting the broker
to deliver them again, as AMQP does when a channel closes. kombu's Redis transport does not: it keeps them in
its unacked hash and re-delivers them only after the visibility timeout (an hour here), so a Redis restart
left applications `submitted` and events undelivered for that long.

RestoreForgottenOnConnect remembers the delivery tags of the task messages the worker received lately and,
each time the consumer (re)connects, puts back in their queues those still unacknowledged and not running.
Running tasks acknowledge on the new connection (Redis acks by tag, whichever connection sends it). A
restored task that was in fact about to run is run twice at worst, which every handler tolerates (the inbox,
status guards, row locks). The transport below keeps the worker alive through the drop (see Channel).
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from celery import bootsteps
from celery.signals import task_received
from celery.worker.state import active_requests
from kombu.transport import redis

log = logging.getLogger(__name__)

# Delivery tags of the task messages received lately, as plain strings (no reference keeps a request or a
# message alive). Restoring a tag that was acknowledged meanwhile does nothing: it is no longer unacked.
RECENT = 2000
_recent: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()


@task_received.connect(weak=False)
def _remember(request=None, **_kwargs) -> None:
    tag = getattr(getattr(request, "message", None), "delivery_tag", None)
    if tag is None:
        return
    with _lock:
        _recent[tag] = None
        while len(_recent) > RECENT:
            _recent.popitem(last=False)


class RestoreForgottenOnConnect(bootsteps.StartStopStep):
    """Consumer step, started after the task consumer on every (re)connection."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c):
        running = {getattr(r.message, "delivery_tag", None) for r in tuple(active_requests)}
        with _lock:
            candidates = [tag for tag in _recent if tag not in running]
            for tag in candidates:
                del _recent[tag]
        if not candidates:
            return
        # the task consumer's channel: a connection's default channel would be closed (and fail) at the next drop
        restore = getattr(c.task_consumer.channel.qos, "restore_by_tag", None)
        if restore is None:  # a broker that re-delivers by itself
            return
        for tag in candidates:
            restore(tag, leftmost=True)
        log.warning("re-queued the tasks dropped with the broker connection that were still unacknowledged",
                    extra={"checked": len(candidates)})


class Channel(redis.Channel):
    def __init__(self, *args, **kwargs):
        self._known_params: dict[bool, dict] = {}
        super().__init__(*args, **kwargs)

    def _connparams(self, asynchronous=False):
        # A task still running when the connection dropped acknowledges through its message's old channel,
        # whose transport is gone by then: reconnect with the parameters it had (AttributeError otherwise,
        # which stops the worker), so the ack reaches the restarted Redis.
        if getattr(self.connection, "client", None) is None and asynchronous in self._known_params:
            return dict(self._known_params[asynchronous])
        params = super()._connparams(asynchronous=asynchronous)
        self._known_params[asynchronous] = dict(params)
        return params

    def close(self):
        # After a connection loss Celery collects the connection (dropping the transport's client) and then
        # closes it: restoring the unacked messages through it fails with an AttributeError that stops the
        # worker for good. Nothing can be restored through a lost connection anyway: the messages stay in
        # Redis's unacked hash and RestoreForgottenOnConnect puts them back once connected again.
        if self._qos is not None and getattr(self.connection, "client", None) is None:
            self._qos._delivered.clear()
        super().close()


class Transport(redis.Transport):
    Channel = Channel
