"""Every series the dispatcher exports."""

from prometheus_client import Counter, Gauge, Histogram

TASKS_SUBMITTED = Counter("fairtask_tasks_submitted_total", "Tasks accepted from platforms.")
SUBMIT_REJECTED = Counter(
    "fairtask_submit_rejected_total", "SubmitTasks calls refused for invalid input."
)
SUBMIT_THROTTLED = Counter(
    "fairtask_submit_throttled_total",
    "SubmitTasks calls refused with RESOURCE_EXHAUSTED: the platform's backlog was full.",
)
OFFERS = Counter("fairtask_offers_total", "Offers pushed to workers.", ["region"])
OFFER_OUTCOMES = Counter(
    "fairtask_offer_outcomes_total", "How offers ended.", ["region", "outcome"]
)
PUSHES_OUTSIDE_WINDOW = Counter(
    "fairtask_pushes_outside_window_total",
    "Offers that reached a worker's connection outside their availability window; held back "
    "and withdrawn (must stay 0: a scheduling bug).",
)
WORK_SECONDS = Counter(
    "fairtask_work_seconds_total",
    "Expected effort of the tasks leased, by the worker's region (the work each region gets).",
    ["region"],
)
ELIGIBLE_WORKER_SECONDS = Counter(
    "fairtask_eligible_worker_seconds_total",
    "Seconds workers connected here spent inside their availability windows, by region.",
    ["region"],
)
QUEUED_TASKS = Gauge(
    "fairtask_queued_tasks",
    "Tasks waiting in the queues of the pools this replica schedules (sum over replicas).",
)
DEADLINE_MISSES = Counter(
    "fairtask_deadline_misses_total",
    "Tasks not done by their deadline (answered late, or expired waiting); feasible=true when "
    "the deadline left at least the task's effort after the platform submitted it.",
    ["feasible"],
)
TASKS_EXPIRED = Counter(
    "fairtask_tasks_expired_total",
    "Tasks whose deadline passed while they waited: never offered again, reported to the "
    "platform as expired, their escrow released.",
)
CONNECTED_WORKERS = Gauge(
    "fairtask_connected_workers", "Workers with an open connection.", ["transport"]
)
SUBMISSIONS = Counter("fairtask_submissions_total", "Submissions received from workers.")
LEASES_RELEASED = Counter(
    "fairtask_leases_released_total", "Leases returned to the queue after the grace period."
)
OFFER_DECISION_SECONDS = Histogram(
    "fairtask_offer_decision_seconds",
    "Time to choose and record one offer.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
SCHEDULED_PARTITIONS = Gauge(
    "fairtask_scheduled_partitions",
    "Partitions of tasks.submitted whose pools this replica schedules (1) or not (0).",
    ["partition"],
)
