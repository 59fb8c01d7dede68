import datetime

from fairtask.v1 import events_pb2 as _events_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EscrowBalance(_message.Message):
    __slots__ = ("platform_id", "deposited_micros", "withdrawn_micros", "spent_micros", "held_micros", "available_micros")
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    DEPOSITED_MICROS_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_MICROS_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_FIELD_NUMBER: _ClassVar[int]
    HELD_MICROS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_MICROS_FIELD_NUMBER: _ClassVar[int]
    platform_id: str
    deposited_micros: int
    withdrawn_micros: int
    spent_micros: int
    held_micros: int
    available_micros: int
    def __init__(self, platform_id: _Optional[str] = ..., deposited_micros: _Optional[int] = ..., withdrawn_micros: _Optional[int] = ..., spent_micros: _Optional[int] = ..., held_micros: _Optional[int] = ..., available_micros: _Optional[int] = ...) -> None: ...

class GetEscrowRequest(_message.Message):
    __slots__ = ("platform_id",)
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    platform_id: str
    def __init__(self, platform_id: _Optional[str] = ...) -> None: ...

class GetEscrowResponse(_message.Message):
    __slots__ = ("escrow",)
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    escrow: EscrowBalance
    def __init__(self, escrow: _Optional[_Union[EscrowBalance, _Mapping]] = ...) -> None: ...

class DepositRequest(_message.Message):
    __slots__ = ("deposit_id", "amount_micros")
    DEPOSIT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    deposit_id: str
    amount_micros: int
    def __init__(self, deposit_id: _Optional[str] = ..., amount_micros: _Optional[int] = ...) -> None: ...

class DepositResponse(_message.Message):
    __slots__ = ("escrow",)
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    escrow: EscrowBalance
    def __init__(self, escrow: _Optional[_Union[EscrowBalance, _Mapping]] = ...) -> None: ...

class WithdrawRequest(_message.Message):
    __slots__ = ("withdrawal_id", "amount_micros")
    WITHDRAWAL_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    withdrawal_id: str
    amount_micros: int
    def __init__(self, withdrawal_id: _Optional[str] = ..., amount_micros: _Optional[int] = ...) -> None: ...

class WithdrawResponse(_message.Message):
    __slots__ = ("escrow",)
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    escrow: EscrowBalance
    def __init__(self, escrow: _Optional[_Union[EscrowBalance, _Mapping]] = ...) -> None: ...

class TaskHold(_message.Message):
    __slots__ = ("task_id", "amount_micros")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    amount_micros: int
    def __init__(self, task_id: _Optional[str] = ..., amount_micros: _Optional[int] = ...) -> None: ...

class HoldForTasksRequest(_message.Message):
    __slots__ = ("platform_id", "holds")
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    platform_id: str
    holds: _containers.RepeatedCompositeFieldContainer[TaskHold]
    def __init__(self, platform_id: _Optional[str] = ..., holds: _Optional[_Iterable[_Union[TaskHold, _Mapping]]] = ...) -> None: ...

class HoldForTasksResponse(_message.Message):
    __slots__ = ("escrow",)
    ESCROW_FIELD_NUMBER: _ClassVar[int]
    escrow: EscrowBalance
    def __init__(self, escrow: _Optional[_Union[EscrowBalance, _Mapping]] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("worker_id",)
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ...) -> None: ...

class StatementLine(_message.Message):
    __slots__ = ("entry_id", "kind", "amount_micros", "paid_seconds", "task_id", "posted_at")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    PAID_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    kind: _events_pb2.EntryKind
    amount_micros: int
    paid_seconds: int
    task_id: str
    posted_at: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[str] = ..., kind: _Optional[_Union[_events_pb2.EntryKind, str]] = ..., amount_micros: _Optional[int] = ..., paid_seconds: _Optional[int] = ..., task_id: _Optional[str] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStatementResponse(_message.Message):
    __slots__ = ("worker_id", "lines", "balance_micros", "tasks_paid", "paid_seconds", "paid_out_micros")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    TASKS_PAID_FIELD_NUMBER: _ClassVar[int]
    PAID_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PAID_OUT_MICROS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    lines: _containers.RepeatedCompositeFieldContainer[StatementLine]
    balance_micros: int
    tasks_paid: int
    paid_seconds: int
    paid_out_micros: int
    def __init__(self, worker_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[StatementLine, _Mapping]]] = ..., balance_micros: _Optional[int] = ..., tasks_paid: _Optional[int] = ..., paid_seconds: _Optional[int] = ..., paid_out_micros: _Optional[int] = ...) -> None: ...

class GetLedgerSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegionEarnings(_message.Message):
    __slots__ = ("region", "earnings_micros", "paid_seconds", "tasks_paid")
    REGION_FIELD_NUMBER: _ClassVar[int]
    EARNINGS_MICROS_FIELD_NUMBER: _ClassVar[int]
    PAID_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASKS_PAID_FIELD_NUMBER: _ClassVar[int]
    region: str
    earnings_micros: int
    paid_seconds: int
    tasks_paid: int
    def __init__(self, region: _Optional[str] = ..., earnings_micros: _Optional[int] = ..., paid_seconds: _Optional[int] = ..., tasks_paid: _Optional[int] = ...) -> None: ...

class GetLedgerSummaryResponse(_message.Message):
    __slots__ = ("balanced", "total_debits_micros", "total_credits_micros", "postings", "regions")
    BALANCED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DEBITS_MICROS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CREDITS_MICROS_FIELD_NUMBER: _ClassVar[int]
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    balanced: bool
    total_debits_micros: int
    total_credits_micros: int
    postings: int
    regions: _containers.RepeatedCompositeFieldContainer[RegionEarnings]
    def __init__(self, balanced: _Optional[bool] = ..., total_debits_micros: _Optional[int] = ..., total_credits_micros: _Optional[int] = ..., postings: _Optional[int] = ..., regions: _Optional[_Iterable[_Union[RegionEarnings, _Mapping]]] = ...) -> None: ...
