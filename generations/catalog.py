"""The variants clonegen runs (fallback chains from CLONEGEN_MODELS) and the one table of what
clonegen knows of each model: output cap, prices, request parameters."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings

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

    Prices are USD per million tokens, from OpenAI's published prices for these snapshots; a
    model without one gets no cost rather than a wrong one. The request fields default to what
    every model takes today.
    """

    output_cap: int = REQUESTED_MAX_TOKENS
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    # "max_tokens", or "max_completion_tokens" for models that refuse the older name.
    token_param: str = "max_tokens"  # noqa: S105 (a parameter name, not a secret)
    accepts_temperature: bool = True
    reasoning_effort: str | None = None
    # The day OpenAI retires the model, when announced.
    shutdown_date: date | None = None


def _priced(output_cap: int, input_price: str, output_price: str) -> ModelSpec:
    return ModelSpec(output_cap, Decimal(input_price), Decimal(output_price))


MODELS: dict[str, ModelSpec] = {
    "gpt-4o-2024-11-20": _priced(16384, "2.50", "10.00"),
    "gpt-4o-2024-08-06": _priced(16384, "2.50", "10.00"),
    "gpt-4o-2024-05-13": _priced(4096, "5.00", "15.00"),
    "gpt-4o": _priced(16384, "2.50", "10.00"),
    "gpt-4.1-2025-04-14": _priced(32768, "2.00", "8.00"),
    "gpt-4.1": _priced(32768, "2.00", "8.00"),
    "gpt-4.1-mini-2025-04-14": _priced(32768, "0.40", "1.60"),
    "gpt-4.1-mini": _priced(32768, "0.40", "1.60"),
}
# A model missing from the table: the common budget, no price, the usual request.
UNKNOWN_MODEL = ModelSpec()


def model_spec(model: str) -> ModelSpec:
    """Return what clonegen knows of `model`, or safe defaults for a name it does not know."""
    return MODELS.get(model, UNKNOWN_MODEL)


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
