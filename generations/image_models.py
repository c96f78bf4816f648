"""The image models clonegen can fill placeholders with: sizes each accepts, what it is asked
for, and what it costs (contract §11; prices and choice in docs/decisions.md)."""

import logging
from dataclasses import dataclass
from decimal import Decimal

logger = logging.getLogger(__name__)

# The SDK's own default image model (openai 3.57.0, the image_generation tool's `model`).
DEFAULT_IMAGE_MODEL = "gpt-image-2.6-sunburst"

# Every GPT image model accepts these three (the SDK's `size` documentation); newer ones accept
# more, but a page placeholder is re-scaled by the browser anyway, so the aspect ratio is what
# matters and these cover landscape, square and portrait.
STANDARD_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ImageModel:
    """One image model: the sizes it is asked for, and its token prices in USD per million."""

    name: str
    sizes: tuple[tuple[int, int], ...] = STANDARD_SIZES
    # "low" already looks right as a page illustration and costs the fewest output tokens.
    quality: str = "low"
    text_input_per_million: Decimal | None = None
    image_output_per_million: Decimal | None = None
    # Output tokens of one `quality` image at 1024x1024, for the estimate shown before a run.
    estimated_output_tokens: int | None = None

    def cost_usd(self, input_tokens: int | None, output_tokens: int | None) -> Decimal | None:
        """Return what one call cost from its reported usage, or None if a price is unknown."""
        if None in (self.text_input_per_million, self.image_output_per_million):
            return None
        if input_tokens is None or output_tokens is None:
            return None
        total = (
            self.text_input_per_million * input_tokens
            + self.image_output_per_million * output_tokens
        )
        return (total / PER_MILLION).quantize(Decimal("0.000001"))

    def estimated_cost_usd(self, width: int = 1024, height: int = 1024) -> Decimal | None:
        """Return a rough per-image cost at one size (output tokens scale with the area)."""
        if self.estimated_output_tokens is None or self.image_output_per_million is None:
            return None
        tokens = Decimal(self.estimated_output_tokens) * width * height / (1024 * 1024)
        return (tokens * self.image_output_per_million / PER_MILLION).quantize(Decimal("0.0001"))


# Official model pages: text input $5, image output $30 per million tokens for both 2.6 models
# (docs/decisions.md names the sources). The token estimate is a third-party measurement of a
# low-quality 1024x1024 image (196 tokens); it only feeds the estimate, never a recorded cost.
IMAGE_MODELS = {
    model.name: model
    for model in (
        ImageModel(
            "gpt-image-2.6-sunburst",
            text_input_per_million=Decimal("5.00"),
            image_output_per_million=Decimal("30.00"),
            estimated_output_tokens=196,
        ),
        ImageModel(
            "gpt-image-2.6-flare",
            text_input_per_million=Decimal("5.00"),
            image_output_per_million=Decimal("30.00"),
            estimated_output_tokens=196,
        ),
    )
}

_warned: set[str] = set()


def image_model(name: str) -> ImageModel:
    """Return the entry for `name`; an unknown name gets the standard sizes and no price."""
    if name in IMAGE_MODELS:
        return IMAGE_MODELS[name]
    if name not in _warned:
        _warned.add(name)
        logger.warning(
            "CLONEGEN_IMAGE_MODEL=%s is not in clonegen's image model table: standard sizes, "
            "no cost recorded.",
            name,
        )
    return ImageModel(name)


def nearest_size(model: ImageModel, width: int | None, height: int | None) -> tuple[int, int]:
    """Return the size `model` accepts whose aspect ratio is closest to width x height.

    With one side unknown the placeholder is taken to be square; equal distances go to the
    first size listed (square before landscape before portrait).
    """
    if not width or not height:
        width = height = width or height or 1
    wanted = width / height

    def distance(size: tuple[int, int]) -> float:
        ratio = size[0] / size[1]
        return max(ratio, wanted) / min(ratio, wanted)

    return min(model.sizes, key=distance)
