"""The hot statements are server-side prepared statements unless AERIE_PREPARED_STATEMENTS is off
(for a pooler that cannot carry them); either way they answer the same."""
import pytest
from django.db import connection

from labeling.work import prepared

pytestmark = pytest.mark.django_db

PROBE = "SELECT %s::int + 1 /* aerie-prepared-probe */"


def prepared_here() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                    ["%aerie-prepared-probe%"])
        return cur.fetchone()[0]


def test_hot_statements_are_prepared_by_default(settings):
    settings.AERIE_PREPARED_STATEMENTS = True
    before = prepared_here()
    assert prepared.fetchone(PROBE, [41]) == (42,)
    assert prepared_here() == before + 1


def test_switched_off_they_are_never_prepared_even_when_repeated(settings):
    settings.AERIE_PREPARED_STATEMENTS = False
    before = prepared_here()
    assert [prepared.fetchone(PROBE, [i]) for i in range(8)] == [(i + 1,) for i in range(8)]
    assert prepared_here() == before  # repeated, still never prepared
