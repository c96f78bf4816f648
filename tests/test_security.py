"""Locking it down: login and ownership, CSRF, Origin, CSP, the rate limit, deploy checks, and
generated HTML that must not reach the app's cookies or API."""

import os
import subprocess
import sys
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from generations.models import Generation
from tests.factories import make_generation
from tests.socket_client import SocketClient
from tests.support import REPO, data_url, png_bytes


@pytest.fixture
def login_required(settings):
    settings.CLONEGEN_REQUIRE_LOGIN = True


def owned_generation(user) -> Generation:
    generation = make_generation(("completed", "failed", "completed", "completed"))
    Generation.objects.filter(id=generation.id).update(owner=user)
    return generation


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def session_cookie(user) -> str:
    return f"sessionid={logged_in(user).cookies['sessionid'].value}"


@pytest.mark.django_db
def test_login_is_required_for_pages_and_api(client, login_required):
    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    for path in (
        "/api/generations",
        "/api/models/stats",
        f"/api/generations/{uuid.uuid4()}",
        "/api/schema",
        "/api/schema?format=json",
    ):
        answer = client.get(path)
        assert answer.status_code == 401
        assert answer.json() == {
            "success": False,
            "error": {"code": "login_required", "message": answer.json()["error"]["message"]},
        }
    assert client.get("/accounts/login/").status_code == 200
    User.objects.create_user("ada", password="correct horse battery")
    login = client.post(
        "/accounts/login/", {"username": "ada", "password": "correct horse battery"}
    )
    assert login.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/schema").status_code == 200


@pytest.mark.django_db(transaction=True)  # retry and cancel reach the database from another thread
def test_users_see_only_their_own_generations(login_required):
    ada = User.objects.create_user("ada")
    bob = User.objects.create_user("bob")
    adas = owned_generation(ada)
    bobs = owned_generation(bob)
    as_bob = logged_in(bob)

    listed = as_bob.get("/api/generations").json()["data"]["results"]
    assert [g["id"] for g in listed] == [str(bobs.id)]
    for method, path, body in (
        ("get", f"/api/generations/{adas.id}", None),
        ("get", f"/api/generations/{adas.id}/variants/0/html", None),
        ("post", f"/api/generations/{adas.id}/retry", {}),
        ("post", f"/api/generations/{adas.id}/cancel", {}),
        ("post", f"/api/generations/{adas.id}/choose", {"index": 0}),
    ):
        answer = getattr(as_bob, method)(path, body, content_type="application/json")
        assert answer.status_code == 404, path  # 404, not 403: ids are never confirmed
        assert answer.json()["error"]["code"] == "not_found"
    assert as_bob.get(f"/api/generations/{bobs.id}").status_code == 200
    unknown = as_bob.get(f"/api/generations/{uuid.uuid4()}")
    assert unknown.status_code == 404
    stats = as_bob.get("/api/models/stats").json()["data"]
    assert sum(row["runs"] for row in stats) == 3  # only bob's variants with a model count


@pytest.mark.django_db
def test_staff_see_everything_in_the_admin(login_required):
    ada = User.objects.create_user("ada")
    adas = owned_generation(ada)
    staff = User.objects.create_superuser("root", password="x")
    page = logged_in(staff).get("/admin/generations/generation/")
    assert page.status_code == 200
    assert str(adas.id) in page.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_socket_needs_login_and_hides_other_users_work(live_models, connect, login_required):
    anonymous = SocketClient(await connect())
    await anonymous.send(type="generate", image=data_url(png_bytes()))
    assert (await anonymous.receive())["code"] == "login_required"
    await anonymous.close()
    assert live_models.requests == []

    ada = await sync_to_async(User.objects.create_user)("ada")
    bob = await sync_to_async(User.objects.create_user)("bob")
    adas = await sync_to_async(owned_generation)(ada)
    as_bob = SocketClient(await connect(cookie=await sync_to_async(session_cookie)(bob)))
    for kind in ("subscribe", "retry", "cancel"):
        await as_bob.send(type=kind, generation_id=str(adas.id))
        assert (await as_bob.receive())["code"] == "not_found", kind
    started = await as_bob.generate()
    generation = await Generation.objects.aget(id=started["generation_id"])
    assert generation.owner_id == bob.id
    await as_bob.close()


@pytest.mark.django_db
def test_csrf_stays_on_for_session_writes():
    user = User.objects.create_user("ada")
    generation = owned_generation(user)
    client = logged_in(user, enforce_csrf_checks=True)
    path = f"/api/generations/{generation.id}/choose"
    refused = client.post(path, {"index": 2}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    client.get("/")  # the page sets the CSRF cookie, as in a browser
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        path, {"index": 2}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 200
    assert accepted.json()["data"]["chosen_index"] == 2


@pytest.mark.django_db(transaction=True)
async def test_socket_refuses_a_foreign_origin():
    from channels.testing import WebsocketCommunicator

    from clonegen.asgi import application

    communicator = WebsocketCommunicator(
        application, "/ws/generations/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    policy = client.get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'"
    generation = make_generation()
    page = client.get(f"/api/generations/{generation.id}/variants/0/html")
    assert page["Content-Security-Policy"] == "sandbox allow-scripts"


@pytest.mark.django_db(transaction=True)
async def test_rate_limit_applies_to_socket_and_rest_alike(live_models, connect, settings):
    settings.CLONEGEN_RATE_LIMIT = "2/hour"
    client = AsyncClient()
    body = {"image": data_url(png_bytes())}
    for _ in range(2):
        answer = await client.post("/api/generations", body, content_type="application/json")
        assert answer.status_code == 202
    refused = await client.post("/api/generations", body, content_type="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 3500 <= int(refused["Retry-After"]) <= 3600

    # The socket's client is another address here, so it has a budget of its own.
    socket = SocketClient(await connect())
    frames = []
    for _ in range(3):
        await socket.send(type="generate", **body)
        frame = await socket.receive()
        while frame["type"] not in ("generation.started", "error"):  # skip the first's chunks
            frame = await socket.receive()
        frames.append(frame)
    await socket.close()
    assert [f["type"] for f in frames] == ["generation.started", "generation.started", "error"]
    assert frames[-1]["code"] == "rate_limited"
    assert frames[-1]["retry_after"] > 3000
    assert await Generation.objects.acount() == 4


@pytest.mark.e2e
def test_rate_limit_is_shared_by_processes(daphne):
    first, second = daphne.pair(CLONEGEN_RATE_LIMIT="2/hour")
    body = {"image": data_url(png_bytes())}
    assert first.post("/api/generations", json=body).status_code == 202
    assert second.post("/api/generations", json=body).status_code == 202
    refused = first.post("/api/generations", json=body)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"


def test_deploy_check_is_clean():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CLONEGEN_"))},
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "k3y-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "clonegen.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
