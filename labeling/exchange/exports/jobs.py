"""Export jobs: create (validate the request, pin the snapshot), run (the Celery task calls
`run`), and open for download (audited)."""
from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from labeling import audit, jobs
from labeling.access import raw
from labeling.custody import state as custody
from labeling.exchange.exports import coco, dota, mot, visdrone, yolo
from labeling.exchange.exports import selection as scopes
from labeling.exchange.exports.archive import ArchiveWriter
from labeling.exchange.exports.images import ImageSource
from labeling.exchange.exports.selection import ExportError, ExportForbidden, ExportGone
from labeling.models import DatasetVersion, Export, Project
from labeling.provenance import bills
from labeling.redaction.metadata import sequence_name
from labeling.work.payloads import classes_of
from ontology.models import OntologyVersion

log = logging.getLogger(__name__)
WRITERS = {Export.COCO: coco.write, Export.MOT: mot.write, Export.YOLO: yolo.write, Export.YOLO_OBB: yolo.write_obb,
           Export.VISDRONE: visdrone.write, Export.VISDRONE_VID: visdrone.write_vid, Export.DOTA: dota.write}
#: formats with a place for who drew a box: the only ones a raw (every annotator's) export can use
RAW_FORMATS = (Export.COCO, Export.MOT)
PROGRESS_EVERY = 500  # frames between progress writes (and heartbeats)
STALE_S = settings.AERIE_EXPORT_STALE_S


def _one_ontology_version(scope: scopes.Scope) -> OntologyVersion:
    found = scopes.ontology_versions(scope)
    what = "approved annotations" if scope.scope == Export.APPROVED else "annotations"
    if not found:
        raise ExportError(f"there are no {what} to export in this scope")
    if len(found) > 1:
        versions = {v.pk: v for v in OntologyVersion.objects.filter(pk__in=[v for v, _ in found])
                    .select_related("ontology")}
        listed = ", ".join(f"{versions[v]} ({n} annotations)" for v, n in found)
        raise ExportError(
            f"the {what} in this scope use {len(found)} ontology versions: {listed}. An export holds one "
            f"version: move the older annotations with an ontology migration (POST /api/ontology-migrations/, "
            f"then apply it) and export again")
    return OntologyVersion.objects.select_related("ontology").get(pk=found[0][0])


def create(project: Project, user, *, format: str, scope: str = Export.APPROVED,
           dataset_version: DatasetVersion | None = None, include_images: bool = False,
           image_kind: str = Export.DERIVED, include_sensitive: bool = False, enqueue: bool = True) -> Export:
    """Check the request, record the job and send it to a worker once the transaction commits
    (`enqueue=False`: the caller runs it, as the export bench does). Refuses, writing nothing,
    an unknown format or scope, a dataset version of another dataset, a scope with nothing in
    it, one that mixes ontology versions, or raw images asked for without raw access to the
    dataset (images are derived renditions otherwise: exchange.exports.images)."""
    if format not in WRITERS:
        raise ExportError(f"format: one of {', '.join(WRITERS)}")
    if scope == Export.RAW and format not in RAW_FORMATS:
        raise ExportError(f"scope: a raw export (every annotator's work) is {' or '.join(RAW_FORMATS)}; "
                          f"{format} has no place for who drew a box")
    if image_kind not in dict(Export.IMAGE_KINDS):
        raise ExportError(f"image_kind: one of {', '.join(dict(Export.IMAGE_KINDS))}")
    if image_kind == Export.RAW_IMAGES and not include_images:
        raise ExportError("image_kind: raw images are asked for with include_images")
    if image_kind == Export.RAW_IMAGES and not raw.holds(user, project.dataset_id):
        raise ExportForbidden("image_kind: raw images need raw access to the dataset (an admin grants it); "
                              "export the derived frames instead")
    if include_images and image_kind == Export.RAW_IMAGES:
        expired = project.dataset.sequences.filter(raw_expired_at__isnull=False).select_related("dataset").first()
        if expired is not None:
            raise ExportGone(f"image_kind: {custody.reason(expired)}; export the derived frames instead")
    as_of = scopes.latest_annotation_id()
    resolved = scopes.resolve(project, scope, dataset_version, as_of)
    version = _one_ontology_version(resolved)
    with transaction.atomic():
        export = Export.objects.create(project=project, dataset_version=dataset_version, format=format, scope=scope,
                                       include_images=bool(include_images), image_kind=image_kind,
                                       include_sensitive=bool(include_images and include_sensitive),
                                       ontology_version=version, annotations_as_of=as_of, created_by=user)
        audit.record(user, "export.create", export, {
            "format": format, "scope": scope, "as_of": as_of,
            "dataset_version": dataset_version.pk if dataset_version else None,
            "images": image_kind if include_images else None, "sensitive_images": export.include_sensitive})
        if include_images and image_kind == Export.RAW_IMAGES:
            raw.used(user, project.dataset_id, "export", export)
        if enqueue:
            jobs.enqueue("export_job", export.pk)
    return export


def export_metadata_level(export: Export) -> str:
    """An export of raw frames (for a raw-access holder) keeps every name; any other export is
    derived data and follows the dataset's metadata level (labeling.redaction.metadata)."""
    if export.include_images and export.image_kind == Export.RAW_IMAGES:
        return "full"
    return export.project.dataset.metadata_level


def _header(export: Export, resolved: scopes.Scope, stats: dict, images=None) -> dict:
    version = export.ontology_version
    dv = export.dataset_version
    return {
        "format": "aerie-export-manifest/1",
        "export": export.pk,
        "kind": export.format,
        "scope": export.scope,
        "project": export.project.name,
        "dataset": export.project.dataset.name,
        "dataset_version": ({"number": dv.number, "manifest_sha256": dv.manifest_sha256} if dv else None),
        "sequences": [resolved.name_of(s) for s in resolved.sequences],
        "metadata_level": export_metadata_level(export),
        "ontology": version.ontology.name,
        "ontology_version": version.number,
        "annotations_as_of": export.annotations_as_of,
        "aerie_version": settings.AERIE_VERSION,
        "sbom_sha256": bills.current().sha256,  # the software that made it (labeling.provenance)
        "created_at": timezone.now().isoformat(),
        "created_by": export.created_by.username if export.created_by else None,
        "counts": stats,
        "images": images.manifest(export.include_images) if images else {"included": False},
    }


def run(export_id: int) -> Export:
    """Build the archive of an export job. Idempotent: a finished job is left alone; a job that
    died part-way is built again from the start (the pinned snapshot gives the same files)."""
    with transaction.atomic():
        export = Export.objects.select_for_update(of=("self",)).select_related(
            "project__dataset", "ontology_version__ontology", "dataset_version", "created_by").get(pk=export_id)
        if export.status in Export.FINISHED:
            return export
        export.status, export.started_at, export.items_done = Export.RUNNING, timezone.now(), 0
        export.heartbeat_at = export.started_at
        export.attempts += 1
        export.save(update_fields=["status", "started_at", "heartbeat_at", "items_done", "attempts"])
    try:
        resolved = scopes.resolve(export.project, export.scope, export.dataset_version, export.annotations_as_of)
        level = export_metadata_level(export)
        resolved.names = {s.pk: sequence_name(s, level) for s in resolved.sequences}
        resolved.level = level
        passes = 2 if export.format == Export.COCO else 1
        export.items_total = scopes.count_frames(resolved) * (passes + int(export.include_images))
        Export.objects.filter(pk=export.pk).update(items_total=export.items_total)
        pending = [0]

        def progress(n: int) -> None:
            pending[0] += n
            if pending[0] >= PROGRESS_EVERY:
                export.items_done += pending[0]
                pending[0] = 0
                Export.objects.filter(pk=export.pk).update(items_done=export.items_done, heartbeat_at=timezone.now())

        with tempfile.TemporaryFile() as tmp:
            archive = ArchiveWriter(tmp)
            try:
                images = ImageSource.of(export) if export.include_images else None
                stats = WRITERS[export.format](archive, resolved, classes_of(export.ontology_version_id),
                                               images=images, progress=progress)
            except BaseException:
                archive.discard()
                raise
            manifest_sha, signature = archive.finish(_header(export, resolved, stats, images))
            size = tmp.tell()
            tmp.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: tmp.read(1024 * 1024), b""):
                digest.update(chunk)
            tmp.seek(0)
            name = default_storage.save(f"exports/project-{export.project_id}/{export.download_name}", File(tmp))
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task tries again on a fresh connection
    except Exception as exc:  # noqa: BLE001 - the job records why, and the worker logs it
        log.exception("export %s failed", export.pk)
        Export.objects.filter(pk=export.pk).update(status=Export.FAILED, message=str(exc)[:2000],
                                                   finished_at=timezone.now())
        export.refresh_from_db()
        return export
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            status=Export.DONE, items_done=export.items_total, file_name=name, size=size, sha256=digest.hexdigest(),
            manifest_sha256=manifest_sha, signature=signature, key_id=archive.key_id, finished_at=timezone.now(),
            message="", **stats)
        export.refresh_from_db()
        audit.record(None, "export.done", export, {"sha256": export.sha256, "manifest_sha256": manifest_sha, **stats})
    return export


def sweep(stale_s: float = STALE_S) -> int:
    """Send again the exports a dead worker left: running with a stale heartbeat, or queued
    for longer than `stale_s` (the message was lost). Returns how many were sent."""
    cutoff = timezone.now() - timedelta(seconds=stale_s)
    ids = list(Export.objects.filter(
        Q(status=Export.RUNNING, heartbeat_at__lt=cutoff) | Q(status=Export.QUEUED, created_at__lt=cutoff))
        .values_list("pk", flat=True))
    for export_id in ids:
        jobs.send_now("export_job", export_id)
    return len(ids)


def open_for_download(export: Export, user):
    """The archive file, with an audit event saying who downloaded which bytes."""
    if export.status != Export.DONE:
        raise ExportError(f"export {export.pk} is {export.status}, not ready to download")
    if export.include_images and export.image_kind == Export.RAW_IMAGES \
            and not raw.holds(user, export.project.dataset_id):
        raise ExportForbidden(f"export {export.pk} holds raw frames: downloading it needs raw access to the dataset")
    fh = default_storage.open(export.file_name, "rb")
    audit.record(user, "export.download", export, {"sha256": export.sha256, "format": export.format,
                                                   "scope": export.scope, "project": export.project_id})
    return fh
