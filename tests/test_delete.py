"""Deleting a generation (contract §13): the API, the files after the commit, ownership, the
admin's action. The page's Delete button is in test_ui_delete.py."""

import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client

from generations import actions, services
from generations.access import Requester
from generations.models import Generation, Variant
from tests.factories import make_generation
from tests.support import data_url, png_bytes

pytestmark = pytest.mark.django_db

ADMIN_LIST = "/admin/generations/generation/"


def stored_files(generation: Generation) -> list[str]:
    generation = Generation.objects.get(id=generation.id)
    return [name for name in (generation.screenshot.name, generation.thumbnail.name) if name]


def with_thumbnail(generation: Generation, client) -> Generation:
    """Have the generation's thumbnail made (as the history's first visit does)."""
    assert client.get(f"/g/{generation.id}/thumbnail").status_code == 200
    generation.refresh_from_db()
    assert generation.thumbnail.name
    return generation


def assert_envelope_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == code


# ---------------------------------------------------------------------------------- the API


@pytest.mark.django_db(transaction=True)  # on_commit runs only when a transaction commits
def test_delete_answers_200_and_the_id_is_gone_with_its_files(client):
    generation = with_thumbnail(make_generation(), client)
    files = stored_files(generation)
    assert len(files) == 2
    assert all(default_storage.exists(name) for name in files)

    response = client.delete(f"/api/generations/{generation.id}")

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": None}
    assert not Generation.objects.filter(id=generation.id).exists()
    assert not Variant.objects.filter(generation_id=generation.id).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert_envelope_error(client.get(f"/api/generations/{generation.id}"), 404, "not_found")
    assert_envelope_error(client.delete(f"/api/generations/{generation.id}"), 404, "not_found")
    assert client.get(f"/g/{generation.id}").status_code == 404
    assert client.get(f"/g/{generation.id}/screenshot").status_code == 404
    assert client.get(f"/g/{generation.id}/thumbnail").status_code == 404


def test_delete_answers_with_and_without_the_trailing_slash(client):
    first, second = make_generation(), make_generation()
    assert client.delete(f"/api/generations/{first.id}").status_code == 200
    assert client.delete(f"/api/generations/{second.id}/").status_code == 200
    assert not Generation.objects.exists()


@pytest.mark.parametrize("status", ["started", "running"])
def test_a_running_generation_is_not_deleted(client, status):
    generation = make_generation(("streaming",) * 4, status=status)

    assert_envelope_error(client.delete(f"/api/generations/{generation.id}"), 409, "conflict")

    assert Generation.objects.filter(id=generation.id).exists()
    assert default_storage.exists(generation.screenshot.name)


@pytest.mark.parametrize("status", ["completed", "partial", "failed", "cancelled", "interrupted"])
def test_every_ended_generation_can_be_deleted(client, status):
    generation = make_generation(status=status)
    assert client.delete(f"/api/generations/{generation.id}").status_code == 200


def test_unknown_and_malformed_ids(client):
    assert_envelope_error(client.delete(f"/api/generations/{uuid.uuid4()}"), 404, "not_found")
    assert_envelope_error(client.delete("/api/generations/not-a-uuid"), 400, "invalid_id")


def test_an_owner_deletes_only_their_own(settings):
    settings.CLONEGEN_REQUIRE_LOGIN = True
    ada, bob = User.objects.create_user("ada"), User.objects.create_user("bob")
    adas, bobs = make_generation(owner=ada), make_generation(owner=bob)
    as_bob = Client()
    as_bob.force_login(bob)

    # Someone else's generation answers exactly like one that does not exist.
    assert_envelope_error(as_bob.delete(f"/api/generations/{adas.id}"), 404, "not_found")
    assert Generation.objects.filter(id=adas.id).exists()
    assert_envelope_error(Client().delete(f"/api/generations/{bobs.id}"), 401, "login_required")
    assert as_bob.delete(f"/api/generations/{bobs.id}").status_code == 200
    assert not Generation.objects.filter(id=bobs.id).exists()


def test_a_session_needs_the_csrf_token_to_delete():
    ada = User.objects.create_user("ada")
    generation = make_generation(owner=ada)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ada)

    assert_envelope_error(browser.delete(f"/api/generations/{generation.id}"), 403, "csrf_failed")
    assert Generation.objects.filter(id=generation.id).exists()


def test_the_schema_documents_delete(client):
    schema = client.get("/api/schema?format=json").json()
    operation = schema["paths"]["/api/generations/{generation_id}/"]["delete"]
    assert {"200", "404", "409"} <= set(operation["responses"])


# ---------------------------------------------------------------------------------- the files


@pytest.mark.django_db(transaction=True)
def test_files_stay_until_the_delete_commits(client):
    generation = with_thumbnail(make_generation(), client)
    files = stored_files(generation)

    def delete_then_fail():
        with transaction.atomic():
            services.generation_delete(generation_id=generation.id)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        delete_then_fail()

    assert Generation.objects.filter(id=generation.id).exists()
    assert all(default_storage.exists(name) for name in files)

    with transaction.atomic():
        services.generation_delete(generation_id=generation.id)
        assert all(default_storage.exists(name) for name in files)  # not committed yet
    assert not any(default_storage.exists(name) for name in files)


@pytest.mark.django_db(transaction=True)
def test_a_screenshot_another_generation_still_uses_stays(client):
    original, reuse = make_generation(), make_generation()
    reuse.screenshot.delete(save=False)
    Generation.objects.filter(id=reuse.id).update(screenshot=original.screenshot.name)

    assert client.delete(f"/api/generations/{original.id}").status_code == 200

    assert default_storage.exists(original.screenshot.name)
    assert client.get(f"/g/{reuse.id}/screenshot").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_new_generation_loses_its_screenshot_and_thumbnail(client):
    # Created as the socket and REST create one, without running it.
    generation = actions.create_generation(
        {"image": data_url(png_bytes())}, Requester.of(None, "127.0.0.1")
    )
    files = stored_files(generation)
    assert len(files) == 2  # made with its thumbnail
    Generation.objects.filter(id=generation.id).update(status="cancelled")

    assert client.delete(f"/api/generations/{generation.id}").status_code == 200
    assert not any(default_storage.exists(name) for name in files)


# ---------------------------------------------------------------------------------- the admin


def post_delete_action(client, generations, confirmed: bool):
    data = {"action": "delete_generations", "_selected_action": [str(g.id) for g in generations]}
    if confirmed:
        data["confirmed"] = "yes"
    else:
        data["index"] = 0
    return client.post(ADMIN_LIST, data)


@pytest.mark.django_db(transaction=True)
def test_the_admin_action_asks_then_deletes_through_the_service(admin_client, client):
    done = with_thumbnail(make_generation(), client)
    running = make_generation(("streaming",) * 4, status="running")
    kept = make_generation()
    files = stored_files(done)

    confirm = post_delete_action(admin_client, [done, running], confirmed=False)

    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Delete 2 generations" in page
    assert "1 of them is still running and will be kept" in page
    assert 'name="confirmed" value="yes"' in page
    assert Generation.objects.count() == 3  # nothing happens before the confirmation

    response = post_delete_action(admin_client, [done, running], confirmed=True)

    assert response.status_code == 302
    assert set(Generation.objects.values_list("id", flat=True)) == {running.id, kept.id}
    assert not any(default_storage.exists(name) for name in files)
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"{running.id}: refused (conflict)" in note for note in notes), notes
    assert any("Deleted 1 generation" in note for note in notes), notes


def test_the_admin_action_needs_the_delete_permission(client):
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_generation"))
    generation = make_generation()
    client.force_login(viewer)

    page = client.get(ADMIN_LIST).content.decode()
    assert "retry_selected" in page
    assert "delete_generations" not in page
    post_delete_action(client, [generation], confirmed=True)
    assert Generation.objects.filter(id=generation.id).exists()

    viewer.user_permissions.add(Permission.objects.get(codename="delete_generation"))
    assert "delete_generations" in client.get(ADMIN_LIST).content.decode()
