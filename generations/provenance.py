"""Telling the local stand-in's output from a model's, for records older than the `demo` flag.

New generations record `demo` when they are created (demo mode: no OPENAI_API_KEY). Records
made before that flag existed (rows migrated by 0004, exports without the key) carry no such
fact, so it is read from their text: every stand-in answer opens with the same sentence and its
page carries DEMO_NOTICE, which no model writes on its own. A generation with no text at all
shows no one's work, so calling it live misleads no one.
"""

from collections.abc import Iterable

from demo.pages import DEMO_NOTICE

# The sentence every stand-in answer starts with (standin.wrap_in_prose): a variant cancelled
# before the stand-in reached its footer still has it.
DEMO_OPENING = "Here is the HTML page recreated from your screenshot."


def looks_like_demo(texts: Iterable[str | None]) -> bool:
    """True if any of a generation's variant texts is the stand-in's."""
    return any(text.startswith(DEMO_OPENING) or DEMO_NOTICE in text for text in texts if text)
