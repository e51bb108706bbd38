"""A prefork pool whose children may be killed without stalling the worker (embedded mode).

With a broker that has no event loop (kombu's filesystem transport), Celery runs billiard's blocking pool:
all children share one pipe for jobs and one for results, each guarded by a process-shared semaphore, and
an idle child waits for its next job *while holding* the job pipe's semaphore (billiard issue #104, PR #457).
A child SIGKILLed there (by the kernel's OOM killer, by `kill -9`, by the hard time limit's follow-up kill)
never releases it: the replacement child blocks on it for ever, every pool slot stays taken, the consumer's
main thread blocks in `apply_async`, and the worker never runs another task. Redis-mode workers are not
affected: their event-loop pool gives each child its own pipes.

Here the pipes are guarded by flock(2) locks instead, which the kernel drops when the holder dies, so a lost
child costs only its own task (re-queued by `task_reject_on_worker_lost`).
"""
from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import struct
import tempfile
import termios
import threading
import time

from billiard.pool import Pool as BlockingPool
from celery.concurrency import prefork

class DeathSafeLock:
    """A lock shared by a pool's processes that is released by the kernel when its holder dies.

    flock(2) excludes open file descriptions, not threads, so each process opens the file itself (a descriptor
    inherited through fork would share the parent's lock) and threads of one process also take a thread lock.
    """

    def __init__(self, path: str):
        self.path = path
        self._pid: int | None = None
        self._fd = -1
        self._threads = threading.Lock()
        self._for_this_process()

    def __getstate__(self):  # spawned children get the path and open their own descriptor
        return {"path": self.path}

    def __setstate__(self, state):
        DeathSafeLock.__init__(self, state["path"])

    def _for_this_process(self) -> int:
        pid = os.getpid()
        if self._pid != pid:
            # a thread lock copied by fork may be held by a thread that does not exist here
            self._threads = threading.Lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = pid
        return self._fd

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        fd = self._for_this_process()
        if not self._threads.acquire(block, -1 if timeout is None or not block else timeout):
            return False
        try:
            if block and timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return True
            deadline = time.monotonic() + (timeout or 0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if not block or time.monotonic() >= deadline:
                        self._threads.release()
                        return False
                    time.sleep(0.005)
        except BaseException:
            # e.g. billiard's SIGTERM handler raising SystemExit while we wait
            if self._threads.locked():
                self._threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._for_this_process(), fcntl.LOCK_UN)
        self._threads.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _remove_folder(folder: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def _unread_bytes(connection) -> int:
    """How many bytes wait in a pipe, read from its reading end without taking any."""
    return struct.unpack("i", fcntl.ioctl(connection.fileno(), termios.FIONREAD, b"\0" * 4))[0]


# A child acknowledges a job the moment it has read it; one still unacknowledged this long after a child died,
# with nothing left to read, was read by the dead child.
UNSTARTED_GRACE = 3.0


class RecoveringBlockingPool(BlockingPool):
    """billiard's blocking pool with the shared pipes guarded by DeathSafeLocks, and no job orphaned by a
    child that died just after taking it."""

    _last_death = 0.0  # when a child was last found dead (monotonic)

    def apply_async(self, *args, **kwargs):
        sent = time.monotonic()
        job = super().apply_async(*args, **kwargs)
        if job is not None:
            job._sent_at = sent
        return job

    def _join_exited_workers(self, shutdown=False):
        exitcodes = super()._join_exited_workers(shutdown=shutdown)
        if exitcodes:
            self._last_death = time.monotonic()
        self._fail_jobs_taken_by_the_dead()
        # billiard looks for a dead child's jobs only in the round that reaps it: a job whose start (the
        # child's ACK) the parent reads after that round was never failed, so its message was never
        # re-queued and it waited for ever. Look every round; the lost-worker wait then fails it as usual.
        alive = {worker.pid for worker in self._pool}
        for job in list(self._cache.values()):
            if job.ready() or job._worker_lost:
                continue
            gone = next((pid for pid in job.worker_pids() if pid not in alive), None)
            if gone is not None:
                self.on_job_process_lost(job, gone, 0)
        return exitcodes

    def _fail_jobs_taken_by_the_dead(self) -> None:
        """A child killed after reading a job from the shared pipe and before acknowledging it takes the job
        with it: billiard never learns who had it, nobody runs it, and its message stays reserved, so with
        one prefetched message per slot the worker fetches nothing more. Such a job (sent before a death,
        still unacknowledged UNSTARTED_GRACE after it, nothing waiting to be read) is failed as lost, which
        re-queues its message (`task_reject_on_worker_lost`)."""
        if not self._last_death or time.monotonic() - self._last_death < UNSTARTED_GRACE:
            return
        taken = [job for job in list(self._cache.values())
                 if not (job.ready() or job._accepted or job._worker_lost)
                 and getattr(job, "_sent_at", self._last_death) < self._last_death]
        if not taken or self._taskqueue.qsize() or _unread_bytes(self._inqueue._reader):
            return
        for job in taken:
            self.on_job_process_lost(job, 0, -9)

    def _setup_queues(self):
        super()._setup_queues()
        folder = tempfile.mkdtemp(prefix="celery-pool-")
        atexit.register(_remove_folder, folder, os.getpid())
        for name, queue in (("in", self._inqueue), ("out", self._outqueue)):
            queue._rlock = DeathSafeLock(os.path.join(folder, f"{name}-read.lock"))
            if queue._wlock is not None:
                queue._wlock = DeathSafeLock(os.path.join(folder, f"{name}-write.lock"))


class TaskPool(prefork.TaskPool):
    """Celery's prefork pool; only the blocking variant (used without an event loop) is replaced."""

    BlockingPool = RecoveringBlockingPool
