"""The catalog's one model table: output caps, prices, and safe defaults for unknown names."""

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from generations.catalog import (
    MODELS,
    REQUESTED_MAX_TOKENS,
    UNKNOWN_MODEL,
    cost_usd,
    max_tokens_for,
    model_spec,
)
from generations.request_params import LEGACY_CHAT, SAFE_DEFAULT
from tests.support import DEFAULT_CHAINS


@pytest.mark.parametrize(
    ("model", "max_tokens"),
    [
        ("gpt-4o-2024-11-20", 16384),
        ("gpt-4o-2024-05-13", 4096),
        ("gpt-4.1-2025-04-14", REQUESTED_MAX_TOKENS),  # its cap (32768) is above the budget
        ("no-such-model", REQUESTED_MAX_TOKENS),
    ],
)
def test_each_model_gets_the_common_budget_capped_at_its_limit(model, max_tokens):
    assert max_tokens_for(model) == max_tokens


def test_prices_per_million_tokens():
    assert cost_usd("gpt-4o-2024-05-13", 1_000_000, 1_000_000) == Decimal("20.000000")
    assert cost_usd("gpt-4.1-2025-04-14", 1_000_000, 0) == Decimal("2.000000")
    assert cost_usd("gpt-4.1-mini", 0, 1_000_000) == Decimal("1.600000")
    # Rounded to six decimals, the column's precision.
    assert cost_usd("gpt-4.1-mini", 1, 0) == Decimal("0.000000")
    assert cost_usd("gpt-4.1-mini", 3, 0) == Decimal("0.000001")


def test_an_unknown_model_has_no_cost_and_the_usual_request():
    spec = model_spec("gpt-9-preview")
    assert spec is UNKNOWN_MODEL
    assert cost_usd("gpt-9-preview", 1000, 1000) is None
    # The request no current chat model refuses: max_completion_tokens, no temperature.
    assert spec.request == SAFE_DEFAULT
    assert spec.shutdown_date is None


def test_every_default_model_is_in_the_table_with_a_price():
    for chain in DEFAULT_CHAINS:
        for model in chain:
            spec = MODELS[model]
            assert spec.input_price is not None, model
            assert spec.output_price is not None, model


def test_every_default_model_takes_the_usual_request_and_shuts_down_on_2027_01_14():
    for chain in DEFAULT_CHAINS:
        for model in chain:
            assert MODELS[model].request == LEGACY_CHAT, model
            assert MODELS[model].shutdown_date == date(2027, 1, 14), model


def test_an_entry_cannot_be_changed_in_place():
    with pytest.raises(dataclasses.FrozenInstanceError):
        model_spec("gpt-4o").output_cap = 1  # type: ignore[misc]
