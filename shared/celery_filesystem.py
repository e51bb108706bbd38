"""kombu's filesystem transport (embedded mode's broker) made safe for concurrent processes and crashes.

kombu's own filesystem Channel has two faults that lose or poison work under a burst:
- a producer creates the message file under its final name and only then writes it: a consumer polling at
  that moment moves and reads an empty or partial file, and the JSONDecodeError stops the worker for good;
- a consumer deletes a message file as soon as it reads it: a message the worker prefetched or is running
  (acks late) lives only in that process's memory, so a worker process that dies loses it.

Here a message is written under a name no consumer matches and renamed into place (a reader sees it whole or
not at all), and a consumer *claims* a message by renaming it into its own claims folder, deleting it only on
ack (or once a reject has re-queued it). A claims folder is owned through an flock(2) lock the kernel drops when
its process dies; a consumer starting up puts the messages of dead owners back in the queue, as a broker
re-delivers the unacknowledged messages of a lost connection.

And a worker whose prefetch is full (a render worker holds one message at a time) waits for a free slot rather
than a whole polling interval: kombu sleeps the interval after every "nothing to take", so each task used to be
followed by up to that long idle before the next one was fetched, with messages waiting.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import tempfile
import uuid
from queue import Empty
from time import monotonic, sleep

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

CLAIMS = ".claims"
OWNER = "owner.lock"
RECOVER_EVERY = 30.0  # seconds


class Channel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._claims: dict[str, str] = {}  # delivery tag -> the claimed message file
        self._claim_dir: str | None = None
        self._claim_pid: int | None = None
        self._claim_lock = -1
        self._recovered_at = 0.0

    # ---- producing ----

    # the parameter is named as in kombu.transport.filesystem, whose own base names it `message`
    def _put(self, queue, payload, **kwargs):  # type: ignore[override]
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    # ---- consuming ----

    def _claim_folder(self) -> str:
        if self._claim_pid != os.getpid():  # first use, or a forked child: never share a parent's claims
            root = os.path.join(self.data_folder_in, CLAIMS)
            os.makedirs(root, exist_ok=True)
            self._recover_orphans(root)
            folder = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root)
            # lock first, then give it the name others test: an owner.lock is never seen unlocked while alive
            fd, locking = tempfile.mkstemp(dir=folder, suffix=".part")
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.set_inheritable(fd, False)
            os.replace(locking, os.path.join(folder, OWNER))
            self._claim_dir, self._claim_pid, self._claim_lock, self._claims = folder, os.getpid(), fd, {}
        return str(self._claim_dir)

    def _recover_orphans(self, root: str) -> None:
        self._recovered_at = monotonic()
        for name in os.listdir(root):
            folder = os.path.join(root, name)
            try:
                fd = os.open(os.path.join(folder, OWNER), os.O_RDWR | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                continue  # being created, or already recovered by another consumer
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its owner is alive
                restored = 0
                for message in os.listdir(folder):
                    if message.endswith(".msg"):
                        os.replace(os.path.join(folder, message), os.path.join(self.data_folder_in, message))
                        restored += 1
                shutil.rmtree(folder, ignore_errors=True)
                if restored:
                    log.warning("re-queued messages a dead consumer had not acknowledged",
                                extra={"messages": restored})
            finally:
                os.close(fd)

    def _get(self, queue, timeout=None):
        folder = self._claim_folder()
        if monotonic() - self._recovered_at > RECOVER_EVERY:  # a consumer that died while we run
            self._recover_orphans(os.path.dirname(folder))
        queue_find = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != queue_find:
                continue
            claimed = os.path.join(folder, filename)
            try:
                os.rename(os.path.join(self.data_folder_in, filename), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as f:
                    payload = loads(bytes_to_str(f.read()))
                tag = payload["properties"]["delivery_tag"]
            except (OSError, ValueError, KeyError, TypeError):
                # set aside, never retried in a loop and never fatal to the worker
                os.replace(claimed, os.path.join(self.data_folder_in, f".{filename}.unreadable"))
                log.error("unreadable message set aside", extra={"file": f".{filename}.unreadable"})
                continue
            self._claims[tag] = claimed
            return payload
        raise Empty()

    def _release(self, delivery_tag) -> None:
        claimed = self._claims.pop(delivery_tag, None)
        if claimed is not None:
            try:
                os.remove(claimed)
            except FileNotFoundError:
                pass

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple=multiple)
        self._release(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)  # a re-queue has written a fresh copy by now
        self._release(delivery_tag)

    def close(self):
        super().close()  # puts every unacknowledged message back in the queue
        if self._qos is None or not self._qos._delivered:
            for tag in list(self._claims):
                self._release(tag)
        if self._claim_pid == os.getpid() and not self._claims and self._claim_dir:
            shutil.rmtree(self._claim_dir, ignore_errors=True)
            os.close(self._claim_lock)
            self._claim_dir, self._claim_pid = None, None


# how often a worker whose prefetch is full looks whether a task has finished: a memory check, not a folder listing
SLOT_CHECK_INTERVAL = 0.005


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection, timeout=None, **_kwargs):
        # kombu's virtual Transport.drain_events, but idling with _idle
        started, cycle = monotonic(), self.cycle
        assert cycle is not None
        while True:
            try:
                cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise socket.timeout()
                self._idle(min(self.polling_interval, timeout) if timeout else self.polling_interval)

    def _idle(self, seconds: float | None) -> None:
        """Sleep before looking again: until a slot frees, when the prefetch is what held messages back."""
        if not seconds:  # no polling interval: kombu does not sleep either
            return
        full = [channel for channel in self.channels if channel._consumers and not channel.qos.can_consume()]
        if not full:
            sleep(seconds)
            return
        until = monotonic() + seconds
        while not any(channel.qos.can_consume() for channel in full) and monotonic() < until:
            sleep(SLOT_CHECK_INTERVAL)
