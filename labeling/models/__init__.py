from .annotations import Annotation, AnnotationBox, AnnotationTag
from .audit import AuditEvent
from .exports import Export
from .footage import Dataset, DatasetVersion, Frame, IngestJob, Sequence
from .projects import Membership, Project
from .quality import FrameAgreement, GoldCheck, GoldFrame, PairAgreement, ReviewDecision, ReviewItem
from .queue import Assignment, Draft, QueueItem
from .sampling import ModelVersion

__all__ = [
    "Annotation", "AnnotationBox", "AnnotationTag", "Assignment", "Draft", "QueueItem", "AuditEvent", "Dataset", "DatasetVersion", "Frame",
    "IngestJob", "Membership", "Project", "Sequence", "FrameAgreement", "GoldCheck", "GoldFrame", "PairAgreement",
    "ReviewDecision", "ReviewItem", "ModelVersion", "Export",
]
