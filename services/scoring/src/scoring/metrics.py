"""Every series scoring exports (the runtime adds the Kafka and DLQ ones)."""

from prometheus_client import Counter

from scoring.domain.model import Verdict

SUBMISSIONS_SCORED = Counter(
    "fairtask_submissions_scored_total", "Submissions scored, by verdict.", ["verdict"]
)
RESULTS_RELEASED = Counter(
    "fairtask_results_released_total", "Accepted results released to their platform."
)

# Every verdict is exported from the start, so a rate over it is defined before the first one.
for _verdict in Verdict:
    SUBMISSIONS_SCORED.labels(_verdict.value)
