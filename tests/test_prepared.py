"""The hot statements are server-side prepared statements unless AERIE_PREPARED_STATEMENTS is off
(for a pooler that cannot carry them); either way they answer the same."""
import json
import re

import pytest
from django.db import connection

from labeling.work import prepared, queue
from tests.conftest import make_frames

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


def test_the_candidate_statements_generic_plan_knows_how_many_rows_it_locks(project, users):
    """The candidate query runs prepared; PostgreSQL's generic plan for a bound LIMIT assumes a
    tenth of the rows, which at 10M frames cost enough to be JIT-compiled on every protected
    next-frame request (about 25 ms of database CPU each). The limit is written into the text."""
    make_frames(project, 300)
    sql, params = queue._candidate_query(project, users["annotator"], 2, policies=[])
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
    with connection.cursor() as cur:
        cur.execute("ANALYZE labeling_queueitem")
        cur.execute("ANALYZE labeling_frame")
        cur.execute("PREPARE candidates AS " + numbered.replace("%", "%%"))
        cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cur.execute("EXPLAIN (FORMAT JSON) EXECUTE candidates(" + ", ".join(["%s"] * len(names)) + ")",
                    [params[n] for n in names])
        plan = cur.fetchone()[0]
        cur.execute("DEALLOCATE candidates")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    top = plan[0]["Plan"]
    assert top["Node Type"] == "Limit" and top["Plan Rows"] == 2
