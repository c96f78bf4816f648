"""Request parameters per model: how to ask each model for a bounded answer without reasoning,
so that moving to a successor model is a change of CLONEGEN_MODELS alone (issue 14; the
sources are in docs/decisions.md, "Models over time: successors")."""

from dataclasses import dataclass
from typing import Literal

LimitParameter = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class RequestParams:
    """What one model accepts.

    `limit_parameter`: the name its output limit goes under (reasoning models refuse
    `max_tokens` with a 400). `accepts_temperature`: False for a model that refuses any
    temperature but its default (a 400, final). `reasoning_effort`: sent as is when set; "none"
    turns reasoning off on models that reason by default and allow it off.
    """

    limit_parameter: LimitParameter = "max_tokens"
    accepts_temperature: bool = True
    reasoning_effort: str | None = None


# The GPT-4o and GPT-4.1 families: what clonegen has always sent them.
LEGACY_CHAT = RequestParams()
# A model clonegen does not know: the parameters no current OpenAI chat model refuses. Every
# chat model takes max_completion_tokens; temperature and reasoning_effort are left out
# because some models refuse each of them.
SAFE_DEFAULT = RequestParams(limit_parameter="max_completion_tokens", accepts_temperature=False)


def request_options(
    params: RequestParams, *, max_tokens: int, temperature: float = 0
) -> dict[str, object]:
    """Return the chat completion options that bound the answer to `max_tokens` and, where the
    model allows, make it deterministic and without reasoning.

    Temperature is sent only to a model that accepts it, and only with reasoning off (effort
    unset or "none"): the GPT-5.x models accept a temperature only when reasoning is off.
    """
    options: dict[str, object] = {params.limit_parameter: max_tokens}
    if params.reasoning_effort is not None:
        options["reasoning_effort"] = params.reasoning_effort
    if params.accepts_temperature and params.reasoning_effort in (None, "none"):
        options["temperature"] = temperature
    return options


# Successors of the models that shut down on 2027-01-14, as far as the sources confirm their
# parameters (docs/decisions.md, "Models over time: successors"). GPT-6 rule (OpenAI's
# deployment checklist): with reasoning effort other than "none", no temperature. For the one
# model table: a model not listed here gets SAFE_DEFAULT.
_NO_REASONING = RequestParams(
    limit_parameter="max_completion_tokens", accepts_temperature=True, reasoning_effort="none"
)
SUCCESSOR_PARAMS = {
    # OpenAI's recommended replacement for GPT-4o and GPT-4.1, migrated with effort "none".
    "gpt-6-luna": _NO_REASONING,
    "gpt-6-sol": _NO_REASONING,
    # No official page seen for its parameters: reasoning off, temperature left out.
    "gpt-6.1-terra": RequestParams(
        limit_parameter="max_completion_tokens",
        accepts_temperature=False,
        reasoning_effort="none",
    ),
    # Refuses "none" and "minimal": "low" is the least reasoning it does, so no temperature.
    "gpt-6.1-sol": RequestParams(
        limit_parameter="max_completion_tokens",
        accepts_temperature=False,
        reasoning_effort="low",
    ),
    # OpenAI's GPT-5.4 parameter guide: temperature is accepted with effort "none".
    "gpt-5.4": _NO_REASONING,
}
