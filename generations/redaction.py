"""Secrets kept out of stored and shown text: the model API's messages can echo the key."""

import re

from django.conf import settings

REDACTED = "[redacted]"
# OpenAI keys and the masked forms its errors print: sk-…, sk-proj-…, sk-****abcd.
_KEY_SHAPED = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_*\-]{3,}")


def redact(text: str) -> str:
    """Return `text` with the configured API key and anything shaped like one replaced."""
    key = settings.OPENAI_API_KEY
    if key:
        text = text.replace(key, REDACTED)
    return _KEY_SHAPED.sub(REDACTED, text)
