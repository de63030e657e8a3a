"""Imports of labels made elsewhere (COCO, MOT, YOLO and YOLO-OBB, VisDrone DET and VID, DOTA) into a project's frames: as pre-labels of the
'model' annotator, as gold answers, or as a named annotator's work (a team moving from CVAT).
Checked in full first; a file with any error changes nothing (ImportRefused lists every problem)."""
from __future__ import annotations

from labeling.exchange.imports import coco, dota, mot, visdrone, yolo
from labeling.exchange.imports.common import (
    ANNOTATOR,
    GOLD,
    MAX_IMPORT_BYTES,
    MODES,
    PRELABEL,
    ImportRefused,
    ImportReport,
    Problems,
    check_mode,
    finish,
    renumber_tracks,
)
from labeling.models import Project
from labeling.work.payloads import classes_of

#: `yolo_obb` and `visdrone_vid` name the same readers as `yolo` and `visdrone` (each reads both
#: layouts), so that an export's format name is also its import's
FORMATS = ("coco", "mot", "yolo", "yolo_obb", "visdrone", "visdrone_vid", "dota")
TEXT_READERS = {"yolo": yolo.parse, "yolo_obb": yolo.parse, "visdrone": visdrone.parse, "visdrone_vid": visdrone.parse,
                "dota": dota.parse}

__all__ = ["ANNOTATOR", "FORMATS", "GOLD", "MODES", "PRELABEL", "ImportRefused", "ImportReport", "run"]


def run(project: Project, user, *, format: str, data: bytes, filename: str, mode: str, annotator=None,
        sequence: str | None = None, class_map: dict | None = None, default_class: str | None = None) -> ImportReport:
    if format not in FORMATS:
        raise ImportRefused([f"format: one of {', '.join(FORMATS)}"])
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused([f"{filename}: larger than {MAX_IMPORT_BYTES // 2**20} MiB"])
    check_mode(project, mode, annotator)
    problems = Problems()
    classes = classes_of(project.ontology_version_id)
    if format == "coco":
        items = coco.parse(data, filename, project, classes, problems)
    elif format in TEXT_READERS:
        items = TEXT_READERS[format](data, filename, project, classes, problems, class_map=class_map)
    else:
        items = mot.parse(data, filename, project, classes, problems, sequence=sequence, class_map=class_map,
                          default_class=default_class)
    renumber_tracks(items, {item.frame.pk: item.frame.sequence_id for item in items})
    return finish(project, user, items, problems, fmt=format, mode=mode, annotator=annotator, filename=filename)
