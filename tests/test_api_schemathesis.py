"""schemathesis against aerie's OpenAPI schema, in process (the WSGI app, no server), signed in
as each role with an API token: for every operation, requests generated from the schema must
never answer 5xx, and what they answer must match the schema (body and content type of every
documented status). Path ids point at the permission world's objects (tests/permission_world.py),
so the requests reach real projects, frames, annotations and exports, not only 404s.

Bounded: AERIE_SCHEMATHESIS_EXAMPLES (default 3) generated requests per operation and role."""
from __future__ import annotations

import os
import re

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from labeling.access import cache
from tests.permission_world import isolated_media, world  # noqa: F401 - fixtures

EXAMPLES = int(os.environ.get("AERIE_SCHEMATHESIS_EXAMPLES", "3"))
ROLES = ("annotator", "qa", "trainer", "admin", "outsider")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def load_schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    return loaded


SCHEMA = load_schema()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

# Path parameter -> the world's object, by the path it appears in
ROUTES = [
    (r"^/api/datasets/\{id\}", {"id": "dataset"}), (r"^/api/datasets/\{pk\}", {"pk": "dataset"}),
    (r"^/api/sequences/\{id\}", {"id": "sequence"}), (r"^/api/sequences/\{pk\}", {"pk": "sequence"}),
    (r"^/api/frames/\{id\}", {"id": "frame"}), (r"^/api/ingest-jobs/\{id\}", {"id": "ingestjob"}),
    (r"^/api/projects/\{id\}", {"id": "project"}), (r"^/api/assignments/\{id\}", {"id": "assignment"}),
    (r"^/api/assignments/\{pk\}", {"pk": "assignment"}), (r"^/api/annotations/\{id\}", {"id": "annotation"}),
    (r"^/api/ontologies/\{id\}", {"id": "ontology"}), (r"^/api/ontology-versions/\{id\}", {"id": "draft_version"}),
    (r"^/api/label-classes/\{id\}", {"id": "label_class"}), (r"^/api/ontology-migrations/\{id\}", {"id": "migration"}),
    (r"^/api/reveals/\{pk\}", {"pk": "reveal"}),
    (r"/members/\{pk\}", {"pk": "membership"}), (r"/review/\{pk\}", {"pk": "review_item"}),
    (r"/models/\{pk\}", {"pk": "model"}), (r"/exports/\{pk\}", {"pk": "export"}),
    (r"/frames/\{frame_pk\}/reveal", {"frame_pk": "sensitive_frame"}),
    (r"/promotions/\{pk\}", {"pk": "promotion"}), (r"/incidents/\{pk\}", {"pk": "incident"}),
    (r"^/api/retention-runs/\{pk\}", {"pk": "retention_run"}), (r"^/api/holds/\{pk\}", {"pk": "legal_hold"}),
]
COMMON = {"project_pk": "project", "frame_pk": "frame"}


def world_ids(path: str) -> dict[str, str]:
    mapping = dict(COMMON)
    for pattern, params in ROUTES:
        if re.search(pattern, path):
            mapping.update(params)
    return mapping


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Django closes a connection at the end of a request when it is inside a transaction (as
    the test's is); its own test client stops that, and so does this for the WSGI app."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS])
def test_api_conforms_to_its_schema(world, role, operation):
    from rest_framework.authtoken.models import Token

    token = Token.objects.get_or_create(user=world.users[role])[0].key
    ids = {name: world.ids[key] for name, key in world_ids(operation.path).items()}

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate], derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        for name in case.path_parameters or {}:
            if name in ids:
                case.path_parameters[name] = ids[name]
        cache.clear()
        from django.db import transaction

        with transaction.atomic():  # each request's writes are rolled back: the next sees the same world
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
            transaction.set_rollback(True)

    run()
