"""Request bodies: every JSON body aerie takes is an object, and none is larger than
DATA_UPLOAD_MAX_MEMORY_SIZE. DRF reads JSON from the request stream, past the size check that
Django makes only when `request.body` is read, so the limit is enforced here; and a JSON array
or string where an object is expected, or JSON nested past Python's recursion limit, is refused
here (400), not deep inside a view (500)."""
import io

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


class ObjectJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            raise BodyTooLarge(f"the JSON body is {declared:,} bytes; the limit is {limit:,}")
        if limit is not None and stream is not None:
            data = stream.read(limit + 1)
            if len(data) > limit:
                raise BodyTooLarge(f"the JSON body is over the limit of {limit:,} bytes")
            stream = io.BytesIO(data)
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("the JSON body is nested too deeply") from None
        if not isinstance(value, dict):
            raise ParseError(f"the JSON body must be an object, not {type(value).__name__}")
        return value
