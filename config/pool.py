"""The worker's process pool, made to survive a pool process killed while it waits for work.

Without an event loop (the filesystem broker has none), Celery uses billiard's blocking pool:
every pool process reads its next task from one shared pipe, and an idle process waits for it
inside the pipe's read lock. A pool process SIGKILLed while idle (the OOM killer, an operator)
dies holding that lock: its replacement waits for the lock forever, the task handed to it is
never run, and with acks late and a prefetch of one the worker takes no other message (nor can
it stop warmly: shutdown takes the same lock). Here a pool process takes the lock only once a
task is waiting in the pipe, and only for the read, so a process killed while idle holds nothing.
With Redis Celery uses its asynchronous pool (one pipe per process), which is not affected.
"""

from billiard import pool
from billiard.queues import SimpleQueue
from celery.concurrency import prefork

# How long an idle pool process waits for the pipe before looking again (and so how soon it
# sees a pool shutdown when a sibling took the task it was woken for).
POLL_SECONDS = 1.0


class ReadyTaskQueue(SimpleQueue):
    """A pipe whose readers hold the read lock only while a task is ready to be read."""

    # Falsy: billiard's pool process polls the pipe first, then calls get().
    get_payload = None

    def get(self) -> object:
        while True:
            with self._rlock:
                # Another pool process may have read the task this one was woken for.
                if self._reader.poll(0):
                    return self._reader.recv()
            self._reader.poll(POLL_SECONDS)


class BlockingPool(pool.Pool):
    def _setup_queues(self) -> None:
        super()._setup_queues()
        self._inqueue = ReadyTaskQueue(ctx=self._ctx)
        self._quick_put = self._inqueue._writer.send


class TaskPool(prefork.TaskPool):
    """Celery's prefork pool (time limits and all) with the blocking pool above."""

    BlockingPool = BlockingPool
