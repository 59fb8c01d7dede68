"""Why scoring cannot act on something (yet)."""


class TaskNotKnownError(Exception):
    """A submission names a task whose TaskSubmitted scoring has not consumed yet.

    Transient: tasks.submitted is consumed separately and the event will arrive, so this is an
    ordinary exception the consumer retries with backoff, never a poison message.
    """

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} is not known to scoring yet")
        self.task_id = task_id


class InvalidCursorError(ValueError):
    """A results cursor that scoring never handed out."""


class StoreUnavailableError(Exception):
    """The store behind a port cannot be reached right now; retrying later may succeed."""
