"""The runner's batched database calls and the group commit of finished results."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError

from generations import services
from generations.database import BatchedCalls, GroupCommit
from generations.models import Variant
from tests.factories import make_generation


@pytest.fixture
def thread():
    executor = ThreadPoolExecutor(max_workers=1)
    yield executor
    executor.shutdown()


class Recorder(BatchedCalls):
    """Counts the batches it runs; the first batch waits until the test lets it go."""

    def __init__(self, executor) -> None:
        super().__init__(executor)
        self.batches: list[int] = []
        self.release = threading.Event()

    def execute(self, calls):
        if not self.batches:
            self.release.wait(5)
        self.batches.append(len(calls))
        return super().execute(calls)


def double(*, value: int) -> int:
    return value * 2


def refuse(*, value: int) -> int:
    raise OperationalError(f"refused {value}")


async def test_calls_arriving_during_a_batch_run_together_in_the_next(thread):
    calls = Recorder(thread)
    first = asyncio.ensure_future(calls.call(double, value=1))
    await asyncio.sleep(0)  # the first batch starts and waits on its thread
    later = [asyncio.ensure_future(calls.call(double, value=v)) for v in (2, 3, 4)]
    await asyncio.sleep(0)
    calls.release.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8]
    assert calls.batches == [1, 3]


async def test_an_exception_goes_to_its_own_caller_only(thread):
    calls = BatchedCalls(thread)
    results = await asyncio.gather(
        calls.call(double, value=1),
        calls.call(refuse, value=2),
        calls.call(double, value=3),
        return_exceptions=True,
    )
    assert results[0] == 2
    assert results[2] == 6
    assert isinstance(results[1], OperationalError)


async def test_a_caller_cancelled_before_its_batch_never_runs(thread):
    calls = Recorder(thread)
    ran = []

    def note(*, value):
        ran.append(value)
        return value

    first = asyncio.ensure_future(calls.call(note, value=1))
    await asyncio.sleep(0)
    cancelled = asyncio.ensure_future(calls.call(note, value=2))
    kept = asyncio.ensure_future(calls.call(note, value=3))
    await asyncio.sleep(0)
    cancelled.cancel()
    calls.release.set()
    assert await asyncio.gather(first, kept) == [1, 3]
    assert ran == [1, 3]


async def test_cancelling_the_batches_task_cancels_every_waiting_caller(thread):
    calls = Recorder(thread)
    first = asyncio.ensure_future(calls.call(double, value=1))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(calls.call(double, value=2))
    await asyncio.sleep(0)
    calls.task.cancel()  # shutdown
    calls.release.set()
    for caller in (first, waiting):
        with pytest.raises(asyncio.CancelledError):
            await caller


def result_for(generation_id, index: int, html: str = "<p>new</p>\n") -> dict:
    return {
        "generation_id": str(generation_id),
        "index": index,
        "model": "m-new",
        "text": "<p>new</p>",
        "raw_html": "<p>new</p>",
        "html": html,
        "finish_reason": "stop",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "requests": 1,
        "first_token_at": None,
        "finished_at": "2026-11-30T00:00:00+00:00",
        "duration_ms": 5,
    }


@pytest.mark.django_db(transaction=True)
def test_variants_save_results_commits_several_and_never_overwrites_a_completed_one():
    generation = make_generation(("completed", "streaming", "pending", "streaming"))
    before = Variant.objects.get(generation=generation, index=0)

    saved = services.variants_save_results(
        results=[result_for(generation.id, index) for index in (0, 1, 3)]
    )

    assert saved == [False, True, True]
    variants = {v.index: v for v in Variant.objects.filter(generation=generation)}
    assert (variants[0].raw_html, variants[0].html, variants[0].model) == (
        before.raw_html,
        before.html,
        before.model,
    )
    for index in (1, 3):
        assert variants[index].status == "completed"
        assert variants[index].attempts == 1  # the requests of the run are added
        assert (variants[index].raw_html, variants[index].html) == ("<p>new</p>", "<p>new</p>\n")
    assert variants[2].status == "pending"


@pytest.mark.django_db(transaction=True)
async def test_group_commit_saves_results_finishing_together_in_one_transaction(
    thread, monkeypatch
):
    generation = await asyncio.to_thread(make_generation, ("streaming",) * 4)
    transactions = []
    real = services.variants_save_results

    def counted(*, results):
        transactions.append(len(results))
        return real(results=results)

    monkeypatch.setattr(services, "variants_save_results", counted)
    commit = GroupCommit(thread)
    saved = await asyncio.gather(*(commit.save(**result_for(generation.id, i)) for i in range(4)))

    assert saved == [True] * 4
    assert transactions == [4]
    statuses = [
        v.status async for v in Variant.objects.filter(generation=generation).order_by("index")
    ]
    assert statuses == ["completed"] * 4


@pytest.mark.django_db(transaction=True)
async def test_group_commit_refused_for_one_result_still_saves_the_others(thread, monkeypatch):
    generation = await asyncio.to_thread(make_generation, ("streaming",) * 4)
    real_one, real_many = services.variant_save_result, services.variants_save_results

    def refuse_index_1(**result):
        if result["index"] == 1:
            raise OperationalError("refused")
        return real_one(**result)

    def refuse_with_index_1(*, results):
        if any(result["index"] == 1 for result in results):
            raise OperationalError("refused")
        return real_many(results=results)

    monkeypatch.setattr(services, "variant_save_result", refuse_index_1)
    monkeypatch.setattr(services, "variants_save_results", refuse_with_index_1)
    commit = GroupCommit(thread)
    outcomes = await asyncio.gather(
        *(commit.save(**result_for(generation.id, i)) for i in range(3)),
        return_exceptions=True,
    )

    assert outcomes[0] is True
    assert outcomes[2] is True
    assert isinstance(outcomes[1], OperationalError)
    statuses = [
        v.status async for v in Variant.objects.filter(generation=generation).order_by("index")
    ]
    assert statuses == ["completed", "streaming", "completed", "streaming"]
