"""A JSON parser that refuses bodies over the request limit with `request_too_large` (413).

Django's DATA_UPLOAD_MAX_MEMORY_SIZE guards `request.body` only; DRF reads the stream, so the
limit is enforced here while reading.
"""

from django.conf import settings
from rest_framework.parsers import JSONParser

from generations.errors import INVALID_JSON, REQUEST_TOO_LARGE, AppError
from generations.payloads import parse_json


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.REQUEST_BODY_MAX_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise AppError(REQUEST_TOO_LARGE)
        data = parse_json(body or b"null")
        if not isinstance(data, dict):
            raise AppError(INVALID_JSON, "The body must be a JSON object.")
        return data
