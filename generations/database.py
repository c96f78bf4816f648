"""The runner's database calls, batched, on two threads.

- `on_sync_thread`: the thread Django's async code shares (as `database_sync_to_async` uses
  it), for the run's bookkeeping: claiming a run, loading it, starting an attempt, ending it.
- `save_results_together`: finished results, on the runner's own results thread, committed
  together. The shared thread also serves every socket's per-message connection check
  (channels' consumers make one for each frame they forward); a result must not wait behind
  hundreds of them to be saved.
"""

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async

from generations import services
from generations.tasks import tasks

Outcome = tuple[object, Exception | None]


class BatchedCalls:
    """Database calls run in batches on one thread (`executor=None`: the shared sync thread).

    Every call that arrives while a batch runs joins the next batch, so a burst (a hundred
    variants finishing within a second) costs a few thread hops and connections instead of one
    each: with CONN_MAX_AGE=0 every hop opens and closes a connection, which costs more than
    the statement. Each call is still its own statement or transaction, its caller resumes only
    once it has returned, and its exception (a DatabaseError, say) goes to that caller alone.
    """

    def __init__(self, executor: ThreadPoolExecutor | None = None) -> None:
        self.executor = executor
        self.pending: list[tuple[Callable, dict, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def call(self, func: Callable, /, **kwargs):
        future = asyncio.get_running_loop().create_future()
        self.pending.append((func, kwargs, future))
        if self.task is None or self.task.done():
            self.task = tasks.spawn(self._drain(), name="runner database calls")
        return await future

    def execute(self, calls: list[tuple[Callable, dict]]) -> list[Outcome]:
        """Run one batch (on the batch's thread); one (value, exception) per call."""
        outcomes: list[Outcome] = []
        for func, kwargs in calls:
            try:
                outcomes.append((func(**kwargs), None))
            except Exception as error:
                outcomes.append((None, error))
        return outcomes

    async def _drain(self) -> None:
        if self.executor is None:
            run_batch = database_sync_to_async(self.execute)
        else:
            run_batch = database_sync_to_async(
                self.execute, thread_sensitive=False, executor=self.executor
            )
        batch: list[tuple[Callable, dict, asyncio.Future]] = []
        try:
            while self.pending:
                # A caller cancelled before its batch started never runs, as with a thread hop.
                batch = [call for call in self.pending if not call[2].done()]
                self.pending = []
                if not batch:
                    continue
                outcomes = await run_batch([(func, kwargs) for func, kwargs, _ in batch])
                for (_, _, future), (value, error) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(value)
                    else:
                        future.set_exception(error)
                batch = []
        finally:
            # Only if this task itself was cancelled (shutdown): no caller may wait forever.
            for _, _, future in (*batch, *self.pending):
                if not future.done():
                    future.cancel()


class GroupCommit(BatchedCalls):
    """Finished results saved in batches of one transaction each (group commit): the results
    that arrive while a commit runs are committed together by the next one, so a burst of
    finishing variants costs a few commits instead of one each. If the transaction fails,
    each result is tried again in a transaction of its own, so one refused result does not
    take the others down; a caller whose result still fails gets the exception (and retries or
    spools it)."""

    async def save(self, **result) -> bool:
        """Commit `result` (`services.variant_save_result`'s arguments); False if the variant
        had already completed."""
        return await self.call(services.variant_save_result, **result)

    def execute(self, calls: list[tuple[Callable, dict]]) -> list[Outcome]:
        try:
            saved = services.variants_save_results(results=[kwargs for _, kwargs in calls])
        except Exception as error:
            if len(calls) == 1:
                return [(None, error)]
            return super().execute(calls)
        return [(value, None) for value in saved]


_results_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clonegen-results")

_Batches = tuple[BatchedCalls, GroupCommit]
_batches: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batches]" = (
    weakref.WeakKeyDictionary()
)


def _batches_of_loop() -> _Batches:
    # Futures and tasks belong to one event loop: each loop (a test's, say) has its own.
    loop = asyncio.get_running_loop()
    if loop not in _batches:
        _batches[loop] = (BatchedCalls(), GroupCommit(_results_thread))
    return _batches[loop]


async def on_sync_thread(func: Callable, /, **kwargs):
    """Run a `services` function (or another database function) for the runner, batched with
    others, on the thread Django's async code shares."""
    return await _batches_of_loop()[0].call(func, **kwargs)


async def save_results_together(**result) -> bool:
    """Commit a finished result on the runner's own results thread, in one transaction with the
    results that finish at the same moment; False if the variant had already completed."""
    return await _batches_of_loop()[1].save(**result)
