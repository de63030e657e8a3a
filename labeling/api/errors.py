"""Domain errors become clear 4xx answers: the message says what to fix, and nothing changed."""
from django.db import DatabaseError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from labeling.exchange.ontology_migration import MigrationError
from labeling.footage.dataset_versions import ManifestError
from labeling.footage.ingest import UploadError
from ontology.attributes import AttributeSchemaError
from ontology.models import ImmutableError
from ontology.services import OntologyError

BAD_REQUEST = (OntologyError, UploadError, ManifestError, MigrationError, AttributeSchemaError)


def bad_request_data(exc: Exception) -> dict:
    """A domain error's answer body: its message, and the field it names if any."""
    field = getattr(exc, "field", "")
    return {"detail": str(exc), **({"field": field} if field else {})}


def bad_request(exc: Exception, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    """A domain error as an answer: its message, and the field it names if any."""
    return Response(bad_request_data(exc), status=code)


def handle(exc, context):
    if isinstance(exc, ImmutableError):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, BAD_REQUEST):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DatabaseError) and "immutable" in str(exc):
        return Response({"detail": str(exc).splitlines()[0]}, status=status.HTTP_409_CONFLICT)
    return exception_handler(exc, context)
