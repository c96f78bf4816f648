"""`manage.py make_thumbnails`: make the missing history thumbnails now rather than on first
request (a history older than thumbnails, or just imported). Safe to run at any time."""

from django.core.management.base import BaseCommand

from generations import services, thumbnails
from generations.models import Generation


class Command(BaseCommand):
    help = "Make the thumbnails that generations are missing (lost files included)."

    def handle(self, *args, **options):
        made = failed = 0
        for generation in Generation.objects.order_by("created_at").iterator(chunk_size=100):
            if generation.thumbnail and generation.thumbnail.storage.exists(
                generation.thumbnail.name
            ):
                continue
            try:
                services.generation_make_thumbnail(generation=generation)
            except thumbnails.ThumbnailError as error:
                failed += 1
                self.stderr.write(f"{generation.id}: no thumbnail: {error}")
            else:
                made += 1
        self.stdout.write(f"made {made} thumbnail(s), {failed} failed")
