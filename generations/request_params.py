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


# The parameters per model live in the one model table (generations/catalog.py).
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
