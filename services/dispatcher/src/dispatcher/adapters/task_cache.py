"""Tasks decoded recently, by id: a task's blob never changes once ingested, and it comes back
from Redis several times in a short while (its offer, its lease, each of its log entries);
decoding it is most of what reading one of those costs."""

from collections import OrderedDict

from dispatcher.adapters.codec import task_from_bytes
from dispatcher.domain.model import Task


class TaskCache:
    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._known: OrderedDict[str, Task] = OrderedDict()

    def get(self, task_id: str, blob: bytes) -> Task:
        """The task `blob` encodes (its event as stored at ingest), decoded once."""
        known = self._known.get(task_id)
        if known is not None:
            return known
        task: Task = task_from_bytes(blob)
        self._known[task_id] = task
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return task
