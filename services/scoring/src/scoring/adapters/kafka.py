"""Publishing scoring's events as envelopes on their topics."""

import uuid

from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.producer import EventProducer
from scoring.adapters.codec import (
    answer_wanted_to_pb,
    answers_aggregated_to_pb,
    eligibility_to_pb,
    review_step_to_pb,
    scored_to_pb,
)
from scoring.domain.events import (
    AnswersAggregated,
    AnswerWanted,
    EligibilityChange,
    SubmissionScored,
)
from scoring.domain.reviews import Review

SCORED_TOPIC = "submissions.scored"
REVIEWS_TOPIC = "reviews"
QUALITY_TOPIC = "workers.quality"
OVERLAP_TOPIC = "tasks.overlap"
# Review step event ids are derived from (submission, state), so announcing a step again
# after a failure is the same event, which consumers drop as a duplicate.
_REVIEW_STEPS = uuid.UUID("7b0e3f4c-3a51-4d2e-9a0e-5f1d6c2b8e11")
# Likewise a task's overlap steps: (task, answer number) and (task, "aggregated").
_OVERLAP_STEPS = uuid.UUID("4c8a2d9e-6f13-4b70-8e25-0a9d3b7c1f64")


class KafkaScoredEvents:
    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, event: SubmissionScored) -> None:
        # Keyed by worker so payroll sees each worker's events in order on one partition.
        await self._producer.publish(
            SCORED_TOPIC,
            event.submission.worker_id,
            wrap(scored_to_pb(event), producer="scoring", occurred_at=event.scored_at),
        )


def review_step_id(review: Review) -> str:
    return str(uuid.uuid5(_REVIEW_STEPS, f"{review.submission_id}|{review.state.value}"))


class KafkaReviewEvents:
    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, review: Review) -> None:
        occurred_at = review.appeal_answered_at or review.appealed_at or review.decided_at
        await self._producer.publish(
            REVIEWS_TOPIC,
            review.worker_id,
            wrap(
                review_step_to_pb(review),
                producer="scoring",
                occurred_at=occurred_at or review.scored_at,
                event_id=review_step_id(review),
            ),
        )


class KafkaQualityEvents:
    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, change: EligibilityChange) -> None:
        await self._producer.publish(
            QUALITY_TOPIC,
            change.worker_id,
            wrap(eligibility_to_pb(change), producer="scoring", occurred_at=change.changed_at),
        )


def answer_wanted_id(event: AnswerWanted) -> str:
    step = f"{event.task_id}|wanted|{event.answer_number}"
    if event.asked_again:
        step += f"|again|{event.asked_again}"
    return str(uuid.uuid5(_OVERLAP_STEPS, step))


def answers_aggregated_id(event: AnswersAggregated) -> str:
    return str(uuid.uuid5(_OVERLAP_STEPS, f"{event.task_id}|aggregated"))


class KafkaOverlapEvents:
    """tasks.overlap, keyed by the platform's task, so its steps stay in order."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def answer_wanted(self, event: AnswerWanted) -> None:
        await self._producer.publish(
            OVERLAP_TOPIC,
            event.task_id,
            wrap(answer_wanted_to_pb(event), producer="scoring", event_id=answer_wanted_id(event)),
        )

    async def answers_aggregated(self, event: AnswersAggregated) -> None:
        await self._producer.publish(
            OVERLAP_TOPIC,
            event.task_id,
            wrap(
                answers_aggregated_to_pb(event),
                producer="scoring",
                occurred_at=event.aggregated_at,
                event_id=answers_aggregated_id(event),
            ),
        )
