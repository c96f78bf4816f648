"""The model variants (contract §4), each model's max_tokens, and the prompt the models get."""

import pytest

from generations.catalog import (
    DEFAULT_MODELS,
    configured_variants,
    max_tokens_for,
    parse_models,
)
from generations.prompts import build_messages
from tests.support import DEFAULT_CHAINS, data_url, png_bytes

CONTRACT_DEFAULT = (
    "gpt-4o-2024-11-20|gpt-4o,gpt-4.1-2025-04-14|gpt-4.1,"
    "gpt-4.1-mini-2025-04-14|gpt-4.1-mini,gpt-4o-2024-08-06|gpt-4o"
)


def chains(specs) -> list[tuple[str, ...]]:
    return [spec.chain for spec in specs]


def test_default_string_gives_four_variants_with_their_chains():
    specs = parse_models(CONTRACT_DEFAULT)
    assert chains(specs) == list(DEFAULT_CHAINS)
    assert [spec.index for spec in specs] == [0, 1, 2, 3]
    assert [spec.requested_model for spec in specs] == [chain[0] for chain in DEFAULT_CHAINS]


def test_built_in_default_is_the_contracts():
    assert chains(parse_models(DEFAULT_MODELS)) == list(DEFAULT_CHAINS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(" a | b , c ", [("a", "b"), ("c",)], id="spaces-around-names"),
        pytest.param("a|b,\n c\t", [("a", "b"), ("c",)], id="newlines-and-tabs"),
        pytest.param("a,,b,", [("a",), ("b",)], id="empty-variants-skipped"),
        pytest.param("a||b|", [("a", "b")], id="empty-chain-entries-skipped"),
        pytest.param("gpt-4.1", [("gpt-4.1",)], id="single-model"),
    ],
)
def test_parse_models_tolerates_whitespace_and_blanks(raw, expected):
    specs = parse_models(raw)
    assert chains(specs) == expected
    assert [spec.index for spec in specs] == list(range(len(expected)))


@pytest.mark.parametrize("raw", ["", "   ", ",", " , | ,", "|"])
def test_parse_models_without_a_model_names_the_setting(raw):
    with pytest.raises(ValueError, match="CLONEGEN_MODELS"):
        parse_models(raw)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param("gpt-4o-2024-11-20", 16384, id="gpt-4o-2024-11-20"),
        pytest.param("gpt-4o-2024-08-06", 16384, id="gpt-4o-2024-08-06"),
        pytest.param("gpt-4o", 16384, id="gpt-4o"),
        pytest.param("gpt-4.1-2025-04-14", 20000, id="gpt-4.1-snapshot"),
        pytest.param("gpt-4.1", 20000, id="gpt-4.1"),
        pytest.param("gpt-4.1-mini-2025-04-14", 20000, id="gpt-4.1-mini-snapshot"),
        pytest.param("gpt-4.1-mini", 20000, id="gpt-4.1-mini"),
        pytest.param("some-future-model", 20000, id="unknown-model"),
    ],
)
def test_max_tokens_is_20000_capped_at_the_models_limit(model, expected):
    assert max_tokens_for(model) == expected


def test_configured_variants_honour_the_setting(settings):
    settings.CLONEGEN_MODELS = "model-a|model-b, model-c"
    assert chains(configured_variants()) == [("model-a", "model-b"), ("model-c",)]


def test_configured_variants_default_when_the_setting_is_empty(settings):
    settings.CLONEGEN_MODELS = ""
    assert chains(configured_variants()) == list(DEFAULT_CHAINS)


def test_configured_variants_refuse_a_setting_without_models(settings):
    settings.CLONEGEN_MODELS = " , "
    with pytest.raises(ValueError, match="CLONEGEN_MODELS"):
        configured_variants()


IMAGE = data_url(png_bytes(32, 32))


def system_prompt(stack: str) -> str:
    messages = build_messages(stack=stack, image_data_url=IMAGE, instructions="")
    assert messages[0]["role"] == "system"
    return messages[0]["content"]


def user_parts(**kwargs) -> list[dict]:
    messages = build_messages(**{"stack": "html_tailwind", "image_data_url": IMAGE, **kwargs})
    assert [message["role"] for message in messages] == ["system", "user"]
    return messages[1]["content"]


def user_text(**kwargs) -> str:
    return "\n".join(part["text"] for part in user_parts(**kwargs) if part["type"] == "text")


def test_system_prompt_differs_per_stack():
    tailwind, plain = system_prompt("html_tailwind"), system_prompt("html_css")
    assert tailwind != plain
    assert "Tailwind" in tailwind
    assert "tailwind" not in plain.lower()
    assert "CSS" in plain


@pytest.mark.parametrize("stack", ["html_tailwind", "html_css"])
def test_system_prompt_asks_for_one_complete_document(stack):
    prompt = system_prompt(stack)
    assert "<!DOCTYPE html>" in prompt
    assert "</html>" in prompt


def test_unknown_stack_is_refused():
    with pytest.raises(ValueError, match="react"):
        build_messages(stack="react", image_data_url=IMAGE, instructions="")


def test_screenshot_is_an_image_part_carrying_the_data_url():
    images = [part for part in user_parts(instructions="") if part["type"] == "image_url"]
    assert len(images) == 1
    assert images[0]["image_url"]["url"] == IMAGE


def test_instructions_appear_when_given():
    text = user_text(instructions="  Use a dark theme, please.  ")
    assert "Use a dark theme, please." in text


@pytest.mark.parametrize("instructions", ["", "   ", "\n\t"])
def test_no_instructions_section_when_none_given(instructions):
    assert user_text(instructions=instructions) == user_text(instructions="")
    assert "instruction" not in user_text(instructions=instructions).lower()
