"""The page a variant shows (`html`, else `raw_html`) and a generation's total cost: one
property each, and every reader (API, HTML endpoint, admin) agrees with it."""

from decimal import Decimal

import pytest

from generations.models import Generation, Variant, VariantErrorCode
from tests.factories import make_generation, page_html

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("html", "raw_html", "shown"),
    [
        ("<p>post</p>", "<p>raw</p>", "<p>post</p>"),
        (None, "<p>raw</p>", "<p>raw</p>"),
        ("", "<p>raw</p>", ""),  # an empty page is a page, not a missing one
        (None, None, None),
    ],
)
def test_shown_html(html, raw_html, shown):
    assert Variant(html=html, raw_html=raw_html).shown_html == shown


def test_a_page_not_yet_post_processed_is_shown_as_extracted(client):
    generation = make_generation()
    Variant.objects.filter(generation=generation, index=0).update(html=None, raw_html="<p>raw</p>")

    data = client.get(f"/api/generations/{generation.id}").json()["data"]
    assert data["html"] == "<p>raw</p>"
    assert data["chosen_index"] is None  # the fallback page, not a user's choice
    first = data["variants"][0]
    assert (first["html"], first["raw_html"]) == ("<p>raw</p>", "<p>raw</p>")
    assert data["variants"][1]["html"] == page_html(1)
    page = client.get(f"/api/generations/{generation.id}/variants/0/html")
    assert page.content == b"<p>raw</p>"


def test_total_cost():
    generation = make_generation()
    assert Generation.objects.get(id=generation.id).total_cost_usd is None
    Variant.objects.filter(generation=generation, index__in=(0, 2)).update(cost_usd=Decimal("0.25"))
    assert Generation.objects.get(id=generation.id).total_cost_usd == Decimal("0.5")


def test_the_error_codes_are_the_contracts():
    # The contract's variant.failed codes, and internal_error for a run clonegen itself could
    # not carry out (docs/decisions.md, "A run that breaks").
    assert set(VariantErrorCode.values) == {
        "internal_error",
        "model_unavailable",
        "rate_limited",
        "quota_exceeded",
        "auth_failed",
        "bad_request",
        "upstream_error",
        "timeout",
        "stream_broken",
    }
    assert Variant._meta.get_field("error_code").choices == VariantErrorCode.choices


def test_the_admin_previews_the_shown_page_and_names_the_error(admin_client):
    generation = make_generation(("completed", "failed", "completed", "completed"))
    Variant.objects.filter(generation=generation, index=0).update(html=None, raw_html="<p>raw</p>")
    Variant.objects.filter(generation=generation, index=1).update(
        error_code=VariantErrorCode.TIMEOUT, error_message="No answer in 600 s."
    )
    Variant.objects.filter(generation=generation, index=2).update(cost_usd=Decimal("0.125"))

    page = admin_client.get(f"/admin/generations/generation/{generation.id}/change/")
    text = page.content.decode()
    assert f"/api/generations/{generation.id}/variants/0/html" in text
    assert "timeout: The model did not finish in time." in text
    assert "$0.1250" in text
