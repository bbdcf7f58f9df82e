"""The bridge from asyncio handlers to the Rust request queue and its worker threads.

A handler awaits ``Scheduler.run(priority, work)``. The work is queued in the Rust
``RequestQueue``; a small pool of threads blocks in ``pop()`` (with the GIL released), runs it,
and settles the handler's future on the event loop. A cancelled handler (``$/cancelRequest``)
cancels its job: dropped if it still waits, flagged if it runs (long work polls
``Job.cancelled``). A newer request with the same key supersedes a waiting one, and a job
whose deadline passed in the queue is settled without running.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from lore._native import Job, RequestQueue

log = logging.getLogger(__name__)
T = TypeVar("T")


class Dropped(Exception):
    """A queued request that never ran: superseded by a newer one, or past its deadline."""


def _settle(future: asyncio.Future, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Scheduler:
    """Priority scheduling of blocking work for the language server."""

    def __init__(self, *, workers: int, background_concurrency: int = 1) -> None:
        self.queue = RequestQueue(concurrency={"background": background_concurrency})
        self._threads = [
            threading.Thread(target=self._work, name=f"lore-worker-{n}", daemon=True)
            for n in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    async def run(
        self,
        priority: str,
        work: Callable[[Job], T],
        *,
        key: str | None = None,
        deadline_s: float | None = None,
    ) -> T:
        """Run ``work(job)`` on a worker thread and return its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job_id, superseded = self.queue.submit(
            priority, (work, future, loop), deadline_s=deadline_s, key=key
        )
        for _work, old_future, old_loop in superseded:
            old_loop.call_soon_threadsafe(
                _settle, old_future, None, Dropped("superseded by a newer request")
            )
        try:
            return await future
        except asyncio.CancelledError:
            self.queue.cancel(job_id)
            raise

    def _work(self) -> None:
        while True:
            job = self.queue.pop()
            if job is None:
                return
            work, future, loop = job.payload
            if job.state == "expired":
                loop.call_soon_threadsafe(
                    _settle, future, None, Dropped("dropped: the request waited past its deadline")
                )
                continue
            try:
                if job.cancelled:
                    raise asyncio.CancelledError
                result = work(job)
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the handler
                if not isinstance(exc, (asyncio.CancelledError, Dropped)):
                    log.exception("queued %s work failed", job.priority)
                self._post(loop, future, error=exc)
            else:
                self._post(loop, future, result=result)
            finally:
                self.queue.complete(job.id)

    @staticmethod
    def _post(loop: asyncio.AbstractEventLoop, future: asyncio.Future, **kwargs: Any) -> None:
        try:
            loop.call_soon_threadsafe(lambda: _settle(future, **kwargs))
        except RuntimeError:
            pass  # the loop is closed: the server is shutting down

    def stats(self) -> dict[str, dict[str, float]]:
        return self.queue.stats()

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop taking work and let the workers finish what they run (bounded)."""
        self.queue.close()
        for thread in self._threads:
            thread.join(timeout_s / max(1, len(self._threads)))
