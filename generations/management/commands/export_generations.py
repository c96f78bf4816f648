"""`manage.py export_generations`: write generations as JSON Lines (see generations.transfer)."""

import argparse
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from generations import transfer


class Command(BaseCommand):
    help = "Write generations, with their variants and screenshots, as JSON Lines."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", default="-", help="file to write, or - for standard output (default)"
        )
        parser.add_argument(
            "--since",
            type=parse_since,
            help="only generations created at or after this ISO date or time (UTC if no zone)",
        )
        parser.add_argument("--ids", nargs="+", type=parse_id, help="only these generation ids")

    def handle(self, *args, output: str, since, ids, **options):
        generations = transfer.generations_to_export(since=since, ids=ids)
        skipped: list = []
        if output == "-":
            count = write_lines(
                generations, lambda line: self.stdout.write(line, ending=""), skipped
            )
            self.stdout.flush()
        else:
            count = write_file(generations, Path(output), skipped)
        # Standard error, so standard output stays pure JSON Lines.
        self.stderr.write(f"exported {count} generation(s)", style_func=str)
        if skipped:
            raise CommandError(
                f"left out {len(skipped)} generation(s) that could not be exported (see the "
                f"log): {', '.join(map(str, skipped))}"
            )


def write_lines(generations, write, skipped: list | None = None) -> int:
    count = 0
    for line in transfer.export_lines(generations, skipped=skipped):
        write(line)
        count += 1
    return count


def write_file(generations, output: Path, skipped: list) -> int:
    """Write to a temporary file beside `output` and rename it at the end: a failed export
    never leaves a partial backup where a complete one is expected."""
    with tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        newline="\n",
        dir=output.resolve().parent,
        prefix=f".{output.name}.",
        suffix=".partial",
        delete=False,
    ) as stream:
        try:
            count = write_lines(generations, stream.write, skipped)
        except BaseException:
            stream.close()
            os.unlink(stream.name)
            raise
    os.replace(stream.name, output)
    return count


def parse_since(raw: str) -> datetime:
    moment = parse_datetime(raw)
    if moment is None and (day := parse_date(raw)) is not None:
        moment = datetime(day.year, day.month, day.day)
    if moment is None:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {raw!r}")
    return timezone.make_aware(moment, UTC) if timezone.is_naive(moment) else moment


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a generation id: {raw!r}") from None
