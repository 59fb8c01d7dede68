import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OfferOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFER_OUTCOME_UNSPECIFIED: _ClassVar[OfferOutcome]
    OFFER_OUTCOME_DECLINED: _ClassVar[OfferOutcome]
    OFFER_OUTCOME_EXPIRED: _ClassVar[OfferOutcome]
    OFFER_OUTCOME_WITHDRAWN: _ClassVar[OfferOutcome]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ACCEPTED: _ClassVar[Verdict]
    VERDICT_GOLD_PASSED: _ClassVar[Verdict]
    VERDICT_GOLD_FAILED: _ClassVar[Verdict]

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_KIND_UNSPECIFIED: _ClassVar[EntryKind]
    ENTRY_KIND_TASK_PAY: _ClassVar[EntryKind]
    ENTRY_KIND_TIME_WORKED: _ClassVar[EntryKind]
    ENTRY_KIND_ONBOARDING: _ClassVar[EntryKind]
    ENTRY_KIND_TOP_UP: _ClassVar[EntryKind]
    ENTRY_KIND_PAYOUT: _ClassVar[EntryKind]

class PresenceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENCE_STATUS_UNSPECIFIED: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_CONNECTED: _ClassVar[PresenceStatus]
    PRESENCE_STATUS_DISCONNECTED: _ClassVar[PresenceStatus]

class OnboardingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ONBOARDING_KIND_UNSPECIFIED: _ClassVar[OnboardingKind]
    ONBOARDING_KIND_QUALIFICATION: _ClassVar[OnboardingKind]
    ONBOARDING_KIND_TRAINING: _ClassVar[OnboardingKind]
    ONBOARDING_KIND_INSTRUCTIONS: _ClassVar[OnboardingKind]

class ReviewState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_STATE_UNSPECIFIED: _ClassVar[ReviewState]
    REVIEW_STATE_PENDING: _ClassVar[ReviewState]
    REVIEW_STATE_APPROVED: _ClassVar[ReviewState]
    REVIEW_STATE_REJECTED: _ClassVar[ReviewState]
    REVIEW_STATE_APPEALED: _ClassVar[ReviewState]
    REVIEW_STATE_APPEAL_GRANTED: _ClassVar[ReviewState]
    REVIEW_STATE_APPEAL_UPHELD: _ClassVar[ReviewState]

class RejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_REASON_UNSPECIFIED: _ClassVar[RejectionReason]
    REJECTION_REASON_INSTRUCTIONS_NOT_FOLLOWED: _ClassVar[RejectionReason]
    REJECTION_REASON_WRONG_ANSWER: _ClassVar[RejectionReason]
    REJECTION_REASON_INCOMPLETE: _ClassVar[RejectionReason]
    REJECTION_REASON_NONSENSE: _ClassVar[RejectionReason]
    REJECTION_REASON_COPIED: _ClassVar[RejectionReason]
OFFER_OUTCOME_UNSPECIFIED: OfferOutcome
OFFER_OUTCOME_DECLINED: OfferOutcome
OFFER_OUTCOME_EXPIRED: OfferOutcome
OFFER_OUTCOME_WITHDRAWN: OfferOutcome
VERDICT_UNSPECIFIED: Verdict
VERDICT_ACCEPTED: Verdict
VERDICT_GOLD_PASSED: Verdict
VERDICT_GOLD_FAILED: Verdict
ENTRY_KIND_UNSPECIFIED: EntryKind
ENTRY_KIND_TASK_PAY: EntryKind
ENTRY_KIND_TIME_WORKED: EntryKind
ENTRY_KIND_ONBOARDING: EntryKind
ENTRY_KIND_TOP_UP: EntryKind
ENTRY_KIND_PAYOUT: EntryKind
PRESENCE_STATUS_UNSPECIFIED: PresenceStatus
PRESENCE_STATUS_CONNECTED: PresenceStatus
PRESENCE_STATUS_DISCONNECTED: PresenceStatus
ONBOARDING_KIND_UNSPECIFIED: OnboardingKind
ONBOARDING_KIND_QUALIFICATION: OnboardingKind
ONBOARDING_KIND_TRAINING: OnboardingKind
ONBOARDING_KIND_INSTRUCTIONS: OnboardingKind
REVIEW_STATE_UNSPECIFIED: ReviewState
REVIEW_STATE_PENDING: ReviewState
REVIEW_STATE_APPROVED: ReviewState
REVIEW_STATE_REJECTED: ReviewState
REVIEW_STATE_APPEALED: ReviewState
REVIEW_STATE_APPEAL_GRANTED: ReviewState
REVIEW_STATE_APPEAL_UPHELD: ReviewState
REJECTION_REASON_UNSPECIFIED: RejectionReason
REJECTION_REASON_INSTRUCTIONS_NOT_FOLLOWED: RejectionReason
REJECTION_REASON_WRONG_ANSWER: RejectionReason
REJECTION_REASON_INCOMPLETE: RejectionReason
REJECTION_REASON_NONSENSE: RejectionReason
REJECTION_REASON_COPIED: RejectionReason

class TaskSubmitted(_message.Message):
    __slots__ = ("task_id", "platform_id", "client_task_id", "task_type", "pool", "purpose", "payload", "effort_seconds", "deadline", "price_micros", "skills", "sensitive", "gold_answer", "submitted_at", "overlap", "answer_of", "answer_number", "answered_by")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EFFORT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    GOLD_ANSWER_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    ANSWER_OF_FIELD_NUMBER: _ClassVar[int]
    ANSWER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    platform_id: str
    client_task_id: str
    task_type: str
    pool: str
    purpose: str
    payload: bytes
    effort_seconds: int
    deadline: _timestamp_pb2.Timestamp
    price_micros: int
    skills: _containers.RepeatedScalarFieldContainer[str]
    sensitive: bool
    gold_answer: str
    submitted_at: _timestamp_pb2.Timestamp
    overlap: Overlap
    answer_of: str
    answer_number: int
    answered_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., pool: _Optional[str] = ..., purpose: _Optional[str] = ..., payload: _Optional[bytes] = ..., effort_seconds: _Optional[int] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., price_micros: _Optional[int] = ..., skills: _Optional[_Iterable[str]] = ..., sensitive: _Optional[bool] = ..., gold_answer: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overlap: _Optional[_Union[Overlap, _Mapping]] = ..., answer_of: _Optional[str] = ..., answer_number: _Optional[int] = ..., answered_by: _Optional[_Iterable[str]] = ...) -> None: ...

class Overlap(_message.Message):
    __slots__ = ("min_answers", "max_answers", "confidence_target", "answer_classes")
    MIN_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    MAX_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_TARGET_FIELD_NUMBER: _ClassVar[int]
    ANSWER_CLASSES_FIELD_NUMBER: _ClassVar[int]
    min_answers: int
    max_answers: int
    confidence_target: float
    answer_classes: int
    def __init__(self, min_answers: _Optional[int] = ..., max_answers: _Optional[int] = ..., confidence_target: _Optional[float] = ..., answer_classes: _Optional[int] = ...) -> None: ...

class TaskOffered(_message.Message):
    __slots__ = ("offer_id", "task_id", "worker_id", "region", "expires_at")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    task_id: str
    worker_id: str
    region: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, offer_id: _Optional[str] = ..., task_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OfferClosed(_message.Message):
    __slots__ = ("offer_id", "task_id", "worker_id", "outcome")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    task_id: str
    worker_id: str
    outcome: OfferOutcome
    def __init__(self, offer_id: _Optional[str] = ..., task_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., outcome: _Optional[_Union[OfferOutcome, str]] = ...) -> None: ...

class TaskAssigned(_message.Message):
    __slots__ = ("lease_id", "task_id", "worker_id", "region", "offer_id", "leased_at")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASED_AT_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    task_id: str
    worker_id: str
    region: str
    offer_id: str
    leased_at: _timestamp_pb2.Timestamp
    def __init__(self, lease_id: _Optional[str] = ..., task_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., offer_id: _Optional[str] = ..., leased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeaseReleased(_message.Message):
    __slots__ = ("lease_id", "task_id", "worker_id", "region", "platform_id", "task_type", "worked_seconds", "reason")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    task_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    worked_seconds: int
    reason: str
    def __init__(self, lease_id: _Optional[str] = ..., task_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., platform_id: _Optional[str] = ..., task_type: _Optional[str] = ..., worked_seconds: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class TaskCancelled(_message.Message):
    __slots__ = ("task_id", "platform_id", "reason", "answer_of")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ANSWER_OF_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    platform_id: str
    reason: str
    answer_of: str
    def __init__(self, task_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., reason: _Optional[str] = ..., answer_of: _Optional[str] = ...) -> None: ...

class SubmissionReceived(_message.Message):
    __slots__ = ("submission_id", "task_id", "lease_id", "worker_id", "region", "platform_id", "client_task_id", "task_type", "answer", "worked_seconds", "effort_seconds", "price_micros", "submitted_at")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    WORKED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EFFORT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    task_id: str
    lease_id: str
    worker_id: str
    region: str
    platform_id: str
    client_task_id: str
    task_type: str
    answer: bytes
    worked_seconds: int
    effort_seconds: int
    price_micros: int
    submitted_at: _timestamp_pb2.Timestamp
    def __init__(self, submission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., lease_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., platform_id: _Optional[str] = ..., client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., answer: _Optional[bytes] = ..., worked_seconds: _Optional[int] = ..., effort_seconds: _Optional[int] = ..., price_micros: _Optional[int] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubmissionScored(_message.Message):
    __slots__ = ("submission_id", "task_id", "worker_id", "region", "platform_id", "task_type", "verdict", "gold", "price_micros", "worked_seconds", "scored_at")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    GOLD_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    WORKED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    task_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    verdict: Verdict
    gold: bool
    price_micros: int
    worked_seconds: int
    scored_at: _timestamp_pb2.Timestamp
    def __init__(self, submission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., platform_id: _Optional[str] = ..., task_type: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., gold: _Optional[bool] = ..., price_micros: _Optional[int] = ..., worked_seconds: _Optional[int] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PayrollEntryPosted(_message.Message):
    __slots__ = ("entry_id", "worker_id", "region", "kind", "amount_micros", "paid_seconds", "source_event_id")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    PAID_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    worker_id: str
    region: str
    kind: EntryKind
    amount_micros: int
    paid_seconds: int
    source_event_id: str
    def __init__(self, entry_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ..., amount_micros: _Optional[int] = ..., paid_seconds: _Optional[int] = ..., source_event_id: _Optional[str] = ...) -> None: ...

class WorkerPresenceChanged(_message.Message):
    __slots__ = ("worker_id", "region", "status", "at")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    region: str
    status: PresenceStatus
    at: _timestamp_pb2.Timestamp
    def __init__(self, worker_id: _Optional[str] = ..., region: _Optional[str] = ..., status: _Optional[_Union[PresenceStatus, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OnboardingCompleted(_message.Message):
    __slots__ = ("onboarding_id", "worker_id", "region", "platform_id", "task_type", "kind", "seconds", "completed_at")
    ONBOARDING_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    onboarding_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    kind: OnboardingKind
    seconds: int
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, onboarding_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., platform_id: _Optional[str] = ..., task_type: _Optional[str] = ..., kind: _Optional[_Union[OnboardingKind, str]] = ..., seconds: _Optional[int] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubmissionReviewed(_message.Message):
    __slots__ = ("submission_id", "task_id", "worker_id", "region", "platform_id", "task_type", "price_micros", "worked_seconds", "gold", "state", "paid", "automatic", "reason", "explanation", "result_kept", "appeal_statement", "appeal_answer", "scored_at", "review_due", "decided_at", "appeal_until", "appealed_at", "appeal_due", "appeal_answered_at")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    WORKED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    GOLD_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_KEPT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_ANSWER_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DUE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_UNTIL_FIELD_NUMBER: _ClassVar[int]
    APPEALED_AT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_DUE_FIELD_NUMBER: _ClassVar[int]
    APPEAL_ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    task_id: str
    worker_id: str
    region: str
    platform_id: str
    task_type: str
    price_micros: int
    worked_seconds: int
    gold: bool
    state: ReviewState
    paid: bool
    automatic: bool
    reason: RejectionReason
    explanation: str
    result_kept: bool
    appeal_statement: str
    appeal_answer: str
    scored_at: _timestamp_pb2.Timestamp
    review_due: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    appeal_until: _timestamp_pb2.Timestamp
    appealed_at: _timestamp_pb2.Timestamp
    appeal_due: _timestamp_pb2.Timestamp
    appeal_answered_at: _timestamp_pb2.Timestamp
    def __init__(self, submission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., region: _Optional[str] = ..., platform_id: _Optional[str] = ..., task_type: _Optional[str] = ..., price_micros: _Optional[int] = ..., worked_seconds: _Optional[int] = ..., gold: _Optional[bool] = ..., state: _Optional[_Union[ReviewState, str]] = ..., paid: _Optional[bool] = ..., automatic: _Optional[bool] = ..., reason: _Optional[_Union[RejectionReason, str]] = ..., explanation: _Optional[str] = ..., result_kept: _Optional[bool] = ..., appeal_statement: _Optional[str] = ..., appeal_answer: _Optional[str] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appeal_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appealed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appeal_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appeal_answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WorkerEligibilityChanged(_message.Message):
    __slots__ = ("worker_id", "platform_id", "task_type", "eligible", "quality", "gold_passed", "gold_failed", "changed_at")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    GOLD_PASSED_FIELD_NUMBER: _ClassVar[int]
    GOLD_FAILED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    platform_id: str
    task_type: str
    eligible: bool
    quality: float
    gold_passed: int
    gold_failed: int
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, worker_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., task_type: _Optional[str] = ..., eligible: _Optional[bool] = ..., quality: _Optional[float] = ..., gold_passed: _Optional[int] = ..., gold_failed: _Optional[int] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AnswerWanted(_message.Message):
    __slots__ = ("task_id", "platform_id", "answer_number", "answer_task_id", "answered_by")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ANSWER_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    platform_id: str
    answer_number: int
    answer_task_id: str
    answered_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., answer_number: _Optional[int] = ..., answer_task_id: _Optional[str] = ..., answered_by: _Optional[_Iterable[str]] = ...) -> None: ...

class AnswersAggregated(_message.Message):
    __slots__ = ("task_id", "platform_id", "client_task_id", "task_type", "answer", "confidence", "answers", "confident", "submission_ids", "unused_task_ids", "aggregated_at")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENT_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_IDS_FIELD_NUMBER: _ClassVar[int]
    UNUSED_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATED_AT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    platform_id: str
    client_task_id: str
    task_type: str
    answer: str
    confidence: float
    answers: int
    confident: bool
    submission_ids: _containers.RepeatedScalarFieldContainer[str]
    unused_task_ids: _containers.RepeatedScalarFieldContainer[str]
    aggregated_at: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., answer: _Optional[str] = ..., confidence: _Optional[float] = ..., answers: _Optional[int] = ..., confident: _Optional[bool] = ..., submission_ids: _Optional[_Iterable[str]] = ..., unused_task_ids: _Optional[_Iterable[str]] = ..., aggregated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
