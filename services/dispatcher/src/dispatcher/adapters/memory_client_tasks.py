"""Client task ids in memory, for the unit tests and the simulator."""

from collections.abc import Sequence

from dispatcher.service_layer.ports import Accepted


class MemoryClientTaskIds:
    def __init__(self) -> None:
        self._prints: dict[tuple[str, str], str] = {}

    async def fingerprints(
        self, platform_id: str, client_task_ids: Sequence[str]
    ) -> dict[str, str]:
        found = ((c, self._prints.get((platform_id, c))) for c in client_task_ids)
        return {c: printed for c, printed in found if printed is not None}

    async def remember(self, platform_id: str, accepted: Sequence[Accepted]) -> None:
        for a in accepted:
            self._prints.setdefault((platform_id, a.client_task_id), a.fingerprint)
