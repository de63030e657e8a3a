"""Evaluation sets: a frozen, signed list of a project's approved frames that training never uses.

A set is chosen by sequences, by conditions (FrameCondition flags and bands), by an area (the
FrameTelemetry latitude/longitude box) or by hand (frame ids); criteria given together must all
hold. Criteria take the approved frames that match them (how many matching frames had no
approved labels is recorded in the selection); frames named by hand must all be approved, or
nothing is written.

Each frame is recorded with its approved head revision at freezing (the approved revision no
later revision supersedes: what exports and training read), so the set's truth never moves: a
label changed later is reported against the set (`changes_since_freeze`), not taken in silently.

The manifest (project, name, selection, every (frame, annotation) pair) is canonical JSON; its
sha256 is signed with the installation's Ed25519 key under the `aerie-evaluation-set-v1:` domain
prefix, so a signature over a set can never be replayed as one over a dataset or a model.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction

from labeling import audit
from labeling.access import signing
from labeling.models import Project
from labeling.models.governance import EvaluationSet

SIGNED_PREFIX = b"aerie-evaluation-set-v1:"
CONDITION_FLAGS = ("night", "blurred", "thermal")
CONDITION_BANDS = ("altitude_band", "view_band")
AREA_KEYS = ("min_lat", "max_lat", "min_lon", "max_lon")


class EvaluationSetError(ValueError):
    """The set cannot be frozen as asked (nothing was written)."""


#: a frame's approved head: approved, from no single annotator (consensus or a QA decision), and
#: superseded by nothing (exports/selection.py reads the same)
APPROVED_HEADS = """
SELECT a.frame_id, a.id FROM labeling_annotation a
WHERE a.project_id = %s AND a.frame_id = ANY(%s) AND a.annotator_id IS NULL AND a.status = 'approved'
  AND NOT EXISTS (SELECT 1 FROM labeling_annotation n WHERE n.supersedes_id = a.id)
"""


def approved_heads(project_id: int, frame_ids: list[int]) -> dict[int, int]:
    """{frame id: its approved head annotation id} for the frames that have one."""
    with connection.cursor() as cur:
        cur.execute(APPROVED_HEADS, [project_id, list(frame_ids)])
        return dict(cur.fetchall())


def _clean_selection(selection) -> dict:
    if not isinstance(selection, dict) or not selection:
        raise EvaluationSetError("selection: an object with sequences, conditions, area and/or frame_ids")
    unknown = set(selection) - {"sequences", "conditions", "area", "frame_ids"}
    if unknown:
        raise EvaluationSetError(f"selection: unknown key(s) {', '.join(sorted(unknown))}")
    out = {}
    if "sequences" in selection:
        seqs = selection["sequences"]
        if not isinstance(seqs, list) or not seqs or not all(isinstance(s, (str, int)) for s in seqs):
            raise EvaluationSetError("selection.sequences: a non-empty list of sequence names or ids")
        out["sequences"] = seqs
    if "conditions" in selection:
        cond = selection["conditions"]
        if not isinstance(cond, dict) or not cond:
            raise EvaluationSetError("selection.conditions: an object, e.g. {\"night\": true}")
        for key, value in cond.items():
            if key in CONDITION_FLAGS and not isinstance(value, bool):
                raise EvaluationSetError(f"selection.conditions.{key}: true or false")
            if key in CONDITION_BANDS and not isinstance(value, str):
                raise EvaluationSetError(f"selection.conditions.{key}: a band name")
            if key not in CONDITION_FLAGS + CONDITION_BANDS:
                raise EvaluationSetError(f"selection.conditions: unknown condition {key!r} "
                                         f"(one of {', '.join(CONDITION_FLAGS + CONDITION_BANDS)})")
        out["conditions"] = cond
    if "area" in selection:
        area = selection["area"]
        if not isinstance(area, dict) or set(area) != set(AREA_KEYS) or \
                not all(isinstance(area[k], (int, float)) and not isinstance(area[k], bool) for k in AREA_KEYS):
            raise EvaluationSetError(f"selection.area: numbers {', '.join(AREA_KEYS)}")
        if area["min_lat"] > area["max_lat"] or area["min_lon"] > area["max_lon"]:
            raise EvaluationSetError("selection.area: the minimum is above the maximum")
        out["area"] = area
    if "frame_ids" in selection:
        ids = selection["frame_ids"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool)
                                                           for i in ids):
            raise EvaluationSetError("selection.frame_ids: a non-empty list of frame ids")
        out["frame_ids"] = sorted(set(ids))
    return out


def _matching_frames(project: Project, sel: dict) -> list[int]:
    """The project's frames that meet every criterion of the selection."""
    where, params = ["s.dataset_id = %s"], [project.dataset_id]
    if "sequences" in sel:
        names = [s for s in sel["sequences"] if isinstance(s, str)]
        ids = [s for s in sel["sequences"] if isinstance(s, int)]
        where.append("(s.name = ANY(%s) OR s.id = ANY(%s))")
        params += [names, ids]
    if "conditions" in sel:
        for key, value in sel["conditions"].items():
            where.append(f"c.{key} = %s")  # key is one of the known column names (_clean_selection)
            params.append(value)
    if "area" in sel:
        a = sel["area"]
        where.append("t.latitude BETWEEN %s AND %s AND t.longitude BETWEEN %s AND %s")
        params += [a["min_lat"], a["max_lat"], a["min_lon"], a["max_lon"]]
    if "frame_ids" in sel:
        where.append("f.id = ANY(%s)")
        params.append(sel["frame_ids"])
    with connection.cursor() as cur:
        cur.execute(f"""SELECT f.id FROM labeling_frame f JOIN labeling_sequence s ON s.id = f.sequence_id
                        LEFT JOIN labeling_framecondition c ON c.frame_id = f.id
                        LEFT JOIN labeling_frametelemetry t ON t.frame_id = f.id
                        WHERE {' AND '.join(where)} ORDER BY f.id""", params)
        return [r[0] for r in cur.fetchall()]


def manifest(project_id: int, name: str, selection: dict, frame_ids, annotation_ids) -> bytes:
    """The canonical bytes a set's hash and signature cover."""
    return signing.canonical_json({
        "format": "aerie-evaluation-set/1", "project": project_id, "name": name, "selection": selection,
        "frames": [[int(f), int(a)] for f, a in zip(frame_ids, annotation_ids)]})


def _statement(sha256_hex: str) -> bytes:
    return SIGNED_PREFIX + sha256_hex.encode()


def freeze(project: Project, name: str, selection, *, user=None, description: str = "",
           required: bool = False) -> EvaluationSet:
    """Choose, check, sign and store an evaluation set. Raises EvaluationSetError (nothing
    written) for a bad selection, frames outside the project, unapproved frames named by hand,
    an empty result or a name already used in the project."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise EvaluationSetError("name: 1 to 120 characters")
    sel = _clean_selection(selection)
    matching = _matching_frames(project, sel)
    if "frame_ids" in sel:
        outside = sorted(set(sel["frame_ids"]) - set(_matching_frames(project, {"frame_ids": sel["frame_ids"]})))
        if outside:
            raise EvaluationSetError(f"frame(s) {_ids(outside)} are not frames of this project's dataset")
    heads = approved_heads(project.pk, matching)
    if "frame_ids" in sel:
        unapproved = sorted(set(sel["frame_ids"]) & (set(matching) - set(heads)))
        if unapproved:
            raise EvaluationSetError(f"frame(s) {_ids(unapproved)} have no approved annotation: an evaluation "
                                     "set holds approved frames only (finish their review first)")
    frame_ids = sorted(heads)
    if not frame_ids:
        raise EvaluationSetError("no approved frame matches the selection" +
                                 (f" ({len(matching)} frame(s) match, none approved)" if matching else ""))
    annotation_ids = [heads[f] for f in frame_ids]
    recorded = {**sel, "matched": len(matching), "skipped_unapproved": len(matching) - len(frame_ids)}
    data = manifest(project.pk, name, recorded, frame_ids, annotation_ids)
    sha = hashlib.sha256(data).hexdigest()
    signer = signing.signer()
    try:
        with transaction.atomic():
            eset = EvaluationSet.objects.create(
                project=project, name=name, description=description, selection=recorded, frame_ids=frame_ids,
                annotation_ids=annotation_ids, required=bool(required), manifest_sha256=sha,
                signature=signer.sign(_statement(sha)), key_id=signer.key_id,
                created_by=user if getattr(user, "is_authenticated", False) else None)
            audit.record(user, "evaluation_set.freeze", eset, {
                "project": project.pk, "name": name, "selection": recorded, "frames": len(frame_ids),
                "required": eset.required, "manifest_sha256": sha})
    except IntegrityError:
        raise EvaluationSetError(f"name: the project already has an evaluation set called {name!r}") from None
    return eset


def _ids(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


@dataclass
class Verification:
    ok: bool
    manifest_ok: bool
    signature_ok: bool
    problems: list[str] = field(default_factory=list)


def verify(eset: EvaluationSet) -> Verification:
    """Recompute the set's manifest from its row: its hash must be the recorded one and the
    signature over it must hold (a changed frame list, revision, selection or name fails)."""
    problems = []
    if len(eset.frame_ids) != len(eset.annotation_ids):
        problems.append("frame and annotation lists differ in length")
    sha = hashlib.sha256(manifest(eset.project_id, eset.name, eset.selection, eset.frame_ids,
                                  eset.annotation_ids)).hexdigest()
    manifest_ok = sha == eset.manifest_sha256
    verdict = signing.check(_statement(eset.manifest_sha256), eset.signature, key_id=eset.key_id or None,
                            signed_at=eset.created_at)
    signature_ok = verdict.ok
    if not manifest_ok:
        problems.append("the set's frames, revisions or selection no longer match its signed manifest")
    if not signature_ok:
        problems.append(f"the signature is not trusted: {verdict.describe()}")
    return Verification(manifest_ok and signature_ok and not problems, manifest_ok, signature_ok, problems)


def changes_since_freeze(eset: EvaluationSet) -> list[dict]:
    """Frames whose approved head is no longer the revision the set froze: {frame, frozen,
    current} (current None when the frame has no approved head any more)."""
    heads = approved_heads(eset.project_id, eset.frame_ids)
    return [{"frame": f, "frozen": a, "current": heads.get(f)}
            for f, a in zip(eset.frame_ids, eset.annotation_ids) if heads.get(f) != a]
