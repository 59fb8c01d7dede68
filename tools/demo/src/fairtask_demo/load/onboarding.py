"""Paid onboarding in the demo: before taking work, every worker reads each task type's
instructions and every other worker takes its qualification. Each step is announced on
`workers.onboarding`, as the worker page will once it runs these steps itself; payroll pays the
time at the floor, charged to the task type's platform."""

from collections.abc import Iterable, Sequence
from typing import Protocol

from fairtask.v1 import events_pb2
from fairtask_demo.model import WorkerTally
from fairtask_runtime.envelope import wrap
from fairtask_runtime.kafka.producer import EventProducer

TOPIC = "workers.onboarding"
# Nominal minutes, as a first-time worker would spend them.
INSTRUCTIONS_S = 180
QUALIFICATION_S = 600


class OnboardingPublisher(Protocol):
    async def publish(self, steps: Sequence[events_pb2.OnboardingCompleted]) -> None:
        """Returns once every step is durably announced; raises otherwise."""
        ...


def onboarding_steps(
    tallies: Iterable[WorkerTally], task_types: Sequence[tuple[str, str]], run_tag: str
) -> list[events_pb2.OnboardingCompleted]:
    """The steps each worker takes for each (platform_id, task type), with ids unique per run
    so that publishing them again pays nothing twice."""
    steps = []
    for i, tally in enumerate(tallies):
        profile = tally.profile
        for platform_id, task_type in task_types:
            kinds = [(events_pb2.ONBOARDING_KIND_INSTRUCTIONS, INSTRUCTIONS_S)]
            if i % 2 == 0:
                kinds.append((events_pb2.ONBOARDING_KIND_QUALIFICATION, QUALIFICATION_S))
            steps += [
                events_pb2.OnboardingCompleted(
                    onboarding_id=f"{run_tag}:{profile.worker_id}:{task_type}:{kind}",
                    worker_id=profile.worker_id,
                    region=profile.region,
                    platform_id=platform_id,
                    task_type=task_type,
                    kind=kind,
                    seconds=seconds,
                )
                for kind, seconds in kinds
            ]
    return steps


class KafkaOnboarding:
    """Publishes onboarding steps with the stack's Kafka, keyed by worker."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = EventProducer(bootstrap, client_id="demo-onboarding")

    async def publish(self, steps: Sequence[events_pb2.OnboardingCompleted]) -> None:
        await self._producer.start()
        try:
            await self._producer.publish_many(
                [(TOPIC, s.worker_id, wrap(s, producer="demo")) for s in steps]
            )
        finally:
            await self._producer.stop()
