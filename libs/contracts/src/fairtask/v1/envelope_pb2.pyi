import datetime

from fairtask.v1 import events_pb2 as _events_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TraceContext(_message.Message):
    __slots__ = ("traceparent", "tracestate")
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    traceparent: str
    tracestate: str
    def __init__(self, traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("event_id", "type", "occurred_at", "producer", "trace", "task_submitted", "task_offered", "offer_closed", "task_assigned", "lease_released", "task_cancelled", "submission_received", "submission_scored", "payroll_entry_posted", "worker_presence_changed", "onboarding_completed", "submission_reviewed", "worker_eligibility_changed", "answer_wanted", "answers_aggregated")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    TASK_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    TASK_OFFERED_FIELD_NUMBER: _ClassVar[int]
    OFFER_CLOSED_FIELD_NUMBER: _ClassVar[int]
    TASK_ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    LEASE_RELEASED_FIELD_NUMBER: _ClassVar[int]
    TASK_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_SCORED_FIELD_NUMBER: _ClassVar[int]
    PAYROLL_ENTRY_POSTED_FIELD_NUMBER: _ClassVar[int]
    WORKER_PRESENCE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ONBOARDING_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_REVIEWED_FIELD_NUMBER: _ClassVar[int]
    WORKER_ELIGIBILITY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ANSWER_WANTED_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_AGGREGATED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    producer: str
    trace: TraceContext
    task_submitted: _events_pb2.TaskSubmitted
    task_offered: _events_pb2.TaskOffered
    offer_closed: _events_pb2.OfferClosed
    task_assigned: _events_pb2.TaskAssigned
    lease_released: _events_pb2.LeaseReleased
    task_cancelled: _events_pb2.TaskCancelled
    submission_received: _events_pb2.SubmissionReceived
    submission_scored: _events_pb2.SubmissionScored
    payroll_entry_posted: _events_pb2.PayrollEntryPosted
    worker_presence_changed: _events_pb2.WorkerPresenceChanged
    onboarding_completed: _events_pb2.OnboardingCompleted
    submission_reviewed: _events_pb2.SubmissionReviewed
    worker_eligibility_changed: _events_pb2.WorkerEligibilityChanged
    answer_wanted: _events_pb2.AnswerWanted
    answers_aggregated: _events_pb2.AnswersAggregated
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., producer: _Optional[str] = ..., trace: _Optional[_Union[TraceContext, _Mapping]] = ..., task_submitted: _Optional[_Union[_events_pb2.TaskSubmitted, _Mapping]] = ..., task_offered: _Optional[_Union[_events_pb2.TaskOffered, _Mapping]] = ..., offer_closed: _Optional[_Union[_events_pb2.OfferClosed, _Mapping]] = ..., task_assigned: _Optional[_Union[_events_pb2.TaskAssigned, _Mapping]] = ..., lease_released: _Optional[_Union[_events_pb2.LeaseReleased, _Mapping]] = ..., task_cancelled: _Optional[_Union[_events_pb2.TaskCancelled, _Mapping]] = ..., submission_received: _Optional[_Union[_events_pb2.SubmissionReceived, _Mapping]] = ..., submission_scored: _Optional[_Union[_events_pb2.SubmissionScored, _Mapping]] = ..., payroll_entry_posted: _Optional[_Union[_events_pb2.PayrollEntryPosted, _Mapping]] = ..., worker_presence_changed: _Optional[_Union[_events_pb2.WorkerPresenceChanged, _Mapping]] = ..., onboarding_completed: _Optional[_Union[_events_pb2.OnboardingCompleted, _Mapping]] = ..., submission_reviewed: _Optional[_Union[_events_pb2.SubmissionReviewed, _Mapping]] = ..., worker_eligibility_changed: _Optional[_Union[_events_pb2.WorkerEligibilityChanged, _Mapping]] = ..., answer_wanted: _Optional[_Union[_events_pb2.AnswerWanted, _Mapping]] = ..., answers_aggregated: _Optional[_Union[_events_pb2.AnswersAggregated, _Mapping]] = ...) -> None: ...
