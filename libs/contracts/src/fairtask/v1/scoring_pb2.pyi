import datetime

from fairtask.v1 import events_pb2 as _events_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchResultsRequest(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    def __init__(self, cursor: _Optional[str] = ...) -> None: ...

class WatchResultsResponse(_message.Message):
    __slots__ = ("cursor", "task_id", "client_task_id", "task_type", "answer", "worker_id", "released_at", "aggregate", "confidence", "answers", "confident")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENT_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    task_id: str
    client_task_id: str
    task_type: str
    answer: bytes
    worker_id: str
    released_at: _timestamp_pb2.Timestamp
    aggregate: bool
    confidence: float
    answers: int
    confident: bool
    def __init__(self, cursor: _Optional[str] = ..., task_id: _Optional[str] = ..., client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., answer: _Optional[bytes] = ..., worker_id: _Optional[str] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., aggregate: _Optional[bool] = ..., confidence: _Optional[float] = ..., answers: _Optional[int] = ..., confident: _Optional[bool] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("submission_id", "task_id", "client_task_id", "task_type", "worker_id", "answer", "state", "paid", "automatic", "reason", "explanation", "result_kept", "appeal_statement", "appeal_answer", "price_micros", "scored_at", "review_due", "decided_at", "appeal_until", "appealed_at", "appeal_due", "appeal_answered_at")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_KEPT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_ANSWER_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DUE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_UNTIL_FIELD_NUMBER: _ClassVar[int]
    APPEALED_AT_FIELD_NUMBER: _ClassVar[int]
    APPEAL_DUE_FIELD_NUMBER: _ClassVar[int]
    APPEAL_ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    task_id: str
    client_task_id: str
    task_type: str
    worker_id: str
    answer: bytes
    state: _events_pb2.ReviewState
    paid: bool
    automatic: bool
    reason: _events_pb2.RejectionReason
    explanation: str
    result_kept: bool
    appeal_statement: str
    appeal_answer: str
    price_micros: int
    scored_at: _timestamp_pb2.Timestamp
    review_due: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    appeal_until: _timestamp_pb2.Timestamp
    appealed_at: _timestamp_pb2.Timestamp
    appeal_due: _timestamp_pb2.Timestamp
    appeal_answered_at: _timestamp_pb2.Timestamp
    def __init__(self, submission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., worker_id: _Optional[str] = ..., answer: _Optional[bytes] = ..., state: _Optional[_Union[_events_pb2.ReviewState, str]] = ..., paid: _Optional[bool] = ..., automatic: _Optional[bool] = ..., reason: _Optional[_Union[_events_pb2.RejectionReason, str]] = ..., explanation: _Optional[str] = ..., result_kept: _Optional[bool] = ..., appeal_statement: _Optional[str] = ..., appeal_answer: _Optional[str] = ..., price_micros: _Optional[int] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appeal_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appealed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appeal_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., appeal_answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPendingReviewsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOpenAppealsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMyReviewsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPendingReviewsResponse(_message.Message):
    __slots__ = ("reviews", "next_page_token")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    next_page_token: str
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListOpenAppealsResponse(_message.Message):
    __slots__ = ("reviews", "next_page_token")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    next_page_token: str
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListMyReviewsResponse(_message.Message):
    __slots__ = ("reviews", "next_page_token")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    next_page_token: str
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Approve(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Reject(_message.Message):
    __slots__ = ("reason", "explanation", "keep_result")
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    KEEP_RESULT_FIELD_NUMBER: _ClassVar[int]
    reason: _events_pb2.RejectionReason
    explanation: str
    keep_result: bool
    def __init__(self, reason: _Optional[_Union[_events_pb2.RejectionReason, str]] = ..., explanation: _Optional[str] = ..., keep_result: _Optional[bool] = ...) -> None: ...

class ReviewSubmissionRequest(_message.Message):
    __slots__ = ("submission_id", "approve", "reject")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    approve: Approve
    reject: Reject
    def __init__(self, submission_id: _Optional[str] = ..., approve: _Optional[_Union[Approve, _Mapping]] = ..., reject: _Optional[_Union[Reject, _Mapping]] = ...) -> None: ...

class ReviewSubmissionResponse(_message.Message):
    __slots__ = ("review",)
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    review: Review
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ...) -> None: ...

class AnswerAppealRequest(_message.Message):
    __slots__ = ("submission_id", "grant", "explanation")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    grant: bool
    explanation: str
    def __init__(self, submission_id: _Optional[str] = ..., grant: _Optional[bool] = ..., explanation: _Optional[str] = ...) -> None: ...

class AnswerAppealResponse(_message.Message):
    __slots__ = ("review",)
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    review: Review
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ...) -> None: ...

class AppealRejectionRequest(_message.Message):
    __slots__ = ("submission_id", "statement")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    statement: str
    def __init__(self, submission_id: _Optional[str] = ..., statement: _Optional[str] = ...) -> None: ...

class AppealRejectionResponse(_message.Message):
    __slots__ = ("review",)
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    review: Review
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ...) -> None: ...
