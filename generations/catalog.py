"""The variants clonegen runs: fallback chains from CLONEGEN_MODELS, and each model's output cap."""

from dataclasses import dataclass
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
OUTPUT_TOKEN_CAPS = {
    "gpt-4o-2024-11-20": 16384,
    "gpt-4o-2024-08-06": 16384,
    "gpt-4o-2024-05-13": 4096,
    "gpt-4o": 16384,
    "gpt-4.1-2025-04-14": 32768,
    "gpt-4.1": 32768,
    "gpt-4.1-mini-2025-04-14": 32768,
    "gpt-4.1-mini": 32768,
}

# USD per million tokens (input, output), from OpenAI's published prices for these snapshots.
# A model missing here gets no cost rather than a wrong one.
PRICES_PER_MILLION_TOKENS = {
    "gpt-4o-2024-11-20": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-2024-08-06": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-2024-05-13": (Decimal("5.00"), Decimal("15.00")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-2025-04-14": (Decimal("2.00"), Decimal("8.00")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-4.1-mini-2025-04-14": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
}


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
    return min(REQUESTED_MAX_TOKENS, OUTPUT_TOKEN_CAPS.get(model, REQUESTED_MAX_TOKENS))


def cost_usd(model: str, prompt_tokens: int | None, completion_tokens: int | None):
    """Return the USD cost of one call, or None if the model's price or the usage is unknown."""
    prices = PRICES_PER_MILLION_TOKENS.get(model)
    if prices is None or prompt_tokens is None or completion_tokens is None:
        return None
    per_input, per_output = prices
    total = per_input * prompt_tokens + per_output * completion_tokens
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
