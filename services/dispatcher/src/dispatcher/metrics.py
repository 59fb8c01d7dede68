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
    "Offers pushed outside the worker's availability window (must stay 0).",
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
