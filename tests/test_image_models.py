"""The image model table: costs from reported usage, the estimate shown before a run, and a
model clonegen does not know."""

import logging
from decimal import Decimal

from generations.image_models import DEFAULT_IMAGE_MODEL, IMAGE_MODELS, image_model


def test_the_default_image_model_has_prices():
    assert DEFAULT_IMAGE_MODEL in IMAGE_MODELS
    model = image_model(DEFAULT_IMAGE_MODEL)
    # 20 text tokens at $5 and 196 image tokens at $30 per million.
    assert model.cost_usd(20, 196) == Decimal("0.005980")
    assert model.cost_usd(None, 196) is None


def test_the_estimate_grows_with_the_area():
    model = image_model(DEFAULT_IMAGE_MODEL)
    assert model.estimated_cost_usd() == Decimal("0.0059")
    assert model.estimated_cost_usd(1536, 1024) == Decimal("0.0088")


def test_an_unknown_image_model_gets_standard_sizes_no_cost_and_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="generations.image_models"):
        first = image_model("gpt-image-9-unknown")
        image_model("gpt-image-9-unknown")

    assert first.sizes == ((1024, 1024), (1536, 1024), (1024, 1536))
    assert first.cost_usd(10, 200) is None
    assert first.estimated_cost_usd() is None
    assert caplog.text.count("CLONEGEN_IMAGE_MODEL=gpt-image-9-unknown") == 1
