"""Client task ids in memory, for the unit tests."""

from collections.abc import Sequence

from dispatcher.domain.errors import SubmissionsUnavailableError
from dispatcher.service_layer.ports import Accepted, ClientTaskRecord


class MemoryClientTaskIds:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], ClientTaskRecord] = {}
        # Tests: the operations ("claim", "mark_published") that fail as an
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

    async def claim(self, platform_id: str, claims: Sequence[Accepted]) -> dict[str, str]:
        self._reach("claim")
        taken: dict[str, str] = {}
        for a in claims:
            key = (platform_id, a.client_task_id)
            if key in self.records:
                taken[a.client_task_id] = self.records[key].fingerprint
            else:
                self.records[key] = ClientTaskRecord(a.fingerprint, published=False)
        return taken

    async def mark_published(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        self._reach("mark_published")
        for a in accepted:
            record = self.records.setdefault(
                (platform_id, a.client_task_id), ClientTaskRecord(a.fingerprint, False)
            )
            if record.fingerprint == a.fingerprint:
                self.records[(platform_id, a.client_task_id)] = ClientTaskRecord(
                    a.fingerprint, published=True
                )
