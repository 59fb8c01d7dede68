"""In-memory fakes of the dispatcher's ports, for handler tests (the task store and the
transition log have modules of their own)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from dispatcher.adapters.memory_log import MemoryTransitionLog
from dispatcher.adapters.memory_state import MemoryState
from dispatcher.adapters.memory_store import MemoryTaskStore
from dispatcher.domain.errors import EscrowUnavailableError, InsufficientEscrowError
from dispatcher.domain.events import Event
from dispatcher.domain.model import TaskType
from dispatcher.service_layer.ports import RecordedEvent

__all__ = [
    "MemoryState",
    "MemoryTaskStore",
    "MemoryTaskTypes",
    "MemoryTransitionLog",
    "PublishFailedError",
    "RecordingPublisher",
]

_E = TypeVar("_E")


class MemoryTaskTypes:
    def __init__(self) -> None:
        self._types: dict[tuple[str, str], TaskType] = {}

    async def put(self, platform_id: str, task_type: TaskType) -> None:
        self._types[(platform_id, task_type.name)] = task_type

    async def get_many(self, platform_id: str, names: Sequence[str]) -> dict[str, TaskType]:
        found = ((name, self._types.get((platform_id, name))) for name in names)
        return {name: task_type for name, task_type in found if task_type is not None}


class PublishFailedError(Exception):
    """What a `RecordingPublisher` told to fail raises: Kafka did not take the event."""


@dataclass
class RecordingPublisher:
    """Keeps every published event in order. Set `failing` to make `publish` raise, or
    `fail_after` to let that many more events through first."""

    events: list[Event] = field(default_factory=list)
    failing: bool = False
    fail_after: int | None = None

    async def publish(self, event: Event) -> None:
        if self.failing or self.fail_after == 0:
            raise PublishFailedError(f"cannot publish {type(event).__name__}")
        self.events.append(event)
        if self.fail_after is not None:
            self.fail_after -= 1

    async def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.publish(event)

    async def publish_recorded(self, recorded: Sequence[RecordedEvent]) -> None:
        for item in recorded:
            await self.publish(item.event)

    def of_type(self, kind: type[_E]) -> list[_E]:
        return [e for e in self.events if isinstance(e, kind)]


class MemoryEscrow:
    """Payroll's escrow in memory: holds per task id against each platform's funds, all or
    none. A platform whose funds were never set is not limited, for tests about other things."""

    def __init__(self) -> None:
        self.funds: dict[str, int] = {}
        self.holds: dict[str, tuple[str, int]] = {}
        self.unavailable = False

    async def hold(self, platform_id: str, prices: Sequence[tuple[str, int]]) -> None:
        if self.unavailable:
            raise EscrowUnavailableError("memory escrow marked unavailable")
        new = [(t, a) for t, a in prices if t not in self.holds]
        needed = sum(a for _, a in new)
        if platform_id in self.funds:
            if needed > self.funds[platform_id]:
                raise InsufficientEscrowError(self.funds[platform_id], needed)
            self.funds[platform_id] -= needed
        for task_id, amount in new:
            self.holds[task_id] = (platform_id, amount)
