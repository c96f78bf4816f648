"""Models over time (contract §12): the configured models' availability and shutdown dates from
a real `GET /v1/models` on loopback, unknown when it cannot be fetched, and the banner's list."""

import asyncio
import datetime
import logging
import socket

import pytest

from generations.model_status import ModelStatus
from tests.fake_openai import client_for, model_entry, serving

CONFIGURED = ["gpt-4o-2024-11-20", "gpt-4o", "gpt-6-luna", "gpt-7-nonexistent"]
TODAY = datetime.date(2026, 11, 30)


@pytest.fixture
async def fake_openai():
    async with serving() as server:
        server.models = [
            model_entry("gpt-4o-2024-11-20", "2027-01-14"),
            model_entry("gpt-4o", "2027-03-01"),
            model_entry("gpt-6-luna"),  # no date announced: the field is absent
            model_entry("gpt-4.1", "2027-01-14"),  # listed, but not configured
        ]
        yield server


def _status(base_url: str, models=CONFIGURED) -> ModelStatus:
    client = client_for(base_url)
    return ModelStatus(models=lambda: models, client=lambda: client, today=lambda: TODAY)


async def test_health_lists_every_configured_model_with_availability_and_shutdown_date(
    fake_openai,
):
    status = _status(fake_openai.base_url)

    assert await status.refresh() is True

    assert status.health() == [
        {"model": "gpt-4o-2024-11-20", "available": True, "shutdown_date": "2027-01-14"},
        {"model": "gpt-4o", "available": True, "shutdown_date": "2027-03-01"},
        {"model": "gpt-6-luna", "available": True, "shutdown_date": None},
        {"model": "gpt-7-nonexistent", "available": False, "shutdown_date": None},
    ]


async def test_before_the_first_fetch_everything_is_unknown(fake_openai):
    status = _status(fake_openai.base_url)

    assert status.health() == [
        {"model": model, "available": None, "shutdown_date": None} for model in CONFIGURED
    ]
    assert status.warnings() == []
    assert fake_openai.models_requests == 0  # reading never fetches


async def test_warnings_name_unavailable_models_and_those_shutting_down_within_60_days(
    fake_openai,
):
    status = _status(fake_openai.base_url)
    await status.refresh()

    warnings = {warning["model"]: warning["message"] for warning in status.warnings()}

    assert warnings == {
        "gpt-4o-2024-11-20": "gpt-4o-2024-11-20 shuts down on 2027-01-14 (in 45 days).",
        "gpt-7-nonexistent": "gpt-7-nonexistent is not offered by the model API any more.",
    }
    assert "gpt-4o" in {w["model"] for w in status.warnings(days=91)}


async def test_a_date_already_past_is_still_a_warning(fake_openai):
    fake_openai.models = [model_entry("gpt-4o", "2026-11-01")]
    status = _status(fake_openai.base_url, models=["gpt-4o"])
    await status.refresh()

    assert status.warnings()[0]["message"] == "gpt-4o was shut down on 2026-11-01."


async def test_an_unreachable_endpoint_is_logged_and_shown_as_unknown(fake_openai, caplog):
    status = _status(fake_openai.base_url)
    await status.refresh()
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    status.client = lambda: client_for(f"http://127.0.0.1:{closed_port}/v1")

    with caplog.at_level(logging.WARNING, logger="generations.model_status"):
        assert await status.refresh() is False

    assert "Could not fetch the model list" in caplog.text
    assert {entry["available"] for entry in status.health()} == {None}
    assert {entry["shutdown_date"] for entry in status.health()} == {None}
    assert status.warnings() == []


async def test_an_error_answer_is_shown_as_unknown(fake_openai, caplog):
    fake_openai.models_status = 500
    status = _status(fake_openai.base_url)

    with caplog.at_level(logging.WARNING, logger="generations.model_status"):
        assert await status.refresh() is False

    assert "HTTP 500" in caplog.text
    assert status.health()[0] == {
        "model": "gpt-4o-2024-11-20",
        "available": None,
        "shutdown_date": None,
    }


async def test_the_background_loop_fetches_at_start_and_again_after_the_interval(fake_openai):
    status = _status(fake_openai.base_url)
    loop = asyncio.ensure_future(status.run(interval=0.05))
    try:
        async with asyncio.timeout(10):
            while fake_openai.models_requests < 2:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert status.health()[0]["available"] is True


def test_configured_models_are_every_model_of_every_chain_once(settings):
    from generations.model_status import configured_models

    settings.CLONEGEN_MODELS = "gpt-6-luna|gpt-4o, gpt-6.1-sol|gpt-4o"

    assert configured_models() == ["gpt-6-luna", "gpt-4o", "gpt-6.1-sol"]
