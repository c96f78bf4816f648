"""What a server process does besides answering: replay spooled results and beat its heartbeat
at start, mark dead processes' work `interrupted`, and drain its own work on SIGTERM.

Daphne has no ASGI lifespan events, but it runs on Twisted's reactor: `callWhenRunning` is the
start-up hook and a "before shutdown" trigger returning a Deferred holds shutdown until the
drain ends. Under a server without Twisted nothing is installed, and a warning says so.
"""

import asyncio
import logging
import sys
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from generations import model_client, model_status, services, spool
from generations.control import listener
from generations.models import MISSED_HEARTBEATS, GenerationStatus
from generations.process import RUNNER_ID
from generations.publisher import GroupPublisher
from generations.runner import runner
from generations.tasks import tasks

logger = logging.getLogger(__name__)


def install() -> None:
    """Hook start-up and shutdown work into the server's reactor (daphne)."""
    if not settings.CLONEGEN_BACKGROUND_SERVICES:
        return
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None:
        logger.warning("Not served by daphne: no heartbeat, recovery or drain in this process")
        return
    # callWhenRunning fires just before the asyncio loop starts turning; callLater(0) moves the
    # spawn into the running loop.
    reactor.callWhenRunning(
        reactor.callLater, 0, lambda: tasks.spawn(maintain(), name="maintenance")
    )
    reactor.addSystemEventTrigger("before", "shutdown", _drain_deferred)


async def maintain() -> None:
    """Replay the spool, then beat and sweep for as long as the process lives."""
    replayed = await database_sync_to_async(spool.replay)(_apply_spooled)
    if replayed:
        logger.warning("Replayed %d spooled result(s) into the database", replayed)
    tasks.spawn(listener.listen(), name="control listener")
    tasks.spawn(model_status.status.run(), name="model status")
    interval = settings.CLONEGEN_HEARTBEAT_SECONDS
    while True:
        try:
            await beat_and_sweep(interval)
        except Exception:
            logger.exception("Heartbeat failed; trying again")
        await asyncio.sleep(interval)  # a period, not a wait for an event


async def beat_and_sweep(interval: float) -> list:
    """Refresh this process's heartbeat, then interrupt generations whose process went quiet."""
    await database_sync_to_async(services.runner_heartbeat)(runner_id=RUNNER_ID)
    await listener.join()
    stale_before = timezone.now() - timedelta(seconds=interval * MISSED_HEARTBEATS)
    orphans = await database_sync_to_async(services.generations_interrupt_orphans)(
        stale_before=stale_before, live_runner_id=RUNNER_ID
    )
    for generation_id in orphans:
        logger.warning("Generation %s lost its process: interrupted", generation_id)
        await GroupPublisher(generation_id).publish(
            "generation.finished", status=GenerationStatus.INTERRUPTED
        )
    return orphans


def _apply_spooled(record: dict) -> None:
    if services.variant_save_result(**record):
        services.generation_refresh_status(generation_id=record["generation_id"])


def _drain_deferred():
    from twisted.internet.defer import Deferred

    grace = settings.CLONEGEN_SHUTDOWN_GRACE_SECONDS
    logger.info("Shutting down: letting running generations finish (up to %ss)", grace)
    # Spawned like every detached task; Deferred.fromFuture takes the task (a Future) and
    # holds the reactor's shutdown until it ends.
    return Deferred.fromFuture(tasks.spawn(_drain_then_settle(grace), name="drain"))


async def _drain_then_settle(grace: float) -> None:
    await runner.drain(grace)
    # The reactor stops the loop right after this; a coroutine left suspended (a socket's
    # channel-layer receive, say) would be finalised with the loop gone, which crashes
    # CPython 3.11 in garbage collection at exit. Cancel and settle them while the loop runs.
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=5)
    await model_client.close_client()
