"""The prompt every model gets: a system prompt per stack, the screenshot as an image part.

Bump PROMPT_VERSION whenever the wording changes; it is stored on each generation so results
from different prompts are never compared as if they were alike.
"""

from generations.models import Stack

PROMPT_VERSION = "2026-11-26.1"

_COMMON_RULES = """
- Reproduce the screenshot as faithfully as you can: layout, spacing, colours, font sizes,
  borders, alignment and every piece of visible text, word for word.
- Write the complete page. Never abbreviate with comments such as "<!-- more items -->";
  repeat repeated elements in full.
- For images use https://placehold.co placeholders of the right size, with a descriptive alt.
- Answer with one complete HTML document, from <!DOCTYPE html> to </html>, in a single
  ```html fenced block, and nothing else.
"""

SYSTEM_PROMPTS = {
    Stack.HTML_TAILWIND: (
        "You are an expert front-end developer who turns screenshots of web pages into a single "
        "HTML page styled with Tailwind CSS.\n"
        '- Load Tailwind with <script src="https://cdn.tailwindcss.com"></script> in <head>; '
        "style with Tailwind utility classes." + _COMMON_RULES
    ),
    Stack.HTML_CSS: (
        "You are an expert front-end developer who turns screenshots of web pages into a single "
        "HTML page styled with plain CSS.\n"
        "- Put all CSS in one <style> element in <head>; no frameworks, no external stylesheets."
        + _COMMON_RULES
    ),
}


def build_messages(*, stack: str, image_data_url: str, instructions: str) -> list[dict]:
    """Return the chat messages for one generation: system prompt, then the screenshot."""
    request = "Build this page."
    if instructions.strip():
        request += f"\n\nExtra instructions from the user:\n{instructions.strip()}"
    return [
        {"role": "system", "content": SYSTEM_PROMPTS[Stack(stack)]},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image_data_url, "detail": "high"}},
                {"type": "text", "text": request},
            ],
        },
    ]
