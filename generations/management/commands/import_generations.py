"""`manage.py import_generations`: read JSON Lines written by export_generations."""

import sys

from django.core.management.base import BaseCommand, CommandError

from generations import transfer


class Command(BaseCommand):
    help = (
        "Import generations from JSON Lines (export_generations' format). Each generation is "
        "stored in its own transaction; an id already stored is skipped, so a re-run is safe."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON Lines file, or - for standard input")

    def handle(self, *args, file: str, **options):
        result = transfer.ImportResult()
        try:
            if file == "-":
                transfer.import_lines(options.get("stdin") or sys.stdin, result)
            else:
                with open(file, encoding="utf-8") as stream:
                    transfer.import_lines(stream, result)
        except transfer.TransferError as error:
            raise CommandError(f"{error} (so far: {result})") from error
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error}") from error
        self.stdout.write(str(result))
