from .annotations import Annotation, AnnotationBox, AnnotationTag
from .audit import AuditEvent
from .footage import Dataset, DatasetVersion, Frame, IngestJob, Sequence
from .projects import Membership, Project

__all__ = [
    "Annotation", "AnnotationBox", "AnnotationTag", "AuditEvent", "Dataset", "DatasetVersion", "Frame",
    "IngestJob", "Membership", "Project", "Sequence",
]
