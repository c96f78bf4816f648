"""Request parameters per model: the options each kind of model is sent (issue 14)."""

import pytest

from generations.request_params import (
    LEGACY_CHAT,
    SAFE_DEFAULT,
    SUCCESSOR_PARAMS,
    RequestParams,
    request_options,
)


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
    for params in SUCCESSOR_PARAMS.values():
        assert "max_tokens" not in request_options(params, max_tokens=100)
    assert request_options(SUCCESSOR_PARAMS["gpt-6.1-sol"], max_tokens=5)["reasoning_effort"] == (
        "low"
    )


def test_gpt6_luna_runs_without_reasoning_and_deterministic():
    assert request_options(SUCCESSOR_PARAMS["gpt-6-luna"], max_tokens=20000) == {
        "max_completion_tokens": 20000,
        "reasoning_effort": "none",
        "temperature": 0,
    }
