"""Whether this process runs in demo mode: without OPENAI_API_KEY, a local stand-in answers."""

from django.conf import settings


def is_demo_mode() -> bool:
    """Return True when no OpenAI key is configured, so the in-process stand-in answers."""
    return not settings.OPENAI_API_KEY
