"""Client task ids in memory, for the unit tests."""

from collections.abc import Sequence

from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.service_layer.ports import Accepted, ClientTaskRecord, IdState


class MemoryClientTaskIds:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], ClientTaskRecord] = {}
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
        return {c: record for c, record in found if record is not None}

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
        return {}

    async def mark_published(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        self._reach("mark_published")
        for a in accepted:
            record = self.records.get((platform_id, a.client_task_id))
            if record is None or record.fingerprint == a.fingerprint:
                self.records[(platform_id, a.client_task_id)] = ClientTaskRecord(
                    a.fingerprint, IdState.PUBLISHED
                )
