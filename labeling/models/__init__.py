from .access import RawAccessGrant
from .accounts import LoginThrottle
from .annotations import Annotation, AnnotationBox, AnnotationTag
from .audit import AuditEvent, AuditLink, AuditPending, AuditSeal
from .custody import LegalHold, RetentionRun, Tombstone
from .keys import SigningKey, SoftwareBill
from .exports import Export
from .footage import Dataset, DatasetVersion, Frame, IngestJob, Sequence
from .governance import (
    EvaluationChunk,
    EvaluationOutput,
    EvaluationRun,
    EvaluationSet,
    Incident,
    Promotion,
    Quarantine,
)
from .projects import Membership, Project
from .protection import (
    ConsentEvent,
    Exposure,
    ProtectionPolicy,
    ProtectionState,
    SensitivityFlag,
    WellbeingCheckin,
)
from .quality import (
    AgreementChunk,
    AgreementRun,
    FrameAgreement,
    GoldCheck,
    GoldFrame,
    PairAgreement,
    ReviewDecision,
    ReviewItem,
)
from .redaction import (
    DerivedDatasetVersion,
    DerivedFrame,
    FaceScan,
    RedactionChunk,
    RedactionRegion,
    RedactionRun,
)
from .queue import Assignment, Draft, QueueItem
from .sampling import FrameScore, ModelVersion, ScoringChunk, ScoringRun, TrainingRun
from .segments import PropagationRun, Segment, SegmentAgreement
from .shares import Share
from .telemetry import FrameCondition, FrameTelemetry

__all__ = [
    "LegalHold", "RetentionRun", "Tombstone",
    "RawAccessGrant", "Share", "SigningKey", "SoftwareBill",
    "FrameTelemetry", "FrameCondition", "EvaluationSet", "EvaluationRun", "EvaluationChunk",
    "EvaluationOutput", "Promotion", "Incident", "Quarantine",
    "Annotation", "AnnotationBox", "AnnotationTag", "Assignment", "Draft", "QueueItem", "AuditEvent", "AuditLink",
    "AuditPending", "AuditSeal", "Dataset", "DatasetVersion", "Frame", "IngestJob", "Membership", "Project", "Sequence",
    "FrameAgreement", "GoldCheck", "GoldFrame", "PairAgreement", "ReviewDecision", "ReviewItem", "ModelVersion",
    "TrainingRun", "ScoringRun", "ScoringChunk", "FrameScore", "ConsentEvent", "Exposure", "ProtectionPolicy",
    "ProtectionState", "SensitivityFlag", "WellbeingCheckin", "Export", "LoginThrottle", "Segment", "PropagationRun", "SegmentAgreement",
    "AgreementRun", "AgreementChunk", "RedactionRegion", "FaceScan", "DerivedFrame", "RedactionRun", "RedactionChunk", "DerivedDatasetVersion",
]
