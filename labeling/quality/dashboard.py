"""Project-level quality figures for QA leads, from the stored per-frame agreement: Krippendorff's
alpha over all frames and per class, agreement per class and per annotator pair, gold accuracy per
annotator, agreement over time and the review backlog over time."""
from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
from django.db import connection

from labeling.models import Project
from labeling.quality import agreement, gold


def _current_rounds(project_id: int):
    """The latest round of every scored frame."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT DISTINCT ON (frame_id) annotators, units, tag_units, attribute_units
            FROM labeling_frameagreement WHERE project_id = %s ORDER BY frame_id, round DESC
            """,
            [project_id],
        )
        for annotators, units, tag_units, attribute_units in cur:  # jsonb comes back as text from a raw cursor
            yield annotators, json.loads(units), json.loads(tag_units), json.loads(attribute_units)


def alphas(project: Project) -> dict:
    """Alpha over every object on every scored frame (nominal: the class, 'absent' for an object
    an annotator did not draw), per box class (that class against everything else, over the objects
    where someone saw it), over frame tags, and per numeric attribute (interval level, over the
    objects two or more annotators gave it for). None where alpha is undefined."""
    people: dict[int, int] = {}
    cells: list[tuple[int, int, str]] = []  # (annotator row, unit, value)
    tag_cells: list[tuple[int, int, str]] = []
    numeric: dict[str, list[tuple[int, int, float]]] = {}
    numeric_count: dict[str, int] = {}
    unit = tag_unit = 0
    for annotators, units, tag_units, attribute_units in _current_rounds(project.pk):
        rows = [people.setdefault(a, len(people)) for a in annotators]
        for values in units:
            cells.extend((rows[i], unit, v) for i, v in enumerate(values) if v is not None)
            unit += 1
        for values in tag_units.values():
            tag_cells.extend((rows[i], tag_unit, v) for i, v in enumerate(values))
            tag_unit += 1
        for key, objects in attribute_units.items():
            for values in objects:
                n = numeric_count.get(key, 0)
                numeric.setdefault(key, []).extend((rows[i], n, v) for i, v in enumerate(values) if v is not None)
                numeric_count[key] = n + 1

    def matrix(cells_, n_units, value_of):
        data = np.full((max(len(people), 1), n_units), np.nan)
        for r, u, v in cells_:
            data[r, u] = value_of(v)
        return data

    codes: dict[str, int] = {}
    overall = agreement.alpha(matrix(cells, unit, lambda v: codes.setdefault(v, len(codes))))
    per_class = {}
    classes = sorted({v for _, _, v in cells} - {agreement.ABSENT})
    for klass in classes:
        seen = sorted({u for _, u, v in cells if v == klass})
        index = {u: n for n, u in enumerate(seen)}
        subset = [(r, index[u], v) for r, u, v in cells if u in index]
        per_class[klass] = agreement.alpha(matrix(subset, len(seen), lambda v, k=klass: float(v == k)))
    tag_codes: dict[str, int] = {}
    tags = agreement.alpha(matrix(tag_cells, tag_unit, lambda v: tag_codes.setdefault(v, len(tag_codes))))
    attributes = {key: agreement.alpha(matrix(cells_, numeric_count[key], float), level="interval")
                  for key, cells_ in sorted(numeric.items())}
    return {"boxes": overall, "per_class": per_class, "tags": tags, "attributes": attributes, "objects": unit,
            "people": len(people)}


def class_agreement(project: Project) -> list[dict]:
    """Per box class, over all annotator pairs: F1 = 2·matched / (boxes of a + boxes of b)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.key, sum((c.value->>0)::int), sum((c.value->>1)::int), sum((c.value->>2)::int)
            FROM labeling_pairagreement p, jsonb_each(p.per_class) c
            WHERE p.project_id = %s GROUP BY c.key ORDER BY c.key
            """,
            [project.pk],
        )
        return [{"class": key, "matched": m, "boxes": a + b, "f1": 2 * m / (a + b) if a + b else None}
                for key, m, a, b in cur.fetchall()]


def pair_matrix(project: Project) -> dict:
    """Annotator × annotator mean F1 over the frames both labeled (symmetric)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT ua.username, ub.username, avg(p.f1), count(*)
            FROM labeling_pairagreement p
            JOIN auth_user ua ON ua.id = p.annotator_a_id JOIN auth_user ub ON ub.id = p.annotator_b_id
            WHERE p.project_id = %s GROUP BY ua.username, ub.username
            """,
            [project.pk],
        )
        rows = cur.fetchall()
    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    cells = {}
    for a, b, f1, n in rows:
        cells[(a, b)] = cells[(b, a)] = (float(f1), n)
    return {"names": names, "cells": [[cells.get((a, b)) for b in names] for a in names]}


def agreement_over_time(project: Project, days: int = 30) -> list[tuple]:
    """(day, mean frame score, frames scored, share below threshold) per day."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT date_trunc('day', computed_at)::date, avg(score), count(*), avg((NOT passed)::int)
            FROM labeling_frameagreement WHERE project_id = %s AND computed_at > now() - %s
            GROUP BY 1 ORDER BY 1
            """,
            [project.pk, timedelta(days=days)],
        )
        return [(d, float(s) if s is not None else None, n, float(f)) for d, s, n, f in cur.fetchall()]


def review_backlog(project: Project, days: int = 30) -> list[tuple]:
    """(day, items open at the end of that day) for the last `days` days."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT d::date, (SELECT count(*) FROM labeling_reviewitem r
                             WHERE r.project_id = %(p)s AND r.opened_at < d + interval '1 day'
                               AND (r.resolved_at IS NULL OR r.resolved_at >= d + interval '1 day'))
            FROM generate_series(date_trunc('day', now()) - %(span)s, date_trunc('day', now()), interval '1 day') d
            """,
            {"p": project.pk, "span": timedelta(days=days - 1)},
        )
        return cur.fetchall()


def suggestion_acceptance(project: Project) -> list[dict]:
    """How annotators treat a model's suggestions, per model version and class, in the submitted
    work (each person's current revision) that used that version: boxes accepted as suggested,
    adjusted, and drawn by hand beside them. The acceptance rate (accepted / all three) is a
    signal of the model's quality on that class; a low one says its suggestions cost time."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH used AS (
                SELECT DISTINCT b.annotation_id, b.model_version_id FROM labeling_annotationbox b
                JOIN labeling_annotation a ON a.id = b.annotation_id
                WHERE a.project_id = %s AND a.source = 'human' AND b.source IN ('suggestion', 'adjusted')
                  AND b.model_version_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
            )
            SELECT u.model_version_id, c.key,
                   count(*) FILTER (WHERE b.source = 'suggestion' AND b.model_version_id = u.model_version_id),
                   count(*) FILTER (WHERE b.source = 'adjusted' AND b.model_version_id = u.model_version_id),
                   count(*) FILTER (WHERE b.source IN ('drawn', 'propagated'))
            FROM used u JOIN labeling_annotationbox b ON b.annotation_id = u.annotation_id AND NOT b.outside
            JOIN ontology_labelclass c ON c.id = b.label_class_id
            GROUP BY 1, 2 ORDER BY 1 DESC, 2
            """, [project.pk])
        rows = cur.fetchall()
    return [{"model_version": version, "class": key, "accepted": accepted, "adjusted": adjusted, "drawn": drawn,
             "acceptance": accepted / (accepted + adjusted + drawn) if accepted + adjusted + drawn else None}
            for version, key, accepted, adjusted, drawn in rows]


def summary(project: Project) -> dict:
    return {"alpha": alphas(project), "classes": class_agreement(project), "pairs": pair_matrix(project),
            "gold": gold.accuracy(project), "over_time": agreement_over_time(project),
            "backlog": review_backlog(project), "suggestions": suggestion_acceptance(project)}
