"""The edit prompt: the parent's screenshot, the parent variant's HTML and the instruction."""

import pytest

from generations.models import Generation
from generations.prompts import (
    EDIT_PROMPT_VERSION,
    PROMPT_VERSION,
    SYSTEM_PROMPTS,
    build_edit_messages,
    build_messages,
)

IMAGE = "data:image/png;base64,iVBORw0KGgo="
PARENT_HTML = (
    '<!DOCTYPE html><html><body><header class="bg-red-500">Shop</header>'
    "<p>Use ```code``` here</p></body></html>"
)


def edit(**kwargs) -> list[dict]:
    arguments = {
        "stack": "html_tailwind",
        "image_data_url": IMAGE,
        "parent_html": PARENT_HTML,
        "instructions": "  make the header blue \n",
    }
    return build_edit_messages(**{**arguments, **kwargs})


def text_of(messages) -> str:
    return "\n".join(p["text"] for p in messages[1]["content"] if p["type"] == "text")


def test_one_system_prompt_and_one_user_message_carrying_screenshot_html_and_instruction():
    messages = edit()
    assert [m["role"] for m in messages] == ["system", "user"]
    parts = messages[1]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": IMAGE, "detail": "high"}}
    text = text_of(messages)
    assert text.count(PARENT_HTML) == 1
    assert text.endswith("The change to make:\nmake the header blue")


def test_the_html_sits_in_a_fence_its_own_backticks_cannot_close():
    text = text_of(edit())
    assert "````html\n" + PARENT_HTML + "\n````" in text
    plain = text_of(edit(parent_html="<html></html>"))
    assert "```html\n<html></html>\n```" in plain


@pytest.mark.parametrize("stack", ["html_tailwind", "html_css"])
def test_the_edit_system_prompt_keeps_the_stack_rules_and_the_answer_format(stack):
    system = edit(stack=stack)[0]["content"]
    assert system != SYSTEM_PROMPTS[stack]
    assert ("Tailwind" in system) == (stack == "html_tailwind")
    assert "<!DOCTYPE html>" in system
    assert "</html>" in system
    assert "current HTML" in system


def test_the_same_input_gives_the_same_messages_for_every_model():
    assert edit() == edit()


def test_an_edit_prompt_differs_from_the_clone_prompt_of_the_same_stack():
    clone = build_messages(stack="html_css", image_data_url=IMAGE, instructions="")
    assert edit(stack="html_css")[0]["content"] != clone[0]["content"]


@pytest.mark.parametrize("instructions", ["", "   \n"])
def test_an_empty_instruction_is_refused(instructions):
    with pytest.raises(ValueError, match="instruction"):
        edit(instructions=instructions)


def test_an_unknown_stack_is_refused():
    with pytest.raises(ValueError, match="react"):
        edit(stack="react")


def test_edit_prompts_have_their_own_version_that_fits_the_column():
    assert EDIT_PROMPT_VERSION != PROMPT_VERSION
    field = Generation._meta.get_field("prompt_version")
    assert len(EDIT_PROMPT_VERSION) <= field.max_length
