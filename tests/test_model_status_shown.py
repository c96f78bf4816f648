"""What the background model listing shows (contract §12): `/api/health`'s `models`, and the
page's banner naming a configured model that is gone or shuts down within 60 days."""

import datetime

import pytest

from generations import model_status
from tests.fake_openai import client_for, model_entry, serving

TODAY = datetime.date(2026, 11, 30)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def listed(monkeypatch, settings):
    """The process's model status, refreshed once from a loopback listing in which gpt-4o's
    snapshot shuts down on 2027-01-14 (45 days on) and gpt-4.1-mini's is missing."""
    settings.CLONEGEN_MODELS = "gpt-4o-2024-11-20,gpt-4.1-mini-2025-04-14,gpt-4.1-2025-04-14"
    async with serving() as server:
        server.models = [
            model_entry("gpt-4o-2024-11-20", "2027-01-14"),
            model_entry("gpt-4.1-2025-04-14", "2027-09-01"),
        ]
        client = client_for(server.base_url)
        monkeypatch.setattr(model_status.status, "client", lambda: client)
        monkeypatch.setattr(model_status.status, "today", lambda: TODAY)
        assert await model_status.status.refresh()
        yield
    model_status.status._listing = None  # the next test starts from "unknown"


async def test_health_gives_each_configured_model_its_availability_and_date(async_client, listed):
    response = await async_client.get("/api/health")

    assert response.json()["data"]["models"] == [
        {"model": "gpt-4o-2024-11-20", "available": True, "shutdown_date": "2027-01-14"},
        {"model": "gpt-4.1-mini-2025-04-14", "available": False, "shutdown_date": None},
        {"model": "gpt-4.1-2025-04-14", "available": True, "shutdown_date": "2027-09-01"},
    ]


async def test_the_page_warns_of_a_missing_model_and_a_shutdown_within_60_days(
    async_client, listed
):
    page = (await async_client.get("/")).content.decode()

    assert "gpt-4o-2024-11-20 shuts down on 2027-01-14 (in 45 days)." in page
    assert "gpt-4.1-mini-2025-04-14 is not offered by the model API any more." in page
    assert "gpt-4.1-2025-04-14 shuts down" not in page  # 275 days away: no warning yet


async def test_no_banner_while_the_listing_is_unknown(async_client):
    page = (await async_client.get("/")).content.decode()

    assert "model-warning" not in page


async def test_the_admin_warns_too(async_client, listed):
    from django.contrib.auth import get_user_model

    admin = await get_user_model().objects.acreate_superuser("boss", "b@example.com", "pw")
    await async_client.aforce_login(admin)
    page = (await async_client.get("/admin/generations/generation/")).content.decode()

    assert "gpt-4o-2024-11-20 shuts down on 2027-01-14 (in 45 days)." in page
    assert "gpt-4.1-mini-2025-04-14 is not offered by the model API any more." in page
