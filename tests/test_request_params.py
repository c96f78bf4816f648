"""Request parameters per model: the options each kind of model is sent (issue 14)."""

import pytest

from generations.catalog import request_options_for
from generations.request_params import (
    LEGACY_CHAT,
    SAFE_DEFAULT,
    RequestParams,
    request_options,
)

SUCCESSORS = ("gpt-6-luna", "gpt-6-sol", "gpt-6.1-terra", "gpt-6.1-sol")


def test_legacy_models_get_what_clonegen_always_sent():
    assert request_options(LEGACY_CHAT, max_tokens=16384) == {"max_tokens": 16384, "temperature": 0}


def test_a_reasoning_model_gets_max_completion_tokens_and_reasoning_off():
    params = RequestParams(
        limit_parameter="max_completion_tokens", accepts_temperature=True, reasoning_effort="none"
    )
    assert request_options(params, max_tokens=20000) == {
        "max_completion_tokens": 20000,
        "reasoning_effort": "none",
        "temperature": 0,
    }


def test_temperature_is_never_sent_to_a_model_that_refuses_it():
    params = RequestParams(
        limit_parameter="max_completion_tokens", accepts_temperature=False, reasoning_effort="none"
    )
    assert request_options(params, max_tokens=100) == {
        "max_completion_tokens": 100,
        "reasoning_effort": "none",
    }


@pytest.mark.parametrize("effort", ["low", "medium"])
def test_temperature_is_left_out_while_the_model_reasons(effort):
    params = RequestParams(
        limit_parameter="max_completion_tokens", accepts_temperature=True, reasoning_effort=effort
    )
    assert request_options(params, max_tokens=100) == {
        "max_completion_tokens": 100,
        "reasoning_effort": effort,
    }


def test_an_unknown_model_gets_only_what_no_model_refuses():
    assert request_options(SAFE_DEFAULT, max_tokens=100) == {"max_completion_tokens": 100}


def test_the_successors_never_get_max_tokens():
    for model in SUCCESSORS:
        assert "max_tokens" not in request_options_for(model, 100)
    assert request_options_for("gpt-6.1-sol", 5)["reasoning_effort"] == "low"


def test_the_default_models_get_max_tokens_and_temperature_0():
    assert request_options_for("gpt-4o-2024-11-20", 16384) == {
        "max_tokens": 16384,
        "temperature": 0,
    }


def test_an_unknown_name_gets_the_safe_default_and_one_warning(caplog):
    with caplog.at_level("WARNING", logger="generations.catalog"):
        first = request_options_for("gpt-9-preview-x", 100)
        again = request_options_for("gpt-9-preview-x", 100)
    assert first == again == {"max_completion_tokens": 100}
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "gpt-9-preview-x" in caplog.records[0].getMessage()


def test_gpt6_luna_runs_without_reasoning_and_deterministic():
    assert request_options_for("gpt-6-luna", 20000) == {
        "max_completion_tokens": 20000,
        "reasoning_effort": "none",
        "temperature": 0,
    }
