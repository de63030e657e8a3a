"""Exports of annotations to COCO, MOT, YOLO and YOLO-OBB, VisDrone DET and VID, and DOTA: streamed
writers, a signed manifest in every archive, and jobs with progress (see jobs.py). Public entry points:

    create(project, user, format=..., scope=..., dataset_version=..., include_images=...,
           image_kind="derived" | "raw", include_sensitive=...)                        (sends it to a worker)
    run(export_id)                                                                          (what the worker runs)
    open_for_download(export, user)
    verify_archive(fileobj)
"""
from labeling.exchange.exports.archive import ArchiveReport, verify_archive
from labeling.exchange.exports.jobs import create, open_for_download, run
from labeling.exchange.exports.selection import ExportError, ExportForbidden, ExportGone

__all__ = ["ArchiveReport", "ExportError", "ExportForbidden", "ExportGone", "create", "open_for_download", "run", "verify_archive"]
