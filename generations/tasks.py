"""The one place that starts detached asyncio tasks (`tasks.spawn`; nothing in `generations/`
calls `create_task` or `ensure_future` itself): it keeps strong references (the event loop
keeps only weak ones), logs their failures, and lists those still running."""

import asyncio
import contextvars
import logging
from collections.abc import Coroutine

logger = logging.getLogger(__name__)


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coroutine: Coroutine, *, name: str) -> asyncio.Task:
        """Start `coroutine` detached from its caller: a closing socket cannot cancel it.

        It runs in a fresh context: a request's context (asgiref's executor for the request's
        sync thread, say) would die with the request and take the task's database calls along.
        """
        task = asyncio.get_running_loop().create_task(
            coroutine, name=name, context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Task %s failed", task.get_name(), exc_info=task.exception())

    def running(self) -> list[asyncio.Task]:
        loop = asyncio.get_running_loop()
        return [task for task in self._tasks if task.get_loop() is loop and not task.done()]


tasks = TaskRegistry()
