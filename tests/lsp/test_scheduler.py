"""The scheduler in process: priority, supersession, cancellation and deadlines."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lore.lsp.scheduler import Dropped, Scheduler

pytestmark = pytest.mark.asyncio


@pytest.fixture
def scheduler():
    s = Scheduler(workers=1)
    yield s
    s.close()


async def occupy(scheduler: Scheduler) -> tuple[asyncio.Task, threading.Event, threading.Event]:
    """Keep the only worker busy until ``release`` is set."""
    started, release = threading.Event(), threading.Event()

    def block(_job):
        started.set()
        release.wait(10)
        return "blocker"

    task = asyncio.ensure_future(scheduler.run("background", block))
    await asyncio.to_thread(started.wait, 10)
    return task, started, release


async def test_interactive_work_overtakes_waiting_user_work(scheduler: Scheduler) -> None:
    blocker, _, release = await occupy(scheduler)
    order: list[str] = []
    user = asyncio.ensure_future(scheduler.run("user", lambda _j: order.append("user")))
    hover = asyncio.ensure_future(scheduler.run("interactive", lambda _j: order.append("hover")))
    await asyncio.sleep(0)  # let both submit
    release.set()
    await asyncio.gather(blocker, user, hover)
    assert order == ["hover", "user"]


async def test_a_newer_request_supersedes_the_waiting_one(scheduler: Scheduler) -> None:
    blocker, _, release = await occupy(scheduler)
    old = asyncio.ensure_future(scheduler.run("interactive", lambda _j: "old", key="hover:a"))
    await asyncio.sleep(0)
    new = asyncio.ensure_future(scheduler.run("interactive", lambda _j: "new", key="hover:a"))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(Dropped, match="superseded"):
        await old
    assert await new == "new"
    await blocker
    assert scheduler.stats()["interactive"]["superseded"] == 1


async def test_cancel_drops_a_waiting_job_and_flags_a_running_one(scheduler: Scheduler) -> None:
    ran: list[str] = []
    blocker, _, release = await occupy(scheduler)
    waiting = asyncio.ensure_future(scheduler.run("user", lambda _j: ran.append("waiting")))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await blocker
    assert ran == []

    seen_flag = threading.Event()
    running_started = threading.Event()

    def long_work(job):
        running_started.set()
        while not job.cancelled:
            seen_flag.wait(0.01)
        seen_flag.set()
        return "stopped"

    running = asyncio.ensure_future(scheduler.run("user", long_work))
    await asyncio.to_thread(running_started.wait, 10)
    running.cancel()
    await asyncio.to_thread(seen_flag.wait, 10)
    assert seen_flag.is_set()


async def test_a_job_past_its_deadline_is_dropped(scheduler: Scheduler) -> None:
    blocker, _, release = await occupy(scheduler)
    late = asyncio.ensure_future(scheduler.run("interactive", lambda _j: "ran", deadline_s=0))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(Dropped, match="deadline"):
        await late
    await blocker


async def test_a_failing_job_reports_its_error_and_the_worker_goes_on(scheduler: Scheduler) -> None:
    def fail(_job):
        raise ValueError("broken feature")

    with pytest.raises(ValueError, match="broken feature"):
        await scheduler.run("user", fail)
    assert await scheduler.run("user", lambda _j: 42) == 42
