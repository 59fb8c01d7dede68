"""Every series scoring exports (the runtime adds the Kafka and DLQ ones)."""

from prometheus_client import Counter, Gauge, Histogram

from fairtask_runtime.answers import MAX_ANSWERS
from scoring.domain.events import AnswersAggregated
from scoring.domain.model import Verdict
from scoring.domain.reviews import RejectionReason, Review, ReviewState

SUBMISSIONS_SCORED = Counter(
    "fairtask_submissions_scored_total", "Submissions scored, by verdict.", ["verdict"]
)
RESULTS_RELEASED = Counter(
    "fairtask_results_released_total", "Accepted results released to their platform."
)
REVIEW_DECISIONS = Counter(
    "fairtask_review_decisions_total",
    "Platform reviews and appeal answers, by outcome and whether a deadline took it.",
    ["decision", "automatic"],
)
REJECTIONS = Counter(
    "fairtask_rejections_total", "Work rejected by its platform, by reason.", ["reason"]
)
APPEALS_FILED = Counter("fairtask_appeals_filed_total", "Appeals workers filed.")
OPEN_REVIEWS = Gauge(
    "fairtask_open_reviews", "Submissions waiting for their platform's review (sampled)."
)
OPEN_APPEALS = Gauge(
    "fairtask_open_appeals", "Appeals waiting for their platform's answer (sampled)."
)

ANSWERS_WANTED = Counter(
    "fairtask_answers_wanted_total",
    "Further answers scoring asked for on tasks that several workers answer.",
)
TASKS_AGGREGATED = Counter(
    "fairtask_tasks_aggregated_total",
    "Tasks with several answers settled, by whether the confidence target was reached.",
    ["confident"],
)
ANSWERS_PER_AGGREGATE = Histogram(
    "fairtask_answers_per_aggregated_task",
    "How many answers a settled task rested on.",
    buckets=tuple(range(1, MAX_ANSWERS + 1)),
)
ANSWERS_ASKED_AGAIN = Counter(
    "fairtask_answers_asked_again_total",
    "Further answers asked for again after waiting long (the dispatcher answers anew).",
)
ANSWERS_WITHDRAWN = Counter(
    "fairtask_answers_withdrawn_total",
    "Tasks settled early because the further answer they waited for was cancelled or expired.",
)
AGGREGATES_RELEASED = Counter(
    "fairtask_aggregates_released_total",
    "Aggregated answers released to their platform (after all the answers they count).",
)

_DECISIONS = (
    ReviewState.APPROVED,
    ReviewState.REJECTED,
    ReviewState.APPEAL_GRANTED,
    ReviewState.APPEAL_UPHELD,
)


def record_review_step(review: Review) -> None:
    """Counts a stored step of a platform review (gold work is checked by scoring itself)."""
    if review.gold:
        return
    if review.state in _DECISIONS:
        REVIEW_DECISIONS.labels(review.state.value, str(review.automatic).lower()).inc()
    if review.state is ReviewState.REJECTED and review.reason is not None:
        REJECTIONS.labels(review.reason.value).inc()
    if review.state is ReviewState.APPEALED:
        APPEALS_FILED.inc()


def record_aggregate(aggregated: AnswersAggregated) -> None:
    """Counts a settlement once, when it is stored (not when it is announced again)."""
    TASKS_AGGREGATED.labels(str(aggregated.confident).lower()).inc()
    ANSWERS_PER_AGGREGATE.observe(aggregated.answers)


# Every label value is exported from the start, so a rate over it is defined before the
# first event.
for _verdict in Verdict:
    SUBMISSIONS_SCORED.labels(_verdict.value)
for _state in _DECISIONS:
    for _automatic in ("true", "false"):
        REVIEW_DECISIONS.labels(_state.value, _automatic)
for _confident in ("true", "false"):
    TASKS_AGGREGATED.labels(_confident)
for _reason in RejectionReason:
    REJECTIONS.labels(_reason.value)
