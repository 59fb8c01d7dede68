"""Every series scoring exports (the runtime adds the Kafka and DLQ ones)."""

from prometheus_client import Counter, Gauge

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


# Every label value is exported from the start, so a rate over it is defined before the
# first event.
for _verdict in Verdict:
    SUBMISSIONS_SCORED.labels(_verdict.value)
for _state in _DECISIONS:
    for _automatic in ("true", "false"):
        REVIEW_DECISIONS.labels(_state.value, _automatic)
for _reason in RejectionReason:
    REJECTIONS.labels(_reason.value)
