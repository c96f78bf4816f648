"""The prompts every model gets: a system prompt per stack and kind, the screenshot as an image.

Two kinds, each versioned on its own: a clone (screenshot -> page) and an edit (screenshot, the
parent variant's HTML and one instruction -> the changed page). Bump a version whenever its
wording changes; it is stored on each generation so results from different prompts are never
compared as if they were alike. Every model of a generation gets the same messages.
"""

import re

from generations.models import Stack

PROMPT_VERSION = "2026-11-26.1"
EDIT_PROMPT_VERSION = "2026-11-30.edit.1"

_STACK_RULES = {
    Stack.HTML_TAILWIND: (
        "HTML page styled with Tailwind CSS.\n"
        '- Load Tailwind with <script src="https://cdn.tailwindcss.com"></script> in <head>; '
        "style with Tailwind utility classes."
    ),
    Stack.HTML_CSS: (
        "HTML page styled with plain CSS.\n"
        "- Put all CSS in one <style> element in <head>; no frameworks, no external stylesheets."
    ),
}

_ANSWER_RULES = """
- Write the complete page. Never abbreviate with comments such as "<!-- more items -->";
  repeat repeated elements in full.
- For images use https://placehold.co placeholders of the right size, with a descriptive alt.
- Answer with one complete HTML document, from <!DOCTYPE html> to </html>, in a single
  ```html fenced block, and nothing else.
"""

_COMMON_RULES = (
    """
- Reproduce the screenshot as faithfully as you can: layout, spacing, colours, font sizes,
  borders, alignment and every piece of visible text, word for word."""
    + _ANSWER_RULES
)

_EDIT_RULES = (
    """
- You are given a screenshot of the page, the page's current HTML and one change the user
  asks for. Apply that change to the current HTML.
- Keep everything the change does not touch exactly as it is in the current HTML: structure,
  text, classes and styles. Where the change says nothing, the screenshot stays the reference
  for how the page looks."""
    + _ANSWER_RULES
)

SYSTEM_PROMPTS = {
    stack: "You are an expert front-end developer who turns screenshots of web pages into a "
    f"single {rules}{_COMMON_RULES}"
    for stack, rules in _STACK_RULES.items()
}

EDIT_SYSTEM_PROMPTS = {
    stack: "You are an expert front-end developer who changes a web page, built from a "
    f"screenshot, as its user asks. The page is a single {rules}{_EDIT_RULES}"
    for stack, rules in _STACK_RULES.items()
}


def build_messages(*, stack: str, image_data_url: str, instructions: str) -> list[dict]:
    """Return the chat messages for one generation: system prompt, then the screenshot."""
    request = "Build this page."
    if instructions.strip():
        request += f"\n\nExtra instructions from the user:\n{instructions.strip()}"
    return _messages(SYSTEM_PROMPTS[Stack(stack)], image_data_url, request)


def build_edit_messages(
    *, stack: str, image_data_url: str, parent_html: str, instructions: str
) -> list[dict]:
    """Return the chat messages for an edit: the edit system prompt for the stack, then the
    parent generation's screenshot, the parent variant's HTML and the instruction.

    Only that one HTML document travels, never earlier versions or instructions: an edit costs
    the same however long its lineage is.
    """
    if not instructions.strip():
        raise ValueError("An edit needs a non-empty instruction.")
    request = (
        "The current HTML of the page:\n\n"
        f"{_fenced(parent_html)}\n\n"
        f"The change to make:\n{instructions.strip()}"
    )
    return _messages(EDIT_SYSTEM_PROMPTS[Stack(stack)], image_data_url, request)


def _messages(system_prompt: str, image_data_url: str, text: str) -> list[dict]:
    return [
        {"role": "system", "content": system_prompt},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image_data_url, "detail": "high"}},
                {"type": "text", "text": text},
            ],
        },
    ]


def _fenced(html: str) -> str:
    """`html` in a Markdown fence longer than any backtick run inside it, so it cannot end early."""
    longest = max((len(run) for run in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}html\n{html}\n{fence}"
