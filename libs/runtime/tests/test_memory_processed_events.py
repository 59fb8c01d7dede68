"""A consumer's in-process memory of handled events keeps the latest ones, not every event of
its life."""

from fairtask_runtime.kafka.dedupe import MemoryProcessedEvents


async def test_the_latest_events_are_remembered_and_the_oldest_forgotten() -> None:
    processed = MemoryProcessedEvents(kept=3)
    await processed.remember("e-1")
    await processed.remember_many(["e-2", "e-3", "e-4"])

    assert await processed.seen_many(["e-1", "e-2", "e-3", "e-4", "e-5"]) == [
        False,  # the oldest of four, past the three kept
        True,
        True,
        True,
        False,
    ]
    await processed.remember("e-5")
    assert not await processed.seen("e-2")
    assert await processed.seen("e-5")
