"""Client task ids in memory, for the unit tests."""

from collections.abc import Sequence

from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.domain.model import TaskStatus, task_id_for
from dispatcher.service_layer.ports import (
    Accepted,
    ClientTaskRecord,
    IdState,
    TaskOutcome,
    last_words,
)


class MemoryClientTaskIds:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], ClientTaskRecord] = {}
        # task id -> (client task id, task type) and what became of it
        self.bound: set[str] = set()
        self.names: dict[str, tuple[str, str]] = {}
        self.outcomes: dict[str, TaskOutcome] = {}
        # Tests: False binds ids without their names, as an earlier version did.
        self.named = True
        # Tests: the operations ("start_publishing", "mark_published") that fail as an
        # unreachable PostgreSQL would.
        self.failing: set[str] = set()

    def _reach(self, operation: str) -> None:
        if operation in self.failing:
            raise SubmissionsUnavailableError(f"{operation}: unreachable (test)")

    async def recorded(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, ClientTaskRecord]:
        found = ((c, self.records.get((platform_id, c))) for c in client_task_ids)
        return {
            c: ClientTaskRecord(record.fingerprint, IdState.PUBLISHED)
            if task_id_for(platform_id, c) in self.outcomes
            else record
            for c, record in found
            if record is not None
        }

    async def start_publishing(
        self, platform_id: str, accepted: Sequence[Accepted]
    ) -> dict[str, str]:
        self._reach("start_publishing")
        others = {
            a.client_task_id: record.fingerprint
            for a in accepted
            if (record := self.records.get((platform_id, a.client_task_id))) is not None
            and record.fingerprint != a.fingerprint
        }
        if others:
            return others
        for a in accepted:
            self.records.setdefault(
                (platform_id, a.client_task_id), ClientTaskRecord(a.fingerprint, IdState.PUBLISHING)
            )
            self._name(platform_id, a)
        return {}

    def _name(self, platform_id: str, accepted: Accepted) -> None:
        task_id = task_id_for(platform_id, accepted.client_task_id)
        self.bound.add(task_id)
        if self.named:
            self.names.setdefault(task_id, (accepted.client_task_id, accepted.task_type))

    async def mark_published(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        self._reach("mark_published")
        for a in accepted:
            record = self.records.get((platform_id, a.client_task_id))
            if record is None or record.fingerprint == a.fingerprint:
                self.records[(platform_id, a.client_task_id)] = ClientTaskRecord(
                    a.fingerprint, IdState.PUBLISHED
                )
                self._name(platform_id, a)

    async def record_outcomes(self, outcomes: Sequence[TaskOutcome]) -> None:
        self._reach("record_outcomes")
        for task_id, done in last_words(outcomes).items():
            known = self.outcomes.get(task_id)
            if task_id not in self.bound or (known is not None and known.final):
                continue
            names = self.names.get(task_id, ("", ""))
            if not names[0] and done.client_task_id:
                names = (done.client_task_id, names[1] or done.task_type)
                self.names[task_id] = names
            if names[0] and (known is None or done.final):
                self.outcomes[task_id] = done

    async def outcome(self, platform_id: str, task_id: str) -> TaskStatus | None:
        self._reach("outcome")
        done = self.outcomes.get(task_id)
        client_task_id, task_type = self.names.get(task_id, ("", ""))
        if done is None or task_id_for(platform_id, client_task_id) != task_id:
            return None
        return TaskStatus(task_id, client_task_id, task_type, done.state, done.worker_id)
