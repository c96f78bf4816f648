"""The generations app: screenshots in, four streamed variants out, every result kept."""

from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "generations"
