"""Generated HTML is untrusted: shown anywhere, it runs without the app's origin, so it can
neither read the user's cookies nor call the API with the user's session."""

import json
import subprocess
import sys

import httpx2 as httpx
import pytest

from tests.support import REPO, data_url, png_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.ui]

HOSTILE_PAGE = """Here you go:
```html
<!DOCTYPE html>
<html><body><pre id="out">running</pre>
<script>
const seen = [];
try { seen.push("cookie:" + JSON.stringify(document.cookie)); }
catch (error) { seen.push("cookie-blocked:" + error.name); }
fetch("APP/api/generations", {credentials: "include"})
  .then((answer) => answer.text())
  .then((text) => seen.push("api-read:" + text.slice(0, 60)),
        () => seen.push("api-blocked"))
  .finally(() => { document.getElementById("out").textContent = seen.join(" "); });
</script>
</body></html>
```
"""


def log_in(server) -> httpx.Client:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "ada",
            "--email",
            "ada@example.com",
        ],
        cwd=REPO,
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": "correct horse 42"},
        check=True,
        capture_output=True,
    )
    session = httpx.Client(base_url=server.base_url)
    session.get("/accounts/login/")
    answer = session.post(
        "/accounts/login/",
        data={"username": "ada", "password": "correct horse 42"},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": server.base_url},
    )
    assert answer.status_code == 302, answer.text
    return session


def test_generated_html_cannot_use_the_app_origin(daphne, standin, browser):
    server = daphne(CLONEGEN_REQUIRE_LOGIN="1", CLONEGEN_MODELS="hostile")
    standin.text_for = lambda model: HOSTILE_PAGE.replace("APP", server.base_url)
    session = log_in(server)
    created = session.post(
        "/api/generations",
        json={"image": data_url(png_bytes())},
        headers={"X-CSRFToken": session.cookies["csrftoken"]},
    )
    assert created.status_code == 202, created.text
    generation_id = created.json()["data"]["id"]

    context = browser.new_context()
    try:
        context.add_cookies(
            [
                {"name": name, "value": value, "url": server.base_url}
                for name, value in session.cookies.items()
            ]
        )
        page = context.new_page()
        # The app's own API works for the logged-in user in this browser...
        page.goto(f"{server.base_url}/api/generations/{generation_id}")
        assert json.loads(page.inner_text("body"))["success"] is True
        # ...but the generated page, opened full size, runs in an opaque origin.
        page.goto(f"{server.base_url}/api/generations/{generation_id}/variants/0/html")
        page.wait_for_function("document.getElementById('out').textContent !== 'running'")
        seen = page.inner_text("#out")
    finally:
        context.close()

    assert "cookie-blocked:SecurityError" in seen
    assert "api-blocked" in seen
    assert "api-read" not in seen
