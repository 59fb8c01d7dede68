import datetime

from fairtask.v1 import events_pb2 as _events_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_QUEUED: _ClassVar[TaskState]
    TASK_STATE_OFFERED: _ClassVar[TaskState]
    TASK_STATE_LEASED: _ClassVar[TaskState]
    TASK_STATE_SUBMITTED: _ClassVar[TaskState]
    TASK_STATE_CANCELLED: _ClassVar[TaskState]
    TASK_STATE_EXPIRED: _ClassVar[TaskState]
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_QUEUED: TaskState
TASK_STATE_OFFERED: TaskState
TASK_STATE_LEASED: TaskState
TASK_STATE_SUBMITTED: TaskState
TASK_STATE_CANCELLED: TaskState
TASK_STATE_EXPIRED: TaskState

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("worker_id", "region", "time_zone", "skills", "availability", "sensitive_opt_in")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_OPT_IN_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    region: str
    time_zone: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    availability: _containers.RepeatedScalarFieldContainer[str]
    sensitive_opt_in: bool
    def __init__(self, worker_id: _Optional[str] = ..., region: _Optional[str] = ..., time_zone: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., availability: _Optional[_Iterable[str]] = ..., sensitive_opt_in: _Optional[bool] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ("worker_id", "token", "expires_at")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, worker_id: _Optional[str] = ..., token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskType(_message.Message):
    __slots__ = ("name", "purpose", "price_micros", "effort_seconds", "skills", "sensitive", "overlap")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    EFFORT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    name: str
    purpose: str
    price_micros: int
    effort_seconds: int
    skills: _containers.RepeatedScalarFieldContainer[str]
    sensitive: bool
    overlap: _events_pb2.Overlap
    def __init__(self, name: _Optional[str] = ..., purpose: _Optional[str] = ..., price_micros: _Optional[int] = ..., effort_seconds: _Optional[int] = ..., skills: _Optional[_Iterable[str]] = ..., sensitive: _Optional[bool] = ..., overlap: _Optional[_Union[_events_pb2.Overlap, _Mapping]] = ...) -> None: ...

class DefineTaskTypeRequest(_message.Message):
    __slots__ = ("task_type",)
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    task_type: TaskType
    def __init__(self, task_type: _Optional[_Union[TaskType, _Mapping]] = ...) -> None: ...

class DefineTaskTypeResponse(_message.Message):
    __slots__ = ("task_type",)
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    task_type: TaskType
    def __init__(self, task_type: _Optional[_Union[TaskType, _Mapping]] = ...) -> None: ...

class NewTask(_message.Message):
    __slots__ = ("client_task_id", "task_type", "payload", "deadline", "gold_answer")
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    GOLD_ANSWER_FIELD_NUMBER: _ClassVar[int]
    client_task_id: str
    task_type: str
    payload: bytes
    deadline: _timestamp_pb2.Timestamp
    gold_answer: str
    def __init__(self, client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., payload: _Optional[bytes] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gold_answer: _Optional[str] = ...) -> None: ...

class SubmitTasksRequest(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[NewTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[NewTask, _Mapping]]] = ...) -> None: ...

class SubmitTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[SubmittedTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[SubmittedTask, _Mapping]]] = ...) -> None: ...

class SubmittedTask(_message.Message):
    __slots__ = ("client_task_id", "task_id", "duplicate")
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    client_task_id: str
    task_id: str
    duplicate: bool
    def __init__(self, client_task_id: _Optional[str] = ..., task_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task_id", "client_task_id", "task_type", "state", "worker_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    client_task_id: str
    task_type: str
    state: TaskState
    worker_id: str
    def __init__(self, task_id: _Optional[str] = ..., client_task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., state: _Optional[_Union[TaskState, str]] = ..., worker_id: _Optional[str] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("task_id", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTaskResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: TaskState
    def __init__(self, state: _Optional[_Union[TaskState, str]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("worker_id", "region", "skills", "time_zone", "availability", "sensitive_opt_in", "token")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_OPT_IN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    region: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    time_zone: str
    availability: _containers.RepeatedScalarFieldContainer[str]
    sensitive_opt_in: bool
    token: str
    def __init__(self, worker_id: _Optional[str] = ..., region: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., time_zone: _Optional[str] = ..., availability: _Optional[_Iterable[str]] = ..., sensitive_opt_in: _Optional[bool] = ..., token: _Optional[str] = ...) -> None: ...

class Accept(_message.Message):
    __slots__ = ("offer_id",)
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    def __init__(self, offer_id: _Optional[str] = ...) -> None: ...

class Decline(_message.Message):
    __slots__ = ("offer_id",)
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    def __init__(self, offer_id: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("lease_id", "draft")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    draft: bytes
    def __init__(self, lease_id: _Optional[str] = ..., draft: _Optional[bytes] = ...) -> None: ...

class Submit(_message.Message):
    __slots__ = ("lease_id", "answer")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    answer: bytes
    def __init__(self, lease_id: _Optional[str] = ..., answer: _Optional[bytes] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("hello", "accept", "decline", "heartbeat", "submit")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    DECLINE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    accept: Accept
    decline: Decline
    heartbeat: Heartbeat
    submit: Submit
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., accept: _Optional[_Union[Accept, _Mapping]] = ..., decline: _Optional[_Union[Decline, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., submit: _Optional[_Union[Submit, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("worker_id", "resumed_lease")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    RESUMED_LEASE_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    resumed_lease: Lease
    def __init__(self, worker_id: _Optional[str] = ..., resumed_lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("offer_id", "task_id", "task_type", "purpose", "price_micros", "effort_seconds", "payload", "expires_at", "offered_at")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    EFFORT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_AT_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    task_id: str
    task_type: str
    purpose: str
    price_micros: int
    effort_seconds: int
    payload: bytes
    expires_at: _timestamp_pb2.Timestamp
    offered_at: _timestamp_pb2.Timestamp
    def __init__(self, offer_id: _Optional[str] = ..., task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., purpose: _Optional[str] = ..., price_micros: _Optional[int] = ..., effort_seconds: _Optional[int] = ..., payload: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., offered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ("lease_id", "task_id", "payload", "draft", "heartbeat_interval_seconds", "task_type", "purpose", "price_micros", "effort_seconds")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    EFFORT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    task_id: str
    payload: bytes
    draft: bytes
    heartbeat_interval_seconds: int
    task_type: str
    purpose: str
    price_micros: int
    effort_seconds: int
    def __init__(self, lease_id: _Optional[str] = ..., task_id: _Optional[str] = ..., payload: _Optional[bytes] = ..., draft: _Optional[bytes] = ..., heartbeat_interval_seconds: _Optional[int] = ..., task_type: _Optional[str] = ..., purpose: _Optional[str] = ..., price_micros: _Optional[int] = ..., effort_seconds: _Optional[int] = ...) -> None: ...

class OfferWithdrawn(_message.Message):
    __slots__ = ("offer_id", "reason")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    reason: str
    def __init__(self, offer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SubmitAccepted(_message.Message):
    __slots__ = ("lease_id", "submission_id")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    submission_id: str
    def __init__(self, lease_id: _Optional[str] = ..., submission_id: _Optional[str] = ...) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    field: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("welcome", "offer", "lease", "offer_withdrawn", "submit_accepted", "error")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    OFFER_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    offer: Offer
    lease: Lease
    offer_withdrawn: OfferWithdrawn
    submit_accepted: SubmitAccepted
    error: StreamError
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., offer: _Optional[_Union[Offer, _Mapping]] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ..., offer_withdrawn: _Optional[_Union[OfferWithdrawn, _Mapping]] = ..., submit_accepted: _Optional[_Union[SubmitAccepted, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ...) -> None: ...
