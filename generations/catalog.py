"""The variants clonegen runs (fallback chains from CLONEGEN_MODELS) and the one table of what
clonegen knows of each model: output cap, prices, request parameters."""

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings

from generations.request_params import LEGACY_CHAT, SAFE_DEFAULT, RequestParams, request_options

logger = logging.getLogger(__name__)

DEFAULT_MODELS = (
    "gpt-4o-2024-11-20|gpt-4o,"
    "gpt-4.1-2025-04-14|gpt-4.1,"
    "gpt-4.1-mini-2025-04-14|gpt-4.1-mini,"
    "gpt-4o-2024-08-06|gpt-4o"
)

# Every variant asks for the same budget so the comparison is fair; a model whose own output
# limit is lower gets its limit, because the API answers 400 to a larger max_tokens.
REQUESTED_MAX_TOKENS = 20000


@dataclass(frozen=True)
class ModelSpec:
    """What clonegen knows of one model: its output cap, its price and how to ask it.

    Prices are USD per million tokens, from OpenAI's published prices (the successors' sources
    are in docs/decisions.md, "Models over time: successors"); a model without one gets no
    cost rather than a wrong one. `request` says which limit parameter, temperature and
    reasoning effort the model takes (generations/request_params.py).
    """

    output_cap: int = REQUESTED_MAX_TOKENS
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    request: RequestParams = LEGACY_CHAT
    # The day OpenAI retires the model, as announced (the live `GET /v1/models` listing, read
    # by generations/model_status.py, is the authority; this is what was known when written).
    shutdown_date: date | None = None


# Announced for every GPT-4o and GPT-4.1 name (the SDK's model list, OpenAI's deprecations page).
_GPT4_SHUTDOWN = date(2027, 1, 14)
# GPT-6 models reason by default; with effort "none" they take temperature 0 (docs/decisions.md).
_NO_REASONING = RequestParams(
    limit_parameter="max_completion_tokens", accepts_temperature=True, reasoning_effort="none"
)


def _gpt4(output_cap: int, input_price: str, output_price: str) -> ModelSpec:
    return ModelSpec(
        output_cap, Decimal(input_price), Decimal(output_price), shutdown_date=_GPT4_SHUTDOWN
    )


def _successor(input_price: str, output_price: str, request: RequestParams) -> ModelSpec:
    return ModelSpec(128_000, Decimal(input_price), Decimal(output_price), request)


MODELS: dict[str, ModelSpec] = {
    "gpt-4o-2024-11-20": _gpt4(16384, "2.50", "10.00"),
    "gpt-4o-2024-08-06": _gpt4(16384, "2.50", "10.00"),
    "gpt-4o-2024-05-13": _gpt4(4096, "5.00", "15.00"),
    "gpt-4o": _gpt4(16384, "2.50", "10.00"),
    "gpt-4.1-2025-04-14": _gpt4(32768, "2.00", "8.00"),
    "gpt-4.1": _gpt4(32768, "2.00", "8.00"),
    "gpt-4.1-mini-2025-04-14": _gpt4(32768, "0.40", "1.60"),
    "gpt-4.1-mini": _gpt4(32768, "0.40", "1.60"),
    # Successors for after 2027-01-14 (README, "Models over time").
    "gpt-6-luna": _successor("0.10", "0.50", _NO_REASONING),
    "gpt-6-sol": _successor("2.00", "10.00", _NO_REASONING),
    # No official page seen for its parameters: reasoning off, temperature left out.
    "gpt-6.1-terra": _successor(
        "1.00",
        "5.00",
        RequestParams(
            limit_parameter="max_completion_tokens",
            accepts_temperature=False,
            reasoning_effort="none",
        ),
    ),
    # Refuses "none": "low" is the least reasoning it does, so no temperature.
    "gpt-6.1-sol": _successor(
        "2.00",
        "10.00",
        RequestParams(
            limit_parameter="max_completion_tokens",
            accepts_temperature=False,
            reasoning_effort="low",
        ),
    ),
}
# A model missing from the table: the common budget, no price, and the request no current
# OpenAI chat model refuses (SAFE_DEFAULT).
UNKNOWN_MODEL = ModelSpec(request=SAFE_DEFAULT)
_warned_unknown: set[str] = set()


def model_spec(model: str) -> ModelSpec:
    """Return what clonegen knows of `model`, or safe defaults (and one warning in the log)
    for a name it does not know."""
    spec = MODELS.get(model)
    if spec is not None:
        return spec
    if model not in _warned_unknown:
        _warned_unknown.add(model)
        logger.warning(
            "Model %r is not in clonegen's model table (generations/catalog.py): no cost, and "
            "only max_completion_tokens is sent",
            model,
        )
    return UNKNOWN_MODEL


def request_options_for(model: str, max_tokens: int) -> dict[str, object]:
    """Return the options that bound `model`'s answer to `max_tokens`, without reasoning and at
    temperature 0 where the model allows (the table's `request`)."""
    return request_options(model_spec(model).request, max_tokens=max_tokens)


@dataclass(frozen=True)
class VariantSpec:
    """One column of the comparison: a model and the models to fall back to, in order."""

    index: int
    chain: tuple[str, ...]

    @property
    def requested_model(self) -> str:
        return self.chain[0]


def max_tokens_for(model: str) -> int:
    """Return the max_tokens to send to `model`: the common budget, capped at its output limit."""
    return min(REQUESTED_MAX_TOKENS, model_spec(model).output_cap)


def cost_usd(
    model: str, prompt_tokens: int | None, completion_tokens: int | None
) -> Decimal | None:
    """Return the USD cost of one call, or None if the model's price or the usage is unknown."""
    spec = model_spec(model)
    if spec.input_price is None or spec.output_price is None:
        return None
    if prompt_tokens is None or completion_tokens is None:
        return None
    total = spec.input_price * prompt_tokens + spec.output_price * completion_tokens
    return (total / 1_000_000).quantize(Decimal("0.000001"))


def parse_models(raw: str) -> tuple[VariantSpec, ...]:
    """Parse 'a|b,c' into variant specs; raise ValueError naming CLONEGEN_MODELS if empty."""
    specs = []
    for variant in raw.split(","):
        chain = tuple(model.strip() for model in variant.split("|") if model.strip())
        if chain:
            specs.append(VariantSpec(index=len(specs), chain=chain))
    if not specs:
        raise ValueError(f"CLONEGEN_MODELS names no model: {raw!r}")
    return tuple(specs)


def configured_variants() -> tuple[VariantSpec, ...]:
    """Return the variants to run for a new generation, from settings.CLONEGEN_MODELS."""
    return parse_models(settings.CLONEGEN_MODELS or DEFAULT_MODELS)
