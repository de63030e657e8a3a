"""Which image file an export carries for each frame, and which it leaves out.

- Derived renditions (faces and other regions hidden, labeling.redaction) unless the requester
  holds raw access to the dataset and asks for raw; the manifest says which. Raw frames of a
  16-bit (thermal) sequence are its 16-bit PNGs, the values as they came; derived ones are 8-bit.
- Sensitive (graphic) frames: their images are included only when the requester ticked an
  explicit acknowledgement; otherwise the frame's labels are exported and its image is left out.
  Either way the manifest counts them, so nobody receives graphic footage without knowing.

`ImageSource` is made once per export run; the writers ask it per frame (`file_for`) and report
what they wrote (its `counts` go into the manifest)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from labeling.models import DerivedFrame, Export, Frame
from labeling.models.footage import blob_path
from labeling.redaction import served


@dataclass
class ImageSource:
    kind: str  # Export.DERIVED or Export.RAW_IMAGES
    include_sensitive: bool
    counts: dict = field(default_factory=lambda: {"images": 0, "sensitive_included": 0, "sensitive_left_out": 0,
                                                  "deleted_under_retention": 0})
    _sensitive: set = field(default_factory=set)
    _derived: dict = field(default_factory=dict)
    _bits: int = 8
    _gone: bool = False  # retention deleted this sequence's images of the kind exported

    @classmethod
    def of(cls, export: Export) -> ImageSource:
        return cls(export.image_kind, export.include_sensitive)

    def ext(self, frame_ext: str) -> str:
        return frame_ext if self.kind == Export.RAW_IMAGES else "jpg"

    def load_sequence(self, sequence) -> None:
        """Read the sequence's sensitive frames and current derived files in two statements."""
        whole = sequence.sensitive or sequence.dataset.sensitive
        self._bits = sequence.bits
        self._gone = sequence.derived_expired_at is not None or (
            self.kind == Export.RAW_IMAGES and sequence.raw_expired_at is not None)
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM labeling_frame WHERE sequence_id = %s" + ("" if whole else " AND sensitive"),
                        [sequence.pk])
            self._sensitive = {row[0] for row in cur.fetchall()}
        self._derived = {}
        if self.kind != Export.RAW_IMAGES:
            self._derived = dict(DerivedFrame.objects.filter(frame__sequence=sequence, current=True)
                                 .values_list("frame_id", "sha256"))

    def file_for(self, frame_id: int, sha: str, ext: str) -> str | None:
        """The blob to write for this frame, or None when its image is left out (sensitive, or
        deleted under a retention policy: labeling.custody)."""
        if self._gone:
            self.counts["deleted_under_retention"] += 1
            return None
        if frame_id in self._sensitive:
            if not self.include_sensitive:
                self.counts["sensitive_left_out"] += 1
                return None
            self.counts["sensitive_included"] += 1
        self.counts["images"] += 1
        if self.kind == Export.RAW_IMAGES:  # a 16-bit frame's raw values, not its display image
            return blob_path("raw16", sha, "png") if self._bits == 16 else blob_path("frames", sha, ext)
        derived_sha = self._derived.get(frame_id)
        if derived_sha is None:  # not rendered yet: render it now (faces found on the way)
            derived_sha = served.ensure(Frame.objects.get(pk=frame_id)).sha256
        return blob_path("derived", derived_sha, "jpg")

    def manifest(self, included: bool) -> dict:
        if not included:
            return {"included": False}
        return {"included": True, "kind": self.kind,
                "sensitive": "included (acknowledged by the requester)" if self.include_sensitive else "left out",
                **self.counts}
