"""The page's vocabulary: statuses, sets, labels and hints come from the server (json_script),
and the scripts keep no copy of them."""

import json
import re
from pathlib import Path

import pytest

from generations.models import GenerationStatus, Stack, VariantErrorCode, VariantStatus
from tests.factories import make_generation

pytestmark = pytest.mark.django_db

STATIC = Path(__file__).resolve().parent.parent / "generations" / "static" / "generations"
VOCABULARY = re.compile(
    r'<script id="clonegen-vocabulary" type="application/json">(.*?)</script>', re.S
)


def vocabulary_of(response) -> dict:
    assert response.status_code in (200, 404)
    found = VOCABULARY.findall(response.content.decode())
    assert len(found) == 1
    return json.loads(found[0])


def test_the_page_carries_the_whole_vocabulary(client):
    vocabulary = vocabulary_of(client.get("/"))
    assert vocabulary["generation_statuses"] == GenerationStatus.values
    assert vocabulary["active_generation_statuses"] == ["started", "running"]
    assert vocabulary["retryable_generation_statuses"] == [
        "partial",
        "failed",
        "cancelled",
        "interrupted",
    ]
    assert vocabulary["variant_statuses"] == VariantStatus.values
    assert vocabulary["active_variant_statuses"] == ["pending", "streaming"]
    assert vocabulary["ended_variant_statuses"] == [
        "completed",
        "failed",
        "cancelled",
        "interrupted",
    ]
    labels = vocabulary["variant_status_labels"]
    assert set(labels) == set(VariantStatus.values)
    assert (labels["pending"], labels["completed"], labels["failed"]) == (
        "waiting",
        "done",
        "failed",
    )
    hints = vocabulary["error_hints"]
    assert set(hints) == set(VariantErrorCode.values)
    assert all(hint.endswith(".") for hint in hints.values())
    assert vocabulary["stack_labels"] == dict(Stack.choices)


def test_every_page_carries_it(client):
    generation = make_generation()
    for path in (f"/g/{generation.id}", "/history", "/g/00000000-0000-0000-0000-000000000000"):
        assert vocabulary_of(client.get(path))["error_hints"], path


def test_the_scripts_keep_no_copy():
    scripts = {path.name: path.read_text() for path in STATIC.glob("*.js")}
    for name, text in scripts.items():
        if name == "vocabulary.js":
            continue
        for code in VariantErrorCode.values:
            assert f"{code}:" not in text, (name, code)
            assert f'"{code}"' not in text, (name, code)
        # A status set spelled out in a script is a copy of one in models.py.
        assert 'new Set(["' not in text, name
