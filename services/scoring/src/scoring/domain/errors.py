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


class ReviewRuleError(ValueError):
    """A review request that breaks a rule of its own (a short explanation, no reason): the
    caller must change the request. `field` names what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ReviewConflictError(Exception):
    """A well-formed review request the review's current state refuses (already decided, the
    appeal window closed)."""


class ReviewNotFoundError(Exception):
    """No review of this submission that the caller may see: unknown, or someone else's."""


class DuplicateLabelError(ValueError):
    """A worker answered the same task twice in one batch of labels to aggregate.

    Counting both would give that worker two votes; which one is meant is the caller's call.
    """

    def __init__(self, task_id: str, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} answered task {task_id} more than once")
        self.task_id = task_id
        self.worker_id = worker_id
